// Leaf tensors from values: tensor, zeros, ones, full, randn, uniform (seeded).
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { sizeOf, type DType } from '../ops/types.js';
import { Rng } from './random.js';
import { flush } from './scheduler.js';
import { Storage, state } from './state.js';
import { Tensor } from './tensor.js';

export interface LeafOptions {
  /** Fill `.grad` on backward() (default false). */
  requiresGrad?: boolean;
  /** Element type (default float32). */
  dtype?: DType;
}

export interface RandomOptions extends LeafOptions {
  /** Seed of the generator: the same seed gives the same values on every run and adapter. */
  seed?: number;
}

function checkShape(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeError(
      `${op}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`,
    );
  }
}

/** Makes a leaf whose values are uploaded now (or at the first flush if the engine is not yet up). */
function leaf(
  op: string,
  values: Float32Array | Int32Array,
  shape: readonly number[],
  options: LeafOptions,
): Tensor {
  const dtype = options.dtype ?? 'float32';
  if (options.requiresGrad && dtype !== 'float32') {
    throw new ArgumentError(`${op}: requiresGrad needs dtype float32, got ${dtype}`);
  }
  const storage = new Storage(values.length * 4);
  const runtime = state.runtime;
  if (runtime && values.length > 0) {
    storage.buffer = runtime.pool.acquire(storage.bytes);
    runtime.device.queue.writeBuffer(storage.buffer, 0, values.buffer, values.byteOffset, values.byteLength);
  } else {
    storage.upload = values;
  }
  return new Tensor(shape, dtype, storage, null, 0, options.requiresGrad ?? false);
}

/**
 * A tensor from values (row-major). Shapes: `values.length` must equal the product of `shape`.
 * Non-finite values are allowed; NaN checks are the caller's business.
 */
export function tensor(
  values: ArrayLike<number>,
  shape: readonly number[] = [values.length],
  options: LeafOptions = {},
): Tensor {
  checkShape('tensor', shape);
  if (values.length !== sizeOf(shape)) {
    throw new ShapeError(
      `tensor: ${values.length} values do not fill shape ${fmtShape(shape)} (${sizeOf(shape)})`,
    );
  }
  const dtype = options.dtype ?? 'float32';
  const typed = dtype === 'int32' ? Int32Array.from(values) : Float32Array.from(values);
  return leaf('tensor', typed, shape, options);
}

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number, options: LeafOptions = {}): Tensor {
  checkShape('full', shape);
  const n = sizeOf(shape);
  const typed = options.dtype === 'int32' ? new Int32Array(n).fill(value) : new Float32Array(n).fill(value);
  return leaf('full', typed, shape, options);
}

export function zeros(shape: readonly number[], options: LeafOptions = {}): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: readonly number[], options: LeafOptions = {}): Tensor {
  return full(shape, 1, options);
}

/** Normal samples with mean 0 and standard deviation `std` (default 1). */
export function randn(shape: readonly number[], options: RandomOptions & { std?: number } = {}): Tensor {
  checkShape('randn', shape);
  const rng = new Rng(options.seed ?? 0);
  const std = options.std ?? 1;
  const values = new Float32Array(sizeOf(shape));
  for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
  return leaf('randn', values, shape, options);
}

/** Uniform samples in [low, high) (default [0, 1)). */
export function uniform(
  shape: readonly number[],
  options: RandomOptions & { low?: number; high?: number } = {},
): Tensor {
  checkShape('uniform', shape);
  const rng = new Rng(options.seed ?? 0);
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  if (!Number.isFinite(low) || !Number.isFinite(high) || high < low) {
    throw new ArgumentError(`uniform: need finite low <= high, got low=${low}, high=${high}`);
  }
  const values = new Float32Array(sizeOf(shape));
  for (let i = 0; i < values.length; i++) values[i] = low + (high - low) * rng.next();
  return leaf('uniform', values, shape, options);
}

/**
 * Overwrites a leaf's values (loading weights). Pending work that reads the old values runs first.
 * Shapes: `values.length` must equal `t.size`.
 */
export function assignValues(t: Tensor, values: ArrayLike<number>): void {
  t.assertUsable('assignValues', 't');
  if (t.node)
    throw new ArgumentError(`assignValues: argument 't' must be a leaf tensor, got ${t.toString()}`);
  if (values.length !== t.size) {
    throw new ShapeError(
      `assignValues: ${values.length} values do not fill ${fmtShape(t.shape)} (${t.size})`,
    );
  }
  const typed = t.dtype === 'int32' ? Int32Array.from(values) : Float32Array.from(values);
  const runtime = state.runtime;
  if (!runtime) {
    t.storage.upload = typed;
    return;
  }
  if (state.pending.length > 0) flush();
  t.storage.buffer ??= runtime.pool.acquire(t.storage.bytes);
  t.storage.upload = null;
  runtime.device.queue.writeBuffer(t.storage.buffer, 0, typed.buffer, typed.byteOffset, typed.byteLength);
}
