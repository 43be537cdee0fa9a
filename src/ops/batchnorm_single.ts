// Single-dispatch batch norm for short per-channel reductions: the training forward (statistics, then y through
// the epilogue) and the whole backward (dgamma, dbeta, then dx) with one workgroup per channel group.
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
 * ops/epilogue.ts with the epilogue's buffers from binding `reads.length + 1` on.
 */
export function storeThroughEpilogue(d: Dispatch, io: KernelIO, reads: GPUBuffer[], y: GPUBuffer): Dispatch {
  const e = io.epilogue;
  const fused = e.residual || e.relu;
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

/**
 * batch_norm_train_single: io.inputs x, gamma, beta; io.outputs y, mean, variance. Correct for any rows; the
 * rule `singlePass` says when it is the faster plan.
 * Shapes: x [..., C], gamma, beta [C] → y x's shape, mean, variance [C].
 */
export function trainSinglePass(io: KernelIO, epsilon: number): Dispatch {
  const { rows, lanes } = rowsAndLanes(io.inputs[0].spec.shape);
  const [x, gamma, beta] = io.inputs.map((t) => t.buffer);
  const [y, mean, variance] = io.outputs.map((t) => t.buffer);
  const d: Dispatch = {
    shader: 'batch_norm_train_single',
    constants: { WG: SINGLE_PASS_WG },
    regions: lanes.regions,
    uniforms: [rows, lanes.groups, { f32: epsilon }],
    buffers: [],
    workgroups: lanes.groups,
  };
  return storeThroughEpilogue(d, io, [x, gamma, beta, mean, variance], y);
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
