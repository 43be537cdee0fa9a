// Leaf tensors from values: tensor, zeros, ones, full, randn, uniform (seeded), and assignValues.
import { ArgumentError, LimitError, ShapeError, fmtShape } from '../errors.js';
import { checkBufferBytes, fmtBytes } from '../gpu/limits.js';
import { sizeOf, type DType } from '../ops/types.js';
import { checkOptionKeys } from '../options.js';
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

const DTYPES: readonly DType[] = ['float32', 'int32'];
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function checkShape(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new ShapeError(
      `${op}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`,
    );
  }
}

/** Checks the options object and returns its dtype. */
function leafOptions(op: string, options: LeafOptions, known: readonly string[] = []): DType {
  checkOptionKeys(op, options, ['requiresGrad', 'dtype', ...known]);
  const dtype = options.dtype ?? 'float32';
  if (!DTYPES.includes(dtype)) {
    throw new ArgumentError(
      `${op}: dtype must be one of ${DTYPES.join(', ')}, got ${JSON.stringify(options.dtype)}`,
    );
  }
  if (options.requiresGrad !== undefined && typeof options.requiresGrad !== 'boolean') {
    throw new ArgumentError(
      `${op}: requiresGrad must be a boolean, got ${JSON.stringify(options.requiresGrad)}`,
    );
  }
  if (options.requiresGrad && dtype !== 'float32') {
    throw new ArgumentError(`${op}: requiresGrad needs dtype float32, got ${dtype}`);
  }
  return dtype;
}

/**
 * Checks that `shape`'s values fit the device (when the engine is up) and allocates the host array for them;
 * both happen before any large allocation, so an oversized request fails with a LimitError, not an out-of-memory
 * crash.
 */
function allocate(op: string, shape: readonly number[], dtype: DType): Float32Array | Int32Array {
  const n = sizeOf(shape);
  const runtime = state.runtime;
  if (runtime) {
    runtime.assertRunning(op);
    checkBufferBytes(`${op}: tensor ${fmtShape(shape)}`, n * 4, runtime.info.limits, false);
  }
  try {
    return dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
  } catch (e) {
    throw new LimitError(
      `${op}: tensor ${fmtShape(shape)} needs ${fmtBytes(n * 4)} of host memory, which could not be allocated (${String(e)})`,
      'host memory',
      n * 4,
    );
  }
}

/**
 * Copies user values into `out`, refusing what would change silently: non-numbers (nested arrays, strings),
 * and for int32 fractions or values outside the int32 range.
 */
function copyValues(op: string, values: ArrayLike<number>, out: Float32Array | Int32Array): void {
  const int = out instanceof Int32Array;
  if (ArrayBuffer.isView(values) && !int) {
    out.set(values);
    return;
  }
  for (let i = 0; i < out.length; i++) out[i] = checkValue(op, `values[${i}]`, values[i], int);
}

/** `v` if it is a number (an int32 when `int`), else ArgumentError naming `what`. */
function checkValue(op: string, what: string, v: unknown, int: boolean): number {
  if (typeof v !== 'number') {
    throw new ArgumentError(
      `${op}: ${what} is ${Array.isArray(v) ? 'an array' : typeof v}, expected a number (pass values flat; the shape gives the dimensions)`,
    );
  }
  if (int && !(Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX)) {
    throw new ArgumentError(`${op}: ${what} = ${v} is not an int32 (an integer in [-2^31, 2^31))`);
  }
  return v;
}

/** Makes a leaf whose values are uploaded at the next flush (the first one if the engine is not yet up). */
function leaf(
  values: Float32Array | Int32Array,
  shape: readonly number[],
  dtype: DType,
  options: LeafOptions,
): Tensor {
  const storage = new Storage(values.length * 4);
  storage.upload = values;
  if (values instanceof Int32Array) storage.host = values;
  return new Tensor(shape, dtype, storage, null, 0, options.requiresGrad ?? false);
}

/**
 * A tensor from values (row-major, a flat array or typed array). Shapes: `values.length` must equal the product
 * of `shape`. Non-finite float values are allowed (`debug.checkFinite` reports them); int32 values must be
 * integers in the int32 range.
 */
export function tensor(
  values: ArrayLike<number>,
  shape?: readonly number[],
  options: LeafOptions = {},
): Tensor {
  const dtype = leafOptions('tensor', options);
  if (typeof values !== 'object' || values === null || typeof values.length !== 'number') {
    throw new ArgumentError(
      `tensor: values must be an array or typed array of numbers, got ${String(values)}`,
    );
  }
  if (Array.isArray(values[0])) {
    throw new ArgumentError(
      'tensor: values is a nested array; pass the values flat, the shape gives the dimensions',
    );
  }
  const dims = shape ?? [values.length];
  checkShape('tensor', dims);
  if (values.length !== sizeOf(dims)) {
    throw new ShapeError(
      `tensor: ${values.length} values do not fill shape ${fmtShape(dims)} (${sizeOf(dims)})`,
    );
  }
  const typed = allocate('tensor', dims, dtype);
  copyValues('tensor', values, typed);
  return leaf(typed, dims, dtype, options);
}

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number, options: LeafOptions = {}): Tensor {
  const dtype = leafOptions('full', options);
  checkShape('full', shape);
  checkValue('full', 'value', value, dtype === 'int32');
  const typed = allocate('full', shape, dtype);
  typed.fill(value);
  return leaf(typed, shape, dtype, options);
}

export function zeros(shape: readonly number[], options: LeafOptions = {}): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: readonly number[], options: LeafOptions = {}): Tensor {
  return full(shape, 1, options);
}

/** Random values are floats: int32 is refused. */
function randomOptions(op: string, options: RandomOptions, known: readonly string[]): void {
  if (leafOptions(op, options, ['seed', ...known]) !== 'float32') {
    throw new ArgumentError(`${op}: dtype must be float32, got ${options.dtype}`);
  }
}

/** Normal samples with mean 0 and standard deviation `std` (default 1). */
export function randn(shape: readonly number[], options: RandomOptions & { std?: number } = {}): Tensor {
  randomOptions('randn', options, ['std']);
  checkShape('randn', shape);
  const std = options.std ?? 1;
  if (!Number.isFinite(std) || std < 0) {
    throw new ArgumentError(`randn: std must be a finite number >= 0, got ${std}`);
  }
  const rng = new Rng(options.seed ?? 0);
  const values = allocate('randn', shape, 'float32');
  for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
  return leaf(values, shape, 'float32', options);
}

/** Uniform samples in [low, high) (default [0, 1)). */
export function uniform(
  shape: readonly number[],
  options: RandomOptions & { low?: number; high?: number } = {},
): Tensor {
  randomOptions('uniform', options, ['low', 'high']);
  checkShape('uniform', shape);
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  if (!Number.isFinite(low) || !Number.isFinite(high) || high < low) {
    throw new ArgumentError(`uniform: need finite low <= high, got low=${low}, high=${high}`);
  }
  const rng = new Rng(options.seed ?? 0);
  const values = allocate('uniform', shape, 'float32');
  for (let i = 0; i < values.length; i++) values[i] = low + (high - low) * rng.next();
  return leaf(values, shape, 'float32', options);
}

/**
 * Overwrites a leaf's values (loading weights). Pending work that reads the old values runs first; the new
 * values are uploaded with the next flush. Shapes: `values.length` must equal `t.size`.
 */
export function assignValues(t: Tensor, values: ArrayLike<number>): void {
  if (!(t instanceof Tensor))
    throw new ArgumentError(`assignValues: argument 't' must be a Tensor, got ${String(t)}`);
  t.assertUsable('assignValues', 't');
  if (t.node)
    throw new ArgumentError(`assignValues: argument 't' must be a leaf tensor, got ${t.toString()}`);
  if (typeof values !== 'object' || values === null || values.length !== t.size) {
    throw new ShapeError(
      `assignValues: ${values?.length} values do not fill ${fmtShape(t.shape)} (${t.size})`,
    );
  }
  const typed = t.dtype === 'int32' ? new Int32Array(t.size) : new Float32Array(t.size);
  copyValues('assignValues', values, typed);
  const s = t.storage;
  // Work recorded (or reads requested) before this call must see the old values.
  if (state.runtime && s.readers > 0) void flush();
  s.upload = typed;
  s.host = typed instanceof Int32Array ? typed : null;
  s.failure = null;
  s.writer = null;
}
