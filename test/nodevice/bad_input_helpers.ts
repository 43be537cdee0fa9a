// Shared checks of the bad-input catalogue: a call is refused with a typed error, and the engine still works.
import { expect } from 'vitest';
import { add, evaluateReference, mul, relu, sum, tensor, type WebgradError } from '../../src/index.js';

/** A valid graph still records and its float64 reference gives the exact answer. */
export function expectStillWorks(): void {
  const a = tensor([1, 2, 3, 4], [2, 2]);
  const b = tensor([0.5, -1], [2]);
  const y = sum(mul(relu(add(a, b)), a));
  const leaves = new Map([
    [a, Float64Array.from([1, 2, 3, 4])],
    [b, Float64Array.from([0.5, -1])],
  ]);
  // relu(a + b) = [1.5, 1, 3.5, 3]; times a = [1.5, 2, 10.5, 12].
  expect(Array.from(evaluateReference([y], leaves)[0].data)).toEqual([26]);
}

type ErrorClass = abstract new (...args: never[]) => WebgradError;

/** `fn` throws `Class` with a message matching `pattern`, and the engine still works afterwards. */
export function expectRefused(fn: () => unknown, Class: ErrorClass, pattern: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected ${Class.name} matching ${pattern}`).toBeInstanceOf(Class);
  expect((thrown as Error).message).toMatch(pattern);
  expectStillWorks();
}

/** The promise `fn` returns rejects with `Class` and a message matching `pattern`; the engine still works. */
export async function expectRejected(
  fn: () => Promise<unknown>,
  Class: ErrorClass,
  pattern: RegExp,
): Promise<void> {
  let thrown: unknown;
  try {
    await fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected ${Class.name} matching ${pattern}`).toBeInstanceOf(Class);
  expect((thrown as Error).message).toMatch(pattern);
  expectStillWorks();
}
