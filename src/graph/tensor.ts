// The lazy tensor: a shape, a dtype, a storage, and the node that produces it (null for leaves).
import { DisposedError, ShapeError, fmtShape } from '../errors.js';
import { sizeOf, type DType } from '../ops/types.js';
import { backward } from './autograd.js';
import { readback, readOnFlush } from './scheduler.js';
import { maybeFree, state, type Node, type Storage } from './state.js';

const asFloat32 = (raw: Float32Array | Int32Array): Float32Array =>
  raw instanceof Float32Array ? raw : Float32Array.from(raw);

// Tensors that are garbage-collected without dispose() still give their storage back.
const finalizer = new FinalizationRegistry<{ storage: Storage; generation: number }>((held) => {
  if (held.generation !== state.generation) return;
  held.storage.refs--;
  maybeFree(held.storage);
});

export class Tensor {
  readonly id: number;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly size: number;
  /** Leaves only: whether backward() fills `grad`. Set to false to freeze a parameter. */
  requiresGrad: boolean;
  /** Gradient from the last backward(), accumulated across calls until cleared (leaves only). */
  grad: Tensor | null = null;
  private released = false;
  private readonly nodeNeedsGrad: boolean;
  private readonly generation = state.generation;
  /** The finalizer's unregister token, once registered (see `watch`). */
  private token: object | null = null;

  /** Internal: use `tensor()`, `zeros()` and the ops to make tensors. */
  constructor(
    shape: readonly number[],
    dtype: DType,
    readonly storage: Storage,
    readonly node: Node | null,
    readonly outputIndex = 0,
    requiresGrad = false,
  ) {
    this.id = state.nextId++;
    // A frozen shape (an input's, passed on by an elementwise op's shape rule) cannot change: it is shared.
    this.shape = Object.isFrozen(shape) ? shape : Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = sizeOf(shape);
    this.requiresGrad = requiresGrad;
    this.nodeNeedsGrad =
      !!node && state.noGrad === 0 && node.op.backward !== null && node.inputs.some((t) => t.needsGrad);
    storage.refs++;
    const scopes = state.scopes;
    // A scope holds its tensors until it closes, which disposes them or hands the kept ones on (tidy.ts): only a
    // tensor that no scope holds can be garbage-collected, so only it needs the finalizer (registering one costs
    // about half a microsecond, and most tensors of a step are made and disposed inside a tidy).
    if (scopes.length > 0) scopes[scopes.length - 1].add(this);
    else this.watch();
  }

  /**
   * Internal: registers the finalizer that gives the storage back if this tensor is garbage-collected without
   * dispose(). Called once no scope holds the tensor (made outside any, kept out of a closing one, `keep`).
   */
  watch(): void {
    if (this.token || this.disposed) return;
    this.token = {};
    finalizer.register(this, { storage: this.storage, generation: this.generation }, this.token);
  }

  /** Internal: takes the tensor out of every open scope (nothing disposes it with them) and watches it. */
  leaveScopes(): void {
    for (const scope of state.scopes) scope.delete(this);
    this.watch();
  }

  /** Whether gradients flow to this tensor: a leaf that requires grad, or an op output with such an input. */
  get needsGrad(): boolean {
    return this.node ? this.nodeNeedsGrad : this.requiresGrad;
  }

  get rank(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this.released || this.generation !== state.generation;
  }

  /** Throws DisposedError when the tensor was disposed or belongs to a released engine. */
  assertUsable(op: string, arg: string): void {
    if (this.disposed) {
      throw new DisposedError(`${op}: argument '${arg}' (tensor ${fmtShape(this.shape)}) was disposed`);
    }
  }

  /** Runs everything pending and reads the values back (one submit). int32 tensors come back converted. */
  data(): Promise<Float32Array> {
    return this.read('data', readback, asFloat32);
  }

  /**
   * Like data(), but submits nothing: the values arrive with the next flush (an optimizer step, `flush()`,
   * or another read), so a training loop can read its loss without an extra submit.
   */
  dataOnFlush(): Promise<Float32Array> {
    return this.read('dataOnFlush', readOnFlush, asFloat32);
  }

  /** Like data(), for int32 tensors (labels, argmax indices). */
  int32Data(): Promise<Int32Array> {
    if (this.dtype !== 'int32') {
      return Promise.reject(new ShapeError(`int32Data: tensor has dtype ${this.dtype}, expected int32`));
    }
    return this.read('int32Data', readback, (raw) => raw as Int32Array);
  }

  /** Starts a read with `how`; argument errors reject the promise rather than throw. */
  private read<T>(
    what: string,
    how: <U>(t: Tensor, convert: (raw: Float32Array | Int32Array) => U) => Promise<U>,
    convert: (raw: Float32Array | Int32Array) => T,
  ): Promise<T> {
    try {
      this.assertUsable(what, 'tensor');
      return how(this, convert);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Reads a one-element tensor as a number. */
  async item(): Promise<number> {
    if (this.size !== 1)
      throw new ShapeError(`item: tensor ${fmtShape(this.shape)} has ${this.size} elements, expected 1`);
    return (await this.data())[0];
  }

  /** Reverse-mode autograd from this scalar: fills `.grad` of every leaf with requiresGrad that it depends on. */
  backward(): void {
    this.assertUsable('backward', 'loss');
    backward(this);
  }

  /** Gives the storage back once no pending op reads it. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.released = true;
    if (this.token) finalizer.unregister(this.token);
    for (const scope of state.scopes) scope.delete(this);
    this.storage.refs--;
    maybeFree(this.storage);
    this.grad?.dispose();
    this.grad = null;
  }

  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}${this.node ? `, ${this.node.op.name}` : ''})`;
  }
}
