// Scopes for tensor lifetimes: tidy() disposes every tensor created inside it except what it returns.
import { ArgumentError } from '../errors.js';
import { state } from './state.js';
import type { Tensor } from './tensor.js';

function collect(value: unknown, out: Set<Tensor>, depth = 0): void {
  if (depth > 8 || value === null || typeof value !== 'object') return;
  if ('storage' in value && 'shape' in value && 'dispose' in value) {
    out.add(value as Tensor);
    return;
  }
  const items = Array.isArray(value)
    ? value
    : value instanceof Map
      ? [...value.values()]
      : Object.values(value);
  for (const v of items) collect(v, out, depth + 1);
}

/** An open scope: every tensor created until `close` is recorded, and `close` disposes all but `keep`. */
export interface Scope {
  close(keep?: unknown): void;
}

/**
 * Opens a scope that spans awaits (tidy cannot): tensors created meanwhile, in any code, belong to it.
 * Close scopes in the reverse order of opening.
 */
export function openScope(): Scope {
  const scope = new Set<Tensor>();
  state.scopes.push(scope);
  return {
    close(result?: unknown) {
      const i = state.scopes.lastIndexOf(scope);
      if (i >= 0) state.scopes.splice(i, 1);
      const kept = new Set<Tensor>();
      collect(result, kept);
      const parent = state.scopes.at(-1);
      for (const t of scope) {
        if (!kept.has(t)) t.dispose();
        else if (parent) parent.add(t);
        // No scope holds it any more: from now on it may be garbage-collected (Tensor.watch).
        else t.watch();
      }
    },
  };
}

/**
 * Runs `fn` and disposes every tensor it created, except tensors in its result (found in arrays and plain
 * objects) and tensors passed to `keep`. Pending work that needs a disposed tensor still gets its value.
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new ArgumentError('tidy: argument must be a function');
  const scope = openScope();
  let result: T | undefined;
  try {
    result = fn();
  } finally {
    scope.close(result);
  }
  if (result instanceof Promise) {
    throw new ArgumentError('tidy: the function must be synchronous (await outside tidy)');
  }
  return result;
}

/** Exempts a tensor from every open tidy scope. */
export function keep<T extends Tensor>(t: T): T {
  t.leaveScopes();
  return t;
}
