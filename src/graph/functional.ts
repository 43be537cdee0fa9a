// The functional gradient API beside backward(): grad, valueAndGrad (gradients as tensors, no `.grad` touched)
// and noGrad (run code without recording gradients).
import { ArgumentError, ShapeError } from '../errors.js';
import { fill } from '../ops/fill.js';
import { gradients } from './autograd.js';
import { state } from './state.js';
import { Tensor } from './tensor.js';

export interface GradOptions {
  /** Which arguments to differentiate: one index (the result is one tensor) or a list (a list). Default 0. */
  argnums?: number | readonly number[];
}

function argnumList(op: string, argnums: GradOptions['argnums'], count: number): number[] {
  const list = argnums === undefined ? [0] : typeof argnums === 'number' ? [argnums] : [...argnums];
  list.forEach((k) => {
    if (!Number.isInteger(k) || k < 0 || k >= count)
      throw new ArgumentError(`${op}: argnums ${JSON.stringify(argnums)} name no argument of ${count}`);
  });
  if (new Set(list).size !== list.length)
    throw new ArgumentError(`${op}: argnums ${JSON.stringify(argnums)} repeat`);
  return list;
}

/**
 * Calls fn with the arguments at `argnums` differentiable (leaves get requiresGrad for the call; computed
 * tensors must already need gradients) and returns its value with their gradients.
 */
function run<T extends unknown[]>(
  op: string,
  fn: (...args: T) => Tensor,
  options: GradOptions,
  args: T,
): { value: Tensor; grads: Tensor[] } {
  const nums = argnumList(op, options.argnums, args.length);
  const targets = nums.map((k) => {
    const t = args[k];
    if (!(t instanceof Tensor))
      throw new ArgumentError(`${op}: argument ${k} must be a Tensor, got ${String(t)}`);
    if (t.dtype !== 'float32')
      throw new ArgumentError(`${op}: argument ${k} must be float32, got ${t.dtype}`);
    if (t.node && !t.needsGrad)
      throw new ArgumentError(
        `${op}: argument ${k} is computed from tensors that need no gradient; pass a leaf`,
      );
    return t;
  });
  const saved = targets.map((t) => t.requiresGrad);
  targets.forEach((t) => {
    if (!t.node) t.requiresGrad = true;
  });
  try {
    const value = fn(...args);
    if (!(value instanceof Tensor))
      throw new ArgumentError(`${op}: fn must return a Tensor, got ${String(value)}`);
    if (value.size !== 1)
      throw new ShapeError(
        `${op}: fn must return a one-element tensor, got shape [${value.shape.join(',')}]`,
      );
    const map = value.needsGrad ? gradients(value, undefined, op) : new Map<Tensor, Tensor>();
    return { value, grads: targets.map((t) => map.get(t) ?? fill(t.shape, 0)) };
  } finally {
    targets.forEach((t, i) => (t.requiresGrad = saved[i]));
  }
}

/**
 * `grad(fn, { argnums })(...args)`: the gradient of fn's one-element result with respect to the arguments at
 * argnums (default 0), as new tensors; `.grad` of every tensor stays as it was. Shapes: each gradient has its
 * argument's shape (zeros where fn does not depend on it).
 */
export function grad<T extends unknown[]>(
  fn: (...args: T) => Tensor,
  options: GradOptions = {},
): (...args: T) => Tensor | Tensor[] {
  return (...args: T) => {
    const { grads } = run('grad', fn, options, args);
    return typeof options.argnums === 'object' ? grads : grads[0];
  };
}

/** As `grad`, returning `{ value, grads }` (grads a tensor or a list, as argnums). */
export function valueAndGrad<T extends unknown[]>(
  fn: (...args: T) => Tensor,
  options: GradOptions = {},
): (...args: T) => { value: Tensor; grads: Tensor | Tensor[] } {
  return (...args: T) => {
    const { value, grads } = run('valueAndGrad', fn, options, args);
    return { value, grads: typeof options.argnums === 'object' ? grads : grads[0] };
  };
}

/** Runs fn without recording gradients: tensors it computes need none (inference, metrics, EMA updates). */
export function noGrad<R>(fn: () => R): R {
  state.noGrad++;
  try {
    return fn();
  } finally {
    state.noGrad--;
  }
}
