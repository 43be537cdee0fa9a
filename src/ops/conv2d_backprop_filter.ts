// conv2d's backward pass to the filter (dw): a GEMM reducing over N*OH*OW in chunks, then a sum pass of the reduce kernel.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { Dispatch } from '../gpu/runtime.js';
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { refConv2dBackpropFilter } from '../reference/conv.js';
import { CONV_WG, checkConvArgs, checkDy, convFlops, convKey } from './conv2d.js';
import { type ConvAttrs, convDims, type ConvDims, convUniforms } from './conv_geometry.js';
import { checkMaskInput, refMasked, withReluMask, type MaskAttrs } from './elementwise/relu_mask.js';
import { type BatchLayout, checkBatchSplit, splitBatch } from './split_parts.js';
import { sizeOf, type KernelIO, type OpDef } from './types.js';
import { ELEMENTWISE_WG, workgroupsFor } from './util.js';
import {
  DEFAULT_WGTILE,
  WGTILE_CANDIDATES,
  tileBlock,
  tileConstants,
  tileFits,
  type WgTile,
} from './wgtile.js';

export interface BackpropFilterAttrs extends ConvAttrs, MaskAttrs {
  /** The filter's shape [KH,KW,Cin,Cout] (KH and KW are not recoverable from x and dy). */
  filterShape: readonly number[];
}

/**
 * dw variants: register-tiled 'vec4' (Cin, Cout multiples of 4), 'cout4' (Cout a multiple of 4) and 'scalar'
 * (any counts) with TN-wide tiles, and 'vec4_regs' (Cin, Cout multiples of 4) with a fixed, written-out 8 x 8
 * channel tile, for CPU adapters; 'wgtile', a GEMM over workgroup-memory tiles (any counts), for GPUs.
 */
export const BACKPROP_FILTER_VARIANTS = ['vec4', 'cout4', 'scalar', 'vec4_regs', 'wgtile'] as const;
export type BackpropFilterVariant = (typeof BACKPROP_FILTER_VARIANTS)[number];

export type BackpropFilterChoice = {
  /** Length of each chunk of the N*OH*OW reduction; the chunks' sums are added by a second pass. */
  chunk: number;
} & (
  | {
      variant: TnFilterVariant;
      /** Output-channel groups per invocation (vec4 groups, or channels for 'scalar'). */
      tn: number;
    }
  | { variant: 'vec4_regs' }
  | { variant: 'wgtile'; tile: WgTile }
);

/** The register-tiled dw variants whose tile width is the override constant TN. */
type TnFilterVariant = Exclude<BackpropFilterVariant, 'wgtile' | 'vec4_regs'>;

/** Input and output channels per invocation of 'vec4_regs' (its shader's unrolled tile). */
const FIXED_TILE = 8;

/** llvmpipe stops any shader loop after 65,535 iterations, so neither the chunk nor the parts' sum may run longer. */
export const MAX_LOOP = 65535;

export function backpropFilterSupports(variant: BackpropFilterVariant, d: ConvDims): boolean {
  if (variant === 'cout4') return d.cout % 4 === 0;
  return variant === 'scalar' || variant === 'wgtile' || (d.cin % 4 === 0 && d.cout % 4 === 0);
}

/** The chunk that splits the N*OH*OW reduction until about `threads` invocations run (never below 64 steps). */
function chunkFor(d: ConvDims, perSplit: number, threads: number): number {
  const k = d.n * d.oh * d.ow;
  const splits = Math.max(
    1,
    Math.min(Math.ceil(threads / perSplit), Math.floor(k / 64)),
    Math.ceil(k / MAX_LOOP),
  );
  return Math.ceil(k / splits);
}

/**
 * The workgroup-tiled dw for GPUs: the reduction is split until about 256 workgroups run (an H200 has 132
 * multiprocessors), in chunks of at least 256 steps.
 */
export function wgtileFilterChoice(d: ConvDims, tile: WgTile): BackpropFilterChoice {
  const { bm, bn } = tileBlock(tile);
  const k = d.n * d.oh * d.ow;
  const tiles = Math.ceil((d.kh * d.kw * d.cin) / bm) * Math.ceil(d.cout / bn);
  const splits = Math.max(1, Math.min(Math.ceil(256 / tiles), Math.floor(k / 256)), Math.ceil(k / MAX_LOOP));
  return { variant: 'wgtile', tile, chunk: Math.ceil(k / splits) };
}

/** The dw kernel when nothing was tuned: the workgroup-tiled GEMM on GPUs, the register kernels on CPU adapters. */
export function chooseBackpropFilter(cpu: boolean, d: ConvDims): BackpropFilterChoice {
  return cpu ? registerFilterChoice(d, 2048) : wgtileFilterChoice(d, DEFAULT_WGTILE);
}

/**
 * A register-tiled dw. The reduction is split until about `threads` invocations run, but never into chunks
 * shorter than 64 steps, where writing the parts would cost more than it saves.
 */
function registerFilterChoice(
  d: ConvDims,
  threads: number,
): Extract<BackpropFilterChoice, { variant: TnFilterVariant }> {
  const variant = (['vec4', 'cout4'] as const).find((v) => backpropFilterSupports(v, d)) ?? 'scalar';
  const tn = variant === 'vec4' ? 2 : variant === 'cout4' ? Math.min(d.cout / 4, 4) : Math.min(d.cout, 8);
  return { variant, tn, chunk: chunkFor(d, invocations(d, variant, tn), threads) };
}

/** Every dw choice that can run these dims on a device with `limits`: what the tuner times. */
export function backpropFilterCandidates(
  d: ConvDims,
  limits: Readonly<Record<string, number>>,
): BackpropFilterChoice[] {
  const out: BackpropFilterChoice[] = [];
  for (const threads of [2048, 32768]) {
    const c = registerFilterChoice(d, threads);
    for (const tn of [c.tn, Math.max(1, c.tn >> 1)]) {
      if (!out.some((o) => o.variant === c.variant && 'tn' in o && o.tn === tn && o.chunk === c.chunk))
        out.push({ ...c, tn });
    }
    if (backpropFilterSupports('vec4_regs', d)) {
      const chunk = chunkFor(d, invocations(d, 'vec4_regs', 1), threads);
      if (!out.some((o) => o.variant === 'vec4_regs' && o.chunk === chunk))
        out.push({ variant: 'vec4_regs', chunk });
    }
  }
  for (const tile of WGTILE_CANDIDATES) if (tileFits(tile, limits)) out.push(wgtileFilterChoice(d, tile));
  return out;
}

function invocations(d: ConvDims, variant: Exclude<BackpropFilterVariant, 'wgtile'>, tn: number): number {
  if (variant === 'vec4_regs')
    return d.kh * d.kw * Math.ceil(d.cin / FIXED_TILE) * Math.ceil(d.cout / FIXED_TILE);
  const rows = d.kh * d.kw * (variant === 'vec4' ? d.cin / 4 : d.cin);
  return rows * Math.ceil(d.cout / (variant === 'scalar' ? tn : 4 * tn));
}

/**
 * The dispatches of one dw variant. Shapes: x [N,H,W,Cin], dy [N,OH,OW,Cout] (, y [N,OH,OW,Cout]) →
 * dw [KH,KW,Cin,Cout]; with a third input y (relu's output: the 'reluMask' pass) the kernel reads dy * (y > 0).
 */
export function backpropFilterPlan(io: KernelIO, d: ConvDims, choice: BackpropFilterChoice): Dispatch[] {
  const { variant, chunk } = choice;
  if (!backpropFilterSupports(variant, d)) {
    throw new ShapeError(
      `conv2dBackpropFilter: variant '${variant}' cannot run Cin=${d.cin}, Cout=${d.cout}`,
    );
  }
  const k = d.n * d.oh * d.ow;
  const splits = Math.ceil(k / chunk);
  if (chunk > MAX_LOOP || splits > MAX_LOOP) {
    throw new ArgumentError(
      `conv2dBackpropFilter: chunk ${chunk} of ${k} gives loops past ${MAX_LOOP} iterations`,
    );
  }
  const size = d.kh * d.kw * d.cin * d.cout;
  const dw = io.outputs[0].buffer;
  const part = splits === 1 ? dw : io.scratch(splits * size * 4);
  const y = io.inputs[2]?.buffer ?? null;
  const dispatches: Dispatch[] = [
    choice.variant === 'wgtile'
      ? withReluMask(wgtileDispatch(io, d, choice.tile, chunk, part), 'f32', y)
      : choice.variant === 'vec4_regs'
        ? withReluMask(fixedDispatch(io, d, chunk, part), 'vec4f', y)
        : withReluMask(
            registerDispatch(io, d, choice.variant, choice.tn, chunk, part),
            choice.variant === 'scalar' ? 'f32' : 'vec4f',
            y,
          ),
  ];
  if (splits > 1) dispatches.push(sumPartsDispatch(part, dw, splits, size));
  return dispatches;
}

/**
 * Adds `splits` partial results [S, size] into `out` [size]: one sum pass of `reduce` over S with a single
 * group, in a fixed order (deterministic). Shared by the split reductions of conv and depthwise dw.
 */
export function sumPartsDispatch(part: GPUBuffer, out: GPUBuffer, splits: number, size: number): Dispatch {
  return {
    shader: 'reduce',
    constants: { WG: ELEMENTWISE_WG, OP: 0 },
    uniforms: [1, splits, size, splits, 1, { f32: 1 }],
    buffers: [part, out],
    workgroups: workgroupsFor(size),
  };
}

/** The GEMM of the workgroup-tiled dw: rows KH*KW*Cin, columns Cout, one workgroup per tile and chunk. */
function wgtileDispatch(io: KernelIO, d: ConvDims, tile: WgTile, chunk: number, part: GPUBuffer): Dispatch {
  const k = d.n * d.oh * d.ow;
  const splits = Math.ceil(k / chunk);
  const { bm, bn } = tileBlock(tile);
  const rows = d.kh * d.kw * d.cin;
  const tilesM = Math.ceil(rows / bm);
  const tilesN = Math.ceil(d.cout / bn);
  return {
    shader: 'conv2d_bpf_wgtile',
    constants: tileConstants('conv2dBackpropFilter', tile),
    uniforms: [...convUniforms(d), k, chunk, rows, tilesM, tilesN, splits],
    buffers: [io.inputs[0].buffer, io.inputs[1].buffer, part],
    workgroups: splits * tilesM * tilesN,
  };
}

/** The register-tiled dw kernels (one invocation per filter row block and chunk). */
function registerDispatch(
  io: KernelIO,
  d: ConvDims,
  variant: TnFilterVariant,
  tn: number,
  chunk: number,
  part: GPUBuffer,
): Dispatch {
  const k = d.n * d.oh * d.ow;
  const splits = Math.ceil(k / chunk);
  const rows = d.kh * d.kw * (variant === 'vec4' ? d.cin / 4 : d.cin);
  const nGroups = Math.ceil(d.cout / (variant === 'scalar' ? tn : 4 * tn));
  const total = splits * rows * nGroups;
  return {
    shader: `conv2d_bpf_${variant}`,
    constants: { WG: CONV_WG, TN: tn },
    uniforms: [...convUniforms(d), k, chunk, rows, nGroups, total],
    buffers: [io.inputs[0].buffer, io.inputs[1].buffer, part],
    workgroups: workgroupsFor(total, CONV_WG),
  };
}

/** The fixed-tile dw kernel: one invocation per tap, 8 input channels, 8 output channels and chunk. */
function fixedDispatch(io: KernelIO, d: ConvDims, chunk: number, part: GPUBuffer): Dispatch {
  const k = d.n * d.oh * d.ow;
  const splits = Math.ceil(k / chunk);
  const rows = d.kh * d.kw * Math.ceil(d.cin / FIXED_TILE);
  const nGroups = Math.ceil(d.cout / FIXED_TILE);
  const total = splits * rows * nGroups;
  return {
    shader: 'conv2d_bpf_vec4_regs',
    constants: { WG: CONV_WG },
    uniforms: [...convUniforms(d), k, chunk, rows, nGroups, total],
    buffers: [io.inputs[0].buffer, io.inputs[1].buffer, part],
    workgroups: workgroupsFor(total, CONV_WG),
  };
}

function dimsOf(xShape: readonly number[], filterShape: readonly number[], attrs: ConvAttrs): ConvDims {
  return convDims('conv2dBackpropFilter', xShape, filterShape, attrs);
}

/** dw splits by batch: x and dy per image (and the mask y), one partial dw per part, added in order. */
const BACKPROP_FILTER_BATCH: BatchLayout = { batched: [0, 1], names: ['x', 'dy'], sums: true };
const MASKED_BATCH: BatchLayout = { batched: [0, 1, 2], names: ['x', 'dy', 'y'], sums: true };
const layoutOf = (attrs: MaskAttrs) => (attrs.reluMask ? MASKED_BATCH : BACKPROP_FILTER_BATCH);

export const conv2dBackpropFilterOp: OpDef<BackpropFilterAttrs> = {
  name: 'conv2dBackpropFilter',
  masksInput: 1,
  check(inputs, attrs) {
    const [x, dy] = checkMaskInput('conv2dBackpropFilter', inputs, attrs, 2, 1);
    if (attrs.filterShape.length !== 4) {
      throw new ShapeError(
        `conv2dBackpropFilter: argument 'filterShape' must be [KH,KW,Cin,Cout], got ${fmtShape(attrs.filterShape)}`,
      );
    }
    const d = checkConvArgs(
      'conv2dBackpropFilter',
      x,
      { shape: attrs.filterShape, dtype: 'float32' },
      attrs,
      'filterShape',
    );
    checkDy('conv2dBackpropFilter', dy, d);
    return [{ shape: [...attrs.filterShape], dtype: 'float32' }];
  },
  forward(io, attrs) {
    return splitBatch(io, 'conv2dBackpropFilter', layoutOf(attrs), (sub) => {
      const d = dimsOf(sub.inputs[0].spec.shape, attrs.filterShape, attrs);
      const choice = sub.tune({
        op: 'conv2dBackpropFilter',
        shapeClass: convKey(d),
        candidates: backpropFilterCandidates(d, sub.limits),
        fallback: chooseBackpropFilter(sub.software, d),
        plan: (tio, c) => backpropFilterPlan(tio, d, c),
      });
      return backpropFilterPlan(sub, d, choice);
    });
  },
  bindsRanges: true,
  checkSplit(inputs, attrs, limits) {
    const output = this.check(inputs, attrs)[0];
    checkBatchSplit('conv2dBackpropFilter', inputs, output, layoutOf(attrs), limits);
  },
  backward: null,
  cost([x, dy], attrs) {
    const d = dimsOf(x.shape, attrs.filterShape, attrs);
    const reads = sizeOf(x.shape) + (attrs.reluMask ? 2 : 1) * sizeOf(dy.shape);
    return { flops: convFlops(d), bytes: 4 * (reads + sizeOf(attrs.filterShape)) };
  },
  reference(inputs, attrs) {
    const [x, dy] = refMasked(inputs, attrs, 2, 1);
    return [refConv2dBackpropFilter(x, dy, dimsOf(x.shape, attrs.filterShape, attrs))];
  },
};

/**
 * The gradient of conv2d with respect to its filter.
 * Shapes: x [N,H,W,Cin], dy [N,OH,OW,Cout], filterShape [KH,KW,Cin,Cout] → dw [KH,KW,Cin,Cout].
 */
export function conv2dBackpropFilter(
  x: Tensor,
  dy: Tensor,
  filterShape: readonly number[],
  attrs: ConvAttrs,
): Tensor {
  return apply(conv2dBackpropFilterOp, [x, dy], { ...attrs, filterShape: [...filterShape] }, ['x', 'dy']);
}
