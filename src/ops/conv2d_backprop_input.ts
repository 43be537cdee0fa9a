// conv2d's backward pass to the input (dx): a gathering kernel with strides split into phases, and its variants.
import { ShapeError, fmtShape } from '../errors.js';
import type { Dispatch } from '../gpu/runtime.js';
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { refConv2dBackpropInput } from '../reference/conv.js';
import { CONV_WG, checkConvArgs, checkDy, convFlops, convKey } from './conv2d.js';
import { type ConvAttrs, convDims, type ConvDims, convUniforms } from './conv_geometry.js';
import { checkMaskInput, refMasked, withReluMask, type MaskAttrs } from './elementwise/relu_mask.js';
import { type BatchLayout, checkBatchSplit, splitBatch } from './split_parts.js';
import { checkStoreInputs, refStoreSum, storeInputs, withStoreSum, type StoreSumAttrs } from './store_sum.js';
import { sizeOf, type KernelIO, type OpDef } from './types.js';
import { workgroupsFor } from './util.js';
import {
  DEFAULT_WGTILE,
  WGTILE_CANDIDATES,
  tileBlock,
  tileConstants,
  tileFits,
  type WgTile,
} from './wgtile.js';

export interface BackpropInputAttrs extends ConvAttrs, MaskAttrs, StoreSumAttrs {
  /** The forward input's shape [N,H,W,Cin] (not recoverable from dy when strides drop rows). */
  inputShape: readonly number[];
}

/**
 * dx variants: register-tiled 'vec4' (Cin, Cout multiples of 4) and 'scalar' (any channel counts) with a TM x TN
 * tile, and 'vec4_regs' (Cin, Cout multiples of 4) with a fixed, written-out 8-pixel x 8-channel tile, for CPU
 * adapters; 'wgtile', an implicit GEMM per stride phase over workgroup-memory tiles (any counts), for GPUs.
 */
export const BACKPROP_INPUT_VARIANTS = ['vec4', 'scalar', 'vec4_regs', 'wgtile'] as const;
export type BackpropInputVariant = (typeof BACKPROP_INPUT_VARIANTS)[number];

export type BackpropInputChoice =
  | {
      variant: Exclude<BackpropInputVariant, 'wgtile'>;
      /** Pixels per invocation (same row and stride phase). */
      tm: number;
      /** Input-channel groups per invocation (vec4 groups for 'vec4', channels for 'scalar'). */
      tn: number;
    }
  | { variant: 'vec4_regs' }
  | { variant: 'wgtile'; tile: WgTile };

/** Pixels and input channels per invocation of 'vec4_regs' (its shader's unrolled tile). */
const FIXED_PIXELS = 8;
const FIXED_CHANNELS = 8;

export function backpropInputSupports(variant: BackpropInputVariant, d: ConvDims): boolean {
  return (variant !== 'vec4' && variant !== 'vec4_regs') || (d.cin % 4 === 0 && d.cout % 4 === 0);
}

/**
 * The dx kernel when nothing was tuned: the workgroup-tiled GEMM on GPUs; on CPU adapters 'vec4_regs' for
 * stride-1 convs whose Cin is a multiple of its 8 channels (measured faster than vec4 4x2 on llvmpipe and
 * SwiftShader; with stride 2 it was slower on llvmpipe, docs/kernels.md), else the register kernels with wide
 * tiles.
 */
export function chooseBackpropInput(cpu: boolean, d: ConvDims): BackpropInputChoice {
  if (!cpu) return { variant: 'wgtile', tile: DEFAULT_WGTILE };
  const strided = d.sh > 1 || d.sw > 1;
  if (backpropInputSupports('vec4_regs', d) && d.cin % FIXED_CHANNELS === 0 && !strided) {
    return { variant: 'vec4_regs' };
  }
  if (backpropInputSupports('vec4', d)) return { variant: 'vec4', tm: cpu ? 4 : 2, tn: cpu ? 2 : 1 };
  return { variant: 'scalar', tm: cpu ? 4 : 2, tn: Math.min(d.cin, 4) };
}

/** Every dx choice that can run these dims on a device with `limits`: what the tuner times. */
export function backpropInputCandidates(
  d: ConvDims,
  limits: Readonly<Record<string, number>>,
): BackpropInputChoice[] {
  const out: BackpropInputChoice[] = [];
  for (const variant of ['vec4', 'scalar'] as const) {
    if (!backpropInputSupports(variant, d)) continue;
    for (const [tm, tn] of [
      [4, 2],
      [2, 1],
      [4, 1],
      [8, 2],
      [4, 4],
    ]) {
      out.push({ variant, tm, tn: variant === 'scalar' ? Math.min(d.cin, 2 * tn) : tn });
    }
  }
  if (backpropInputSupports('vec4_regs', d)) out.push({ variant: 'vec4_regs' });
  for (const tile of WGTILE_CANDIDATES) if (tileFits(tile, limits)) out.push({ variant: 'wgtile', tile });
  return out;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * The dispatch of one dx variant. Shapes: dy [N,OH,OW,Cout], w [KH,KW,Cin,Cout] (, y [N,OH,OW,Cout]) →
 * dx [N,H,W,Cin]; with a third input y (relu's output: the 'reluMask' pass) the kernel reads dy * (y > 0). With
 * `store` (attrs.storeSum: the 'epilogue' pass) the inputs after those are the sum's terms and its mask, each
 * [N,H,W,Cin], and dx is stored as that sum (see ops/store_sum.ts).
 */
export function backpropInputPlan(
  io: KernelIO,
  d: ConvDims,
  choice: BackpropInputChoice,
  store?: StoreSumAttrs['storeSum'],
): Dispatch[] {
  const { variant } = choice;
  if (!backpropInputSupports(variant, d)) {
    throw new ShapeError(
      `conv2dBackpropInput: variant '${variant}' needs Cin and Cout multiples of 4, got ${d.cin}, ${d.cout}`,
    );
  }
  const own = io.inputs.length - storeInputs({ storeSum: store });
  const y = own > 2 ? io.inputs[2].buffer : null;
  const extra = io.inputs.slice(own).map((t) => t.buffer);
  if (choice.variant === 'wgtile') {
    return wgtilePlan(io, d, choice.tile).map((p) =>
      withStoreSum(withReluMask(p, 'f32', y), 'f32', 'dx', store, extra),
    );
  }
  const fixed = choice.variant === 'vec4_regs';
  const tm = fixed ? FIXED_PIXELS : choice.tm;
  const nGroups = Math.ceil(
    d.cin / (fixed ? FIXED_CHANNELS : variant === 'vec4' ? 4 * choice.tn : choice.tn),
  );
  const blocks = Math.ceil(Math.ceil(d.w / d.sw) / tm);
  const total = d.n * d.h * d.sw * blocks * nGroups;
  const dispatch: Dispatch = {
    shader: fixed ? 'conv2d_bpi_vec4_regs' : variant === 'vec4' ? 'conv2d_bpi_vec4' : 'conv2d_bpi_scalar',
    constants: fixed ? { WG: CONV_WG } : { WG: CONV_WG, TM: tm, TN: choice.tn },
    uniforms: [...convUniforms(d), d.sh / gcd(d.sh, d.dh), d.sw / gcd(d.sw, d.dw), blocks, nGroups, total],
    buffers: [io.inputs[0].buffer, io.inputs[1].buffer, io.outputs[0].buffer],
    workgroups: workgroupsFor(total, CONV_WG),
  };
  const type = variant === 'vec4' || fixed ? 'vec4f' : 'f32';
  return [withStoreSum(withReluMask(dispatch, type, y), type, 'dx', store, extra)];
}

/** The taps of one axis that reach output pixels from input phase `phase`: first tap, step and count. */
function phaseTaps(phase: number, pad: number, k: number, s: number, dil: number): [number, number, number] {
  const step = s / gcd(s, dil);
  for (let t = 0; t < Math.min(k, step); t++) {
    if ((((phase + pad - t * dil) % s) + s) % s === 0) return [t, step, Math.ceil((k - t) / step)];
  }
  return [0, step, 0];
}

/**
 * The workgroup-tiled dx: one implicit GEMM per stride phase (ph, pw), over the pixels ih ≡ ph (mod SH),
 * iw ≡ pw (mod SW) and only the taps that reach them. A phase that no tap reaches still runs (with K = 0) to
 * write its zeros.
 */
function wgtilePlan(io: KernelIO, d: ConvDims, tile: WgTile): Dispatch[] {
  const { bm, bn } = tileBlock(tile);
  const constants = tileConstants('conv2dBackpropInput', tile);
  const tilesN = Math.ceil(d.cin / bn);
  const dispatches: Dispatch[] = [];
  for (let ph = 0; ph < Math.min(d.sh, d.h); ph++) {
    for (let pw = 0; pw < Math.min(d.sw, d.w); pw++) {
      const hq = Math.ceil((d.h - ph) / d.sh);
      const wq = Math.ceil((d.w - pw) / d.sw);
      const [kh0, khStep, nkh] = phaseTaps(ph, d.padTop, d.kh, d.sh, d.dh);
      const [kw0, kwStep, nkw] = phaseTaps(pw, d.padLeft, d.kw, d.sw, d.dw);
      const m = d.n * hq * wq;
      dispatches.push({
        shader: 'conv2d_bpi_wgtile',
        constants,
        uniforms: [
          ...convUniforms(d),
          ph,
          pw,
          hq,
          wq,
          kh0,
          khStep,
          nkh,
          kw0,
          kwStep,
          nkw,
          m,
          nkh * nkw * d.cout,
          tilesN,
        ],
        buffers: [io.inputs[0].buffer, io.inputs[1].buffer, io.outputs[0].buffer],
        workgroups: Math.ceil(m / bm) * tilesN,
      });
    }
  }
  return dispatches;
}

function dimsOf(inputShape: readonly number[], wShape: readonly number[], attrs: ConvAttrs): ConvDims {
  return convDims('conv2dBackpropInput', inputShape, wShape, attrs);
}

/** dx splits by batch: dy and dx per image (and the mask y, the store sum's terms and mask); w whole. */
function layoutOf(attrs: BackpropInputAttrs): BatchLayout {
  const names = attrs.reluMask ? ['dy', 'w', 'y'] : ['dy', 'w'];
  for (let k = 0; k < storeInputs(attrs); k++) names.push(`store input ${k}`);
  const batched = names.map((_, i) => i).filter((i) => i !== 1);
  return { batched, names, sums: false };
}

export const conv2dBackpropInputOp: OpDef<BackpropInputAttrs> = {
  name: 'conv2dBackpropInput',
  masksInput: 0,
  storesSum: true,
  check(inputs, attrs) {
    const own = checkStoreInputs('conv2dBackpropInput', inputs, attrs, attrs.inputShape);
    const [dy, w] = checkMaskInput('conv2dBackpropInput', own, attrs, 2, 0);
    if (attrs.inputShape.length !== 4) {
      throw new ShapeError(
        `conv2dBackpropInput: argument 'inputShape' must be [N,H,W,Cin], got ${fmtShape(attrs.inputShape)}`,
      );
    }
    const d = checkConvArgs('conv2dBackpropInput', { shape: attrs.inputShape, dtype: 'float32' }, w, attrs);
    checkDy('conv2dBackpropInput', dy, d);
    return [{ shape: [...attrs.inputShape], dtype: 'float32' }];
  },
  forward(io, attrs) {
    return splitBatch(io, 'conv2dBackpropInput', layoutOf(attrs), (sub, images) => {
      const d = dimsOf([images, ...attrs.inputShape.slice(1)], sub.inputs[1].spec.shape, attrs);
      const choice = sub.tune({
        op: 'conv2dBackpropInput',
        shapeClass: convKey(d),
        candidates: backpropInputCandidates(d, sub.limits),
        fallback: chooseBackpropInput(sub.software, d),
        plan: (tio, c) => backpropInputPlan(tio, d, c, attrs.storeSum),
      });
      return backpropInputPlan(sub, d, choice, attrs.storeSum);
    });
  },
  bindsRanges: true,
  checkSplit(inputs, attrs, limits) {
    const output = this.check(inputs, attrs)[0];
    checkBatchSplit('conv2dBackpropInput', inputs, output, layoutOf(attrs), limits);
  },
  backward: null,
  cost([dy, w], attrs) {
    const d = dimsOf(attrs.inputShape, w.shape, attrs);
    const reads = (attrs.reluMask ? 2 : 1) * sizeOf(dy.shape) + sizeOf(w.shape);
    const dx = sizeOf(attrs.inputShape);
    return { flops: convFlops(d), bytes: 4 * (reads + (1 + storeInputs(attrs)) * dx) };
  },
  reference(inputs, attrs) {
    const own = inputs.length - storeInputs(attrs);
    const [dy, w] = refMasked(inputs.slice(0, own), attrs, 2, 0);
    const dx = refConv2dBackpropInput(dy, w, dimsOf(attrs.inputShape, w.shape, attrs));
    return [refStoreSum(dx, inputs.slice(own), attrs)];
  },
};

/**
 * The gradient of conv2d with respect to its input.
 * Shapes: dy [N,OH,OW,Cout], w [KH,KW,Cin,Cout], inputShape [N,H,W,Cin] → dx [N,H,W,Cin].
 */
export function conv2dBackpropInput(
  dy: Tensor,
  w: Tensor,
  inputShape: readonly number[],
  attrs: ConvAttrs,
): Tensor {
  return apply(conv2dBackpropInputOp, [dy, w], { ...attrs, inputShape: [...inputShape] }, ['dy', 'w']);
}
