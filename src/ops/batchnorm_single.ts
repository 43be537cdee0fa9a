// Single-dispatch batch norm for short per-channel reductions, one workgroup per channel group: the training
// forward (statistics, the running averages, then y through the epilogue) and the whole backward (dgamma, dbeta, dx).
import type { Dispatch } from '../gpu/runtime.js';
import { state } from '../graph/state.js';
import { epilogueBuffers, epilogueRegions } from './epilogue.js';
import { channelLanes, type ChannelLanes } from './lanes.js';
import { sizeOf, type KernelIO } from './types.js';

/**
 * When one workgroup per channel group beats the two-pass kernels (chunk partials, then a merge), measured on
 * llvmpipe, 2 cores (bench/batchnorm_passes.ts, docs/fusion.md "Single-pass batch norm"): forward + backward of
 * a layer took 0.4-0.8x the two-pass time up to rows x C = 2^18 elements (3136 x 64, 12544 x 16, 25088 x 8);
 * past it the single pass mostly lost (1.1-1.3x at 12544 x 32, 12544 x 64, 25088 x 16, 25088 x 64), its few
 * workgroups short of memory parallelism. With C below 4 it won at every size measured, up to 25088 rows.
 */
export const SINGLE_PASS_MAX_ELEMENTS = 2 ** 18;
/** The longest reduction a single pass takes whatever C: one workgroup over more rows was not measured. */
export const SINGLE_PASS_MAX_ROWS = 2 ** 15;

/**
 * Invocations per workgroup of the single-pass kernels. llvmpipe runs a workgroup with a barrier as coroutines,
 * one per 8-wide vector of invocations: 16 took 0.4-0.6x the time of 64 at 196-3136 rows (8 about as 16).
 */
export const SINGLE_PASS_WG = 16;

/**
 * The rule: batch norm over x [..., C] runs in one dispatch per direction when its rows (every axis but the
 * last) are at most SINGLE_PASS_MAX_ROWS and rows x C at most SINGLE_PASS_MAX_ELEMENTS, else in the two-pass
 * kernels that keep long reductions parallel.
 */
export function singlePass(xShape: readonly number[]): boolean {
  const c = xShape[xShape.length - 1];
  const size = sizeOf(xShape);
  const rows = c === 0 ? 0 : size / c;
  return rows >= 1 && rows <= SINGLE_PASS_MAX_ROWS && size <= SINGLE_PASS_MAX_ELEMENTS;
}

/** `singlePass`, where the `batchNormSingle` fusion is on (init's `fusion` option; on by default). */
export function useSinglePass(xShape: readonly number[]): boolean {
  return (state.runtime?.fusion.batchNormSingle ?? true) && singlePass(xShape);
}

/** The most rows over C channels that `singlePass` runs in one dispatch. */
export function singlePassMaxRows(channels: number): number {
  return Math.min(SINGLE_PASS_MAX_ROWS, Math.floor(SINGLE_PASS_MAX_ELEMENTS / channels));
}

/**
 * `d` storing y through what the scheduler fused into it (a residual add, ReLU: io.epilogue), its regions from
 * ops/epilogue.ts with the epilogue's buffers from binding `reads.length + 1` on. `always` generates them when
 * nothing is fused too: for a shader whose default binds y elsewhere.
 */
export function storeThroughEpilogue(
  d: Dispatch,
  io: KernelIO,
  reads: GPUBuffer[],
  y: GPUBuffer,
  always = false,
): Dispatch {
  const e = io.epilogue;
  const fused = always || e.residual || e.relu;
  return {
    ...d,
    buffers: [...reads, ...epilogueBuffers(null, e, y)],
    regions: fused ? { ...d.regions, ...epilogueRegions('V', reads.length + 1, false, e, 'y') } : d.regions,
  };
}

function rowsAndLanes(xShape: readonly number[]): { rows: number; lanes: ChannelLanes } {
  const c = xShape[xShape.length - 1];
  return { rows: sizeOf(xShape) / c, lanes: channelLanes(c) };
}

/** The running averages' update (batchNormUpdate's attributes). */
export interface RunningUpdate {
  /** Weight of the old running value (Keras convention). */
  momentum: number;
  /**
   * Factor on the batch variance before it enters the running variance: 1 for the biased variance (Keras 3),
   * rows / (rows - 1) for the unbiased one (PyTorch); batchNorm's `runningVarCorrection` sets it.
   */
  varianceScale: number;
}

/**
 * batch_norm_train_single: io.inputs x, gamma, beta (then runningMean, runningVar when `running`, overwritten in
 * place with batch_norm_update's formula); io.outputs y, mean, variance. Correct for any rows; the rule
 * `singlePass` says when it is the faster plan.
 * Shapes: x [..., C], gamma, beta, runningMean?, runningVar? [C] → y x's shape, mean, variance [C].
 */
export function trainSinglePass(io: KernelIO, epsilon: number, running: RunningUpdate | null): Dispatch {
  const { rows, lanes } = rowsAndLanes(io.inputs[0].spec.shape);
  const [x, gamma, beta, runningMean, runningVar] = io.inputs.map((t) => t.buffer);
  const [y, mean, variance] = io.outputs.map((t) => t.buffer);
  const d: Dispatch = {
    shader: 'batch_norm_train_single',
    constants: { WG: SINGLE_PASS_WG },
    // The shader's default updates the running averages; without them both RUNNING regions go.
    regions: running ? lanes.regions : { ...lanes.regions, RUNNING: '', RUNNING_UPDATE: '' },
    uniforms: [
      rows,
      lanes.groups,
      { f32: epsilon },
      { f32: running?.momentum ?? 1 },
      { f32: running?.varianceScale ?? 1 },
    ],
    buffers: [],
    workgroups: lanes.groups,
  };
  const stats = [x, gamma, beta, mean, variance];
  if (running) return storeThroughEpilogue(d, io, [...stats, runningMean, runningVar], y);
  return storeThroughEpilogue(d, io, stats, y, true);
}

/**
 * batch_norm_grad_single: io.inputs dy, x, gamma, mean, variance (then the mask y, bound by the caller);
 * io.outputs dx, dgamma, dbeta.
 * Shapes: dy, x [..., C], gamma, mean, variance [C] → dx x's shape, dgamma, dbeta [C].
 */
export function gradSinglePass(io: KernelIO, epsilon: number): Dispatch {
  const { rows, lanes } = rowsAndLanes(io.inputs[1].spec.shape);
  return {
    shader: 'batch_norm_grad_single',
    constants: { WG: SINGLE_PASS_WG },
    regions: lanes.regions,
    uniforms: [rows, lanes.groups, { f32: epsilon }, { f32: 1 / rows }],
    buffers: [...io.inputs.slice(0, 5), ...io.outputs].map((t) => t.buffer),
    workgroups: lanes.groups,
  };
}
