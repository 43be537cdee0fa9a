// The shape of one op definition: shape rule, forward plan, per-input backward, cost and float64 reference.
import type { WebgradError } from '../errors.js';
import type { Dispatch } from '../gpu/runtime.js';
import type { TuneRequest } from '../gpu/tuner.js';
import type { Tensor } from '../graph/tensor.js';
import type { Expr } from './elementwise/expr.js';
import type { Epilogue, EpilogueKind } from './epilogue.js';

export type DType = 'float32' | 'int32';

/** Shape and dtype of a tensor, without its data. */
export interface TensorSpec {
  shape: readonly number[];
  dtype: DType;
}

/** A float64 tensor for the CPU reference. */
export interface RefTensor {
  shape: readonly number[];
  data: Float64Array;
}

/** What a forward plan sees: the inputs' and outputs' buffers with their specs, and scratch memory. */
export interface KernelIO {
  inputs: readonly { buffer: GPUBuffer; spec: TensorSpec }[];
  /**
   * `unread`: an output the op lists in `optionalOutputs` that nothing holds or reads at flush time. It has no
   * buffer (`buffer` is not a GPUBuffer then): the forward must neither bind nor write it.
   */
  outputs: readonly { buffer: GPUBuffer; spec: TensorSpec; unread?: boolean }[];
  /** A temporary storage buffer that lives until this op's dispatches are encoded. */
  scratch(bytes: number): GPUBuffer;
  /** Device limits in use (for picking workgroup sizes and kernel variants). */
  limits: Readonly<Record<string, number>>;
  /**
   * Whether the adapter is a CPU implementation (llvmpipe, SwiftShader, lavapipe): there barrier-free register
   * tiling wins, on GPUs shared-memory tiles do. Kernel variants are chosen by it.
   */
  software: boolean;
  /** Output 0 is stored through a ReLU: the scheduler fused the relu that reads it (`epilogue.relu`). */
  relu: boolean;
  /** What the scheduler fused into the store of output 0 (only kinds the op lists in `epilogues`). */
  epilogue: Epilogue;
  /**
   * Reserves a check slot of this flush: a u32 in `flags` at index `slot`, 0xffffffff until a kernel lowers it
   * (atomicMin). It is read back with the flush; if lowered, `describe(value)` is the error the flush's reads
   * reject with. For checks the host cannot make when the op is recorded (labels computed on the device).
   */
  check(describe: (value: number) => WebgradError): { flags: GPUBuffer; slot: number };
  /**
   * The tuner's choice among kernel candidates for this op's shape class on this adapter (see gpu/tuner.ts):
   * the fastest once timed, `req.fallback` until then or with `WEBGRAD_TUNE=0`. `shapes` are the tensors the
   * candidates are timed on when not this io's own (one part of a split op: see ops/split.ts).
   */
  tune<C>(req: TuneRequest<C>, shapes?: Pick<KernelIO, 'inputs' | 'outputs'>): C;
}

/** Everything a backward rule may use: the forward inputs, outputs and attributes, and the output gradients. */
export interface BackwardContext<A> {
  inputs: readonly Tensor[];
  outputs: readonly Tensor[];
  attrs: A;
  /** Gradient of the loss with respect to each output: output 0 always has one (zeros if none reached it); the
   * others are null where no gradient reached them. */
  dys: readonly (Tensor | null)[];
}

/** Builds the gradient for one input out of other ops, so backward passes are graph nodes like any other. */
export type BackwardRule<A> = (ctx: BackwardContext<A>) => Tensor;

export interface Cost {
  flops: number;
  bytes: number;
}

export interface OpDef<A = Record<string, never>> {
  name: string;
  /** Validates inputs and attributes, returns the output specs; throws ShapeError naming op, argument and shapes. */
  check(inputs: readonly TensorSpec[], attrs: A): TensorSpec[];
  /**
   * The dispatches that compute the outputs, or 'alias' for a view whose single output shares input 0's storage,
   * or 'inplace' semantics declared by `writesInput`.
   */
  forward: ((io: KernelIO, attrs: A) => Dispatch[]) | 'alias';
  /**
   * For in-place ops (optimizer updates): the indices of inputs whose storage the kernel overwrites.
   * Such ops have no outputs; their inputs at these indices must be leaves.
   */
  writesInputs?: readonly number[];
  /**
   * Ops this forward can apply to output 0 before storing it (`io.epilogue`, see ops/epilogue.ts). The scheduler's
   * fusion pass runs such ops inside this one when each is the only reader of the value before it and no tensor
   * holds that value.
   */
  epilogues?: readonly EpilogueKind[];
  /**
   * Outputs (never 0) the forward can leave unwritten (max pooling's argmax, saved for a backward only): when no
   * tensor holds one and no node or read of the flush reads it, the scheduler gives it no buffer and marks it
   * `unread` in the KernelIO. Replay tells the two plans apart by that missing buffer.
   */
  optionalOutputs?: readonly number[];
  /** This op can run as that epilogue of its input's producer (relu 'relu', add 'add', batchNormInference 'bn'). */
  asEpilogue?: EpilogueKind;
  /**
   * An elementwise op (a generated kernel, ops/elementwise/op.ts): the expression tree it computes over its
   * `inputs` broadcast inputs. The 'elementwise' fusion pass composes the trees of a chain into one kernel.
   */
  expr?: (attrs: A, inputs: number) => Expr;
  /**
   * The input that is a gradient dy this op can read through a ReLU mask (`dy * (y > 0)`, y the ReLU's output):
   * the 'reluMask' fusion pass then gives the op `attrs.reluMask = true` and y as one more, last, input, instead
   * of a reluBackward kernel before it.
   */
  masksInput?: number;
  /**
   * The forward can store output 0 as a gradient sum over it and more same-shape terms, masked by a relu output
   * (`attrs.storeSum`, ops/store_sum.ts): the 'epilogue' pass then runs a fan-in sum and the reluBackward after it
   * in this kernel (graph/fusion/store_sum.ts).
   */
  storesSum?: boolean;
  /**
   * The forward stores output 0 through the producer epilogue's OUT_AT region (`io.epilogue.slice`,
   * ops/epilogue.ts) in every kernel it may choose, so it can write its channels as a slice of a wider NHWC tensor:
   * the 'concatStore' pass then stores the input of a channel concat there (graph/fusion/concat_store.ts).
   */
  storesSlice?: boolean;
  /**
   * The forward binds sub-ranges of its buffers (it splits its work into several dispatches), so its tensors may
   * exceed maxStorageBufferBindingSize (never maxBufferSize). Without it, every input, output and scratch buffer
   * must fit one binding, which is checked when the op is recorded.
   */
  bindsRanges?: boolean;
  /**
   * With `bindsRanges`: throws LimitError, naming the op, the tensor and the limit, when these shapes cannot be
   * split to fit `limits` (called when the op is recorded and a tensor is larger than one binding).
   */
  checkSplit?(inputs: readonly TensorSpec[], attrs: A, limits: Readonly<Record<string, number>>): void;
  /**
   * Attributes that feed nothing but the uniforms of this op's dispatches (a learning rate, step counts, a
   * seed): a changed value must leave the forward's shader, code, constants, regions, buffers, ranges, scratch
   * and workgroups as they were, and no fusion pass may read it. Replay then reuses a node whose attributes
   * differ only in these and re-derives its dispatches' uniforms (graph/replay.ts); the scheduler checks the
   * rest is unchanged and throws GpuError naming the op when it is not.
   */
  uniformAttrs?: readonly (keyof A & string)[];
  /** One rule per input; null for an input that gets no gradient. The whole field is null for backward passes. */
  backward: readonly (BackwardRule<A> | null)[] | null;
  cost(inputs: readonly TensorSpec[], attrs: A): Cost;
  /** Naive float64 CPU implementation: the oracle for tests. In-place ops return the new values of written inputs. */
  reference(inputs: readonly RefTensor[], attrs: A): RefTensor[];
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  // Indexed: for-of over a frozen array (a tensor's shape) allocates an iterator result per element.
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  return n;
}
