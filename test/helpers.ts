// Shared test helpers: GPU setup per file, tolerance comparison that prints the first mismatches, oracles.
import { afterAll, beforeAll, expect, type TestContext } from 'vitest';
import { evaluateReference, info, init, readLeaves, release, type Tensor } from '../src/index.js';

/** Opens the engine for this test file and says which adapter runs the GPU numerics. Fails if none is found. */
export function useGpu(): void {
  beforeAll(async () => {
    // Poisoned buffers: a kernel that leaves part of its output unwritten fails here instead of reading zeros.
    const info = await init({ poisonBuffers: true });
    console.log(`GPU numerics on adapter: ${info.backend} (${info.description})`);
  });
  afterAll(() => release());
}

/**
 * Skips the running test, with the reason in the report and the log, when the adapter lacks `feature` (a
 * kernel variant that needs it, e.g. 'subgroups'): such tests never pass silently where they cannot run.
 */
export function requireFeature(ctx: TestContext, feature: string): void {
  const { features, backend, description } = info();
  if (features.includes(feature)) return;
  const reason = `the ${backend} adapter (${description}) lacks the '${feature}' feature`;
  console.log(`skipped: ${ctx.task.name}: ${reason}`);
  ctx.skip(reason);
}

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** Asserts |got - ref| <= atol + rtol * |ref| elementwise; on failure lists the first mismatches. */
export function expectClose(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  tol: Tolerance,
  label = '',
): void {
  expect(got.length, `${label}: length`).toBe(ref.length);
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < ref.length; i++) {
    const ok = Math.abs(got[i] - ref[i]) <= tol.atol + tol.rtol * Math.abs(ref[i]);
    if (!ok) {
      count++;
      if (bad.length < 8) bad.push(`[${i}] got ${got[i]}, expected ${ref[i]}`);
    }
  }
  if (count > 0) {
    expect.fail(
      `${label}: ${count} of ${ref.length} elements differ (atol ${tol.atol}, rtol ${tol.rtol}):\n  ${bad.join('\n  ')}`,
    );
  }
}

/** Runs `outputs` on the device and with the float64 reference of the same graph, and compares them. */
export async function expectMatchesReference(
  outputs: readonly Tensor[],
  tol: Tolerance,
  label = '',
): Promise<void> {
  const leaves = await readLeaves(outputs);
  const refs = evaluateReference(outputs, leaves);
  for (let i = 0; i < outputs.length; i++) {
    const got = outputs[i].dtype === 'int32' ? await outputs[i].int32Data() : await outputs[i].data();
    expectClose(got, refs[i].data, tol, `${label} output ${i}`);
  }
}

/** Seeded values in [-1, 1) without a device. */
export function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}
