// conv2d (NHWC x, HWIO w, optional fused bias): shape rule, kernel variants and their choice, backward rules.
import { groupedConv2d } from './conv_grouped.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { Dispatch } from '../gpu/runtime.js';
import { hasSubgroups } from '../gpu/device.js';
import type { ShaderName } from '../gpu/shaderSources.generated.js';
import { apply } from '../graph/record.js';
import { checkOptionKeys } from '../options.js';
import type { Tensor } from '../graph/tensor.js';
import { refConv2d } from '../reference/conv.js';
import { conv2dBackpropFilter } from './conv2d_backprop_filter.js';
import { conv2dBackpropInput } from './conv2d_backprop_input.js';
import {
  type ConvAttrs,
  convDims,
  type ConvDims,
  convUniforms,
  normalizePair,
  type Padding,
  type Pair,
} from './conv_geometry.js';
import { producerEpilogue } from './epilogue.js';
import { sum } from './reduce.js';
import { type BatchLayout, checkBatchSplit, splitBatch } from './split_parts.js';
import { sizeOf, type KernelIO, type OpDef, type TensorSpec } from './types.js';
import { expectFloat, expectRank, workgroupsFor } from './util.js';
import {
  DEFAULT_WGTILE,
  WGTILE_CANDIDATES,
  tileBlock,
  tileConstants,
  requireSubgroups,
  tileFits,
  type WgTile,
} from './wgtile.js';

/** Threads per workgroup of every conv kernel (llvmpipe runs one workgroup per core thread, SIMD over lanes). */
export const CONV_WG = 64;

/**
 * Smaller workgroup sizes the register and fixed-tile forward kernels can run with: a dispatch that fills at most
 * SMALL_DISPATCH workgroups of CONV_WG invocations (batch-1 convs) leaves cores of a CPU adapter idle, since it
 * runs each workgroup on one thread; the same invocations in workgroups of 32 or 16 spread over more threads.
 */
export const SMALL_WGS = [32, 16] as const;
/** Most workgroups (of CONV_WG) a forward dispatch may fill for the tuner to try SMALL_WGS too. */
export const SMALL_DISPATCH = 4;

/**
 * Forward kernel variants: 'vec4' implicit GEMM with vec4 channel loads (Cin, Cout multiples of 4), 'scalar'
 * implicit GEMM for any channel counts, 'gemm1x1' a plain GEMM for unpadded 1x1 kernels (any stride): these
 * three keep a TM x TN tile in registers, without barriers (CPU adapters). 'vec4_regs' (Cin, Cout multiples of
 * 4) and 'cout4_regs' (Cout a multiple of 4, any Cin) keep a fixed, written-out 8-row x 16-channel tile in
 * matrix registers, with loads hoisted out of the tile (CPU adapters, SwiftShader above all); 'vec4_regs8' has
 * 8 rows x 8 channels, 'vec4_regs16' 16 rows x 16 channels (fewer loads per multiply-add, llvmpipe),
 * 'cout4_regs8' is cout4_regs with 16 rows x 8 channels (Cout 8, the stem). 'wgtile' is an implicit GEMM over
 * double-buffered workgroup-memory tiles for any channel counts (GPUs); 'wgtile_subgroup' the same with the
 * im2col fragments shared across subgroup lanes instead of staged in workgroup memory (only on devices with the
 * 'subgroups' feature: a tuner candidate there, never a fallback).
 */
export const CONV2D_VARIANTS = [
  'vec4',
  'scalar',
  'gemm1x1',
  'vec4_regs',
  'cout4_regs',
  'vec4_regs8',
  'vec4_regs16',
  'cout4_regs8',
  'wgtile',
  'wgtile_subgroup',
] as const;
export type Conv2dVariant = (typeof CONV2D_VARIANTS)[number];
/** The variants whose register tile is a TM x TN override pair. */
type TiledVariant = 'vec4' | 'scalar' | 'gemm1x1';
/** The variants whose register tile is written out in the shader. */
type FixedVariant = 'vec4_regs' | 'cout4_regs' | 'vec4_regs8' | 'vec4_regs16' | 'cout4_regs8';
const FIXED_VARIANTS: readonly FixedVariant[] = [
  'vec4_regs',
  'cout4_regs',
  'vec4_regs8',
  'vec4_regs16',
  'cout4_regs8',
];
/** Each fixed-tile variant's shader and its unrolled tile: GEMM rows and output channels per invocation. */
const FIXED_TILES: Record<FixedVariant, { shader: ShaderName; rows: number; channels: number }> = {
  vec4_regs: { shader: 'conv2d_fwd_vec4_regs', rows: 8, channels: 16 },
  cout4_regs: { shader: 'conv2d_fwd_cout4_regs', rows: 8, channels: 16 },
  vec4_regs8: { shader: 'conv2d_fwd_vec4_regs8', rows: 8, channels: 8 },
  vec4_regs16: { shader: 'conv2d_fwd_vec4_regs16', rows: 16, channels: 16 },
  cout4_regs8: { shader: 'conv2d_fwd_cout4_regs8', rows: 16, channels: 8 },
};

/** Whether a forward variant can run these dims. */
export function conv2dSupports(variant: Conv2dVariant, d: ConvDims): boolean {
  const vec4 = d.cin % 4 === 0 && d.cout % 4 === 0;
  if (variant === 'scalar' || variant === 'wgtile' || variant === 'wgtile_subgroup') return true;
  if (variant === 'vec4' || variant === 'vec4_regs' || variant === 'vec4_regs8' || variant === 'vec4_regs16')
    return vec4;
  if (variant === 'cout4_regs' || variant === 'cout4_regs8') return d.cout % 4 === 0;
  // Every output row must read an existing input row: no padding on any side.
  return (
    vec4 &&
    d.kh === 1 &&
    d.kw === 1 &&
    d.padTop === 0 &&
    d.padLeft === 0 &&
    (d.oh - 1) * d.sh < d.h &&
    (d.ow - 1) * d.sw < d.w
  );
}

/**
 * A forward kernel choice: a register variant with its register tile (TM output rows x TN channel groups), a
 * fixed-tile variant, or 'wgtile' / 'wgtile_subgroup' with its workgroup tile. `wg` (register and fixed-tile
 * variants): invocations per workgroup when not CONV_WG, one of SMALL_WGS.
 */
export type Conv2dChoice =
  | { variant: TiledVariant; tm: number; tn: number; wg?: number }
  | { variant: FixedVariant; wg?: number }
  | { variant: 'wgtile' | 'wgtile_subgroup'; tile: WgTile };

/** Register tile per register variant: CPU adapters (llvmpipe, SwiftShader) want big tiles, GPUs more invocations. */
export function conv2dTiles(cpu: boolean, variant: TiledVariant): { tm: number; tn: number } {
  if (variant === 'scalar') return cpu ? { tm: 4, tn: 4 } : { tm: 2, tn: 4 };
  return cpu ? { tm: 4, tn: 2 } : { tm: 2, tn: 2 };
}

function isFixed(variant: Conv2dVariant): variant is FixedVariant {
  return (FIXED_VARIANTS as readonly string[]).includes(variant);
}

/** A variant with its default tile for the adapter class (what the fallback runs when it picks that variant). */
export function conv2dChoiceOf(cpu: boolean, variant: Conv2dVariant): Conv2dChoice {
  if (variant === 'wgtile' || variant === 'wgtile_subgroup') return { variant, tile: DEFAULT_WGTILE };
  if (isFixed(variant)) return { variant };
  return { variant, ...conv2dTiles(cpu, variant) };
}

/**
 * The forward kernel when nothing was tuned: on GPUs the workgroup-tiled GEMM with its default tile; on CPU
 * adapters the register GEMM for unpadded 1x1; else the fixed tile whose channels divide Cout (so no invocation
 * computes clamped duplicates), each measured faster than the TM x TN kernels on llvmpipe and SwiftShader
 * (docs/kernels.md): where Cout is a multiple of 16, 'cout4_regs' when Cin is not a multiple of 4, else
 * 'vec4_regs16', unless its 16-row tiles leave one workgroup where 'vec4_regs' (8 rows) has two or more (CPU
 * adapters run a workgroup on one thread, and one workgroup leaves the other cores idle); where Cout is a multiple
 * of 8, 'vec4_regs8' or, for Cin not a multiple of 4, 'cout4_regs8'; otherwise vec4 where channels allow, else
 * scalar. A fixed tile that still fills one workgroup is spread (spreadSmall).
 */
export function chooseConv2d(cpu: boolean, d: ConvDims): Conv2dChoice {
  if (!cpu) return { variant: 'wgtile', tile: DEFAULT_WGTILE };
  if (conv2dSupports('gemm1x1', d)) return conv2dChoiceOf(cpu, 'gemm1x1');
  const vec4 = conv2dSupports('vec4', d);
  const variant =
    d.cout % 16 === 0
      ? vec4
        ? fixedWorkgroups(d, 'vec4_regs16') > 1 || fixedWorkgroups(d, 'vec4_regs') === 1
          ? 'vec4_regs16'
          : 'vec4_regs'
        : 'cout4_regs'
      : d.cout % 8 === 0
        ? vec4
          ? 'vec4_regs8'
          : 'cout4_regs8'
        : vec4
          ? 'vec4'
          : 'scalar';
  return spreadSmall(d, conv2dChoiceOf(cpu, variant));
}

/**
 * A fixed-tile CPU fallback that fills one workgroup of CONV_WG (batch-1 convs), spread over more threads: the
 * 16 x 16 tile becomes the 8 x 16 one (twice the invocations), and where there are more than 16 invocations they
 * run in workgroups of 16 (measured on llvmpipe at the default ResNet's and Inception's batch-1 shapes,
 * docs/kernels.md).
 */
function spreadSmall(d: ConvDims, choice: Conv2dChoice): Conv2dChoice {
  if (!isFixed(choice.variant) || fixedWorkgroups(d, choice.variant) > 1) return choice;
  const variant = choice.variant === 'vec4_regs16' ? 'vec4_regs' : choice.variant;
  const wg = SMALL_WGS[SMALL_WGS.length - 1];
  return invocations(d, { variant }) > wg ? { variant, wg } : { variant };
}

/** Workgroups of a fixed-tile variant's dispatch: one invocation per tile of rows x channels. */
function fixedWorkgroups(d: ConvDims, variant: FixedVariant, wg = CONV_WG): number {
  return workgroupsFor(invocations(d, { variant }), wg);
}

/** Invocations of a register or fixed-tile choice's dispatch: one per register tile of rows x channels. */
function invocations(d: ConvDims, choice: Conv2dChoice & { variant: TiledVariant | FixedVariant }): number {
  const m = d.n * d.oh * d.ow;
  if (!('tm' in choice)) {
    const { rows, channels } = FIXED_TILES[choice.variant];
    return Math.ceil(m / rows) * Math.ceil(d.cout / channels);
  }
  return Math.ceil(m / choice.tm) * tiledGroups(d, choice.variant, choice.tn);
}

/** Channel groups of a TM x TN register variant: TN channels (scalar) or TN vec4 groups per invocation. */
function tiledGroups(d: ConvDims, variant: TiledVariant, tn: number): number {
  return Math.ceil(d.cout / (variant === 'scalar' ? tn : 4 * tn));
}

/**
 * The choice with each of SMALL_WGS as its workgroup size, where its CONV_WG dispatch fills at most
 * SMALL_DISPATCH workgroups and has more invocations than the smaller workgroup (else nothing spreads).
 */
function smallWorkgroupChoices(
  d: ConvDims,
  choice: Conv2dChoice & { variant: TiledVariant | FixedVariant },
): Conv2dChoice[] {
  const n = invocations(d, choice);
  if (workgroupsFor(n, CONV_WG) > SMALL_DISPATCH) return [];
  return SMALL_WGS.filter((wg) => n > wg).map((wg) => ({ ...choice, wg }));
}

/** Register tiles the tuner tries besides the fixed ones (TM rows x TN channel groups). */
const REGISTER_TILES: readonly { tm: number; tn: number }[] = [
  { tm: 4, tn: 2 },
  { tm: 2, tn: 2 },
  { tm: 8, tn: 1 },
  { tm: 4, tn: 4 },
  { tm: 8, tn: 2 },
];

/**
 * Every forward choice that can run these dims on a device with `limits`: what the tuner times ('wgtile_subgroup'
 * only where the device has the 'subgroups' feature).
 */
export function conv2dCandidates(d: ConvDims, limits: Readonly<Record<string, number>>): Conv2dChoice[] {
  const out: Conv2dChoice[] = [];
  for (const variant of ['gemm1x1', 'vec4', 'scalar'] as const) {
    if (!conv2dSupports(variant, d)) continue;
    for (const t of REGISTER_TILES)
      out.push({ variant, ...t }, ...smallWorkgroupChoices(d, { variant, ...t }));
  }
  for (const variant of FIXED_VARIANTS) {
    if (conv2dSupports(variant, d)) out.push({ variant }, ...smallWorkgroupChoices(d, { variant }));
  }
  const tiles = WGTILE_CANDIDATES.filter((tile) => tileFits(tile, limits));
  for (const tile of tiles) out.push({ variant: 'wgtile', tile });
  if (hasSubgroups(limits)) for (const tile of tiles) out.push({ variant: 'wgtile_subgroup', tile });
  return out;
}

/**
 * The dispatch of one forward variant, with the conv's bias and what the scheduler fused into its store
 * (io.epilogue) generated into the kernel's epilogue. Buffers: x, w, then the epilogue's (bias, batch-norm
 * statistics, residual) and out.
 * Shapes: x [N,H,W,Cin], w [KH,KW,Cin,Cout], bias [Cout] → out [N,OH,OW,Cout].
 */
export function conv2dPlan(io: KernelIO, d: ConvDims, choice: Conv2dChoice): Dispatch[] {
  const { variant } = choice;
  if (!conv2dSupports(variant, d)) {
    throw new ShapeError(
      `conv2d: variant '${variant}' cannot run x [${d.n},${d.h},${d.w},${d.cin}] with ${d.kh}x${d.kw}x${d.cout} filters`,
    );
  }
  const wg = ('wg' in choice ? choice.wg : undefined) ?? CONV_WG;
  if (wg !== CONV_WG && !(SMALL_WGS as readonly number[]).includes(wg)) {
    throw new ArgumentError(
      `conv2d: choice 'wg' must be ${CONV_WG} or one of ${SMALL_WGS.join(', ')}, got ${wg}`,
    );
  }
  const m = d.n * d.oh * d.ow;
  const { buffers, regions } = producerEpilogue(io);
  if (choice.variant === 'wgtile' || choice.variant === 'wgtile_subgroup') {
    const subgroup = choice.variant === 'wgtile_subgroup';
    if (subgroup) requireSubgroups("conv2d: kernel variant 'wgtile_subgroup'", io.limits);
    const { bm, bn } = tileBlock(choice.tile);
    const tilesN = Math.ceil(d.cout / bn);
    return [
      {
        shader: subgroup ? 'conv2d_fwd_wgtile_subgroup' : 'conv2d_fwd_wgtile',
        constants: tileConstants('conv2d', choice.tile),
        regions: regions('f32'),
        uniforms: [...convUniforms(d), m, d.kh * d.kw * d.cin, tilesN],
        buffers,
        workgroups: Math.ceil(m / bm) * tilesN,
      },
    ];
  }
  if (!('tm' in choice)) {
    const { shader, channels } = FIXED_TILES[choice.variant];
    return [
      {
        shader,
        constants: { WG: wg },
        regions: regions('vec4f'),
        uniforms: [...convUniforms(d), m, Math.ceil(d.cout / channels)],
        buffers,
        workgroups: fixedWorkgroups(d, choice.variant, wg),
      },
    ];
  }
  const { tm, tn } = choice;
  const nGroups = tiledGroups(d, choice.variant, tn);
  const uniforms =
    variant === 'gemm1x1'
      ? [d.n, d.h, d.w, d.cin, d.oh, d.ow, d.cout, d.sh, d.sw, m, nGroups]
      : [...convUniforms(d), m, nGroups];
  const shader =
    variant === 'gemm1x1' ? 'conv2d_fwd_1x1' : variant === 'vec4' ? 'conv2d_fwd_vec4' : 'conv2d_fwd_scalar';
  return [
    {
      shader,
      constants: { WG: wg, TM: tm, TN: tn },
      regions: regions(variant === 'scalar' ? 'f32' : 'vec4f'),
      uniforms,
      buffers,
      workgroups: workgroupsFor(Math.ceil(m / tm) * nGroups, wg),
    },
  ];
}

/** Checks x [N,H,W,Cin] and w [KH,KW,Cin,Cout] for `op` and resolves the geometry. */
export function checkConvArgs(
  op: string,
  x: TensorSpec,
  w: TensorSpec,
  attrs: ConvAttrs,
  wArg = 'w',
): ConvDims {
  expectFloat(op, 'x', x);
  expectFloat(op, wArg, w);
  expectRank(op, 'x', x, 4, 'NHWC');
  expectRank(op, wArg, w, 4, 'KH,KW,Cin,Cout');
  if (w.shape[2] !== x.shape[3]) {
    // x [N,C,H,W] from PyTorch habits: its channels sit at axis 1.
    const nchw = x.shape[1] === w.shape[2] ? ` (x looks NCHW: activations are NHWC, [N,H,W,C])` : '';
    throw new ShapeError(
      `${op}: argument '${wArg}' must be [KH,KW,Cin,Cout] with Cin=${x.shape[3]} matching x ${fmtShape(x.shape)}, got ${fmtShape(w.shape)}${nchw}`,
    );
  }
  if ([...x.shape, ...w.shape].some((s) => s < 1)) {
    throw new ShapeError(
      `${op}: empty tensors are not supported, got x ${fmtShape(x.shape)}, ${wArg} ${fmtShape(w.shape)}`,
    );
  }
  return convDims(op, x.shape, w.shape, attrs);
}

/** Checks that dy is [N,OH,OW,Cout] for the geometry `d`. */
export function checkDy(op: string, dy: TensorSpec, d: ConvDims): void {
  expectFloat(op, 'dy', dy);
  const want = [d.n, d.oh, d.ow, d.cout];
  if (dy.shape.length !== 4 || want.some((v, i) => dy.shape[i] !== v)) {
    throw new ShapeError(`${op}: argument 'dy' must be ${fmtShape(want)}, got ${fmtShape(dy.shape)}`);
  }
}

/** The tuner's shape class of a conv pass: every size of its geometry. */
export function convKey(d: ConvDims): string {
  const { n, h, w, cin, kh, kw, cout, oh, ow, sh, sw, dh, dw, padTop, padLeft } = d;
  return `x ${n}x${h}x${w}x${cin} w ${kh}x${kw}x${cout} out ${oh}x${ow} s ${sh}x${sw} d ${dh}x${dw} pad ${padTop},${padLeft}`;
}

/** FLOPs of one conv2d pass (forward or either backward pass: the same multiply-adds). */
export function convFlops(d: ConvDims): number {
  return 2 * d.n * d.oh * d.ow * d.kh * d.kw * d.cin * d.cout;
}

/** conv2d splits by batch: x and the output per image; w and bias whole. */
const CONV2D_BATCH: BatchLayout = { batched: [0], names: ['x', 'w', 'bias'], sums: false };

export const conv2dOp: OpDef<ConvAttrs> = {
  name: 'conv2d',
  check([x, w, bias], attrs) {
    const d = checkConvArgs('conv2d', x, w, attrs);
    if (bias) {
      expectFloat('conv2d', 'bias', bias);
      if (bias.shape.length !== 1 || bias.shape[0] !== d.cout) {
        throw new ShapeError(
          `conv2d: argument 'bias' must be [${d.cout}] to match w ${fmtShape(w.shape)}, got ${fmtShape(bias.shape)}`,
        );
      }
    }
    return [{ shape: [d.n, d.oh, d.ow, d.cout], dtype: 'float32' }];
  },
  epilogues: ['bn', 'add', 'relu'],
  storesSlice: true,
  forward(io, attrs) {
    return splitBatch(io, 'conv2d', CONV2D_BATCH, (sub) => {
      const d = convDims('conv2d', sub.inputs[0].spec.shape, sub.inputs[1].spec.shape, attrs);
      const choice = sub.tune({
        op: 'conv2d',
        shapeClass: `${convKey(d)} bias ${sub.inputs.length === 3}`,
        candidates: conv2dCandidates(d, sub.limits),
        fallback: chooseConv2d(sub.software, d),
        plan: (tio, c) => conv2dPlan(tio, d, c),
      });
      return conv2dPlan(sub, d, choice);
    });
  },
  bindsRanges: true,
  checkSplit(inputs, attrs, limits) {
    const output = this.check(inputs, attrs)[0];
    checkBatchSplit('conv2d', inputs, output, CONV2D_BATCH, limits);
  },
  backward: [
    ({ inputs: [x, w], dys, attrs }) => conv2dBackpropInput(dys[0]!, w, x.shape, attrs),
    ({ inputs: [x, w], dys, attrs }) => conv2dBackpropFilter(x, dys[0]!, w.shape, attrs),
    ({ dys }) => sum(dys[0]!, { axis: [0, 1, 2] }),
  ],
  cost([x, w], attrs) {
    const d = convDims('conv2d', x.shape, w.shape, attrs);
    return {
      flops: convFlops(d),
      bytes: 4 * (sizeOf(x.shape) + sizeOf(w.shape) + d.n * d.oh * d.ow * d.cout),
    };
  },
  reference([x, w, bias], attrs) {
    return [refConv2d(x, w, bias, convDims('conv2d', x.shape, w.shape, attrs))];
  },
};

export interface Conv2dOptions {
  /** Stride per spatial axis: a number or [h, w] (default 1). */
  stride?: Pair;
  /** 'valid' (default, as in tf.conv2d), 'same', a number for every side, or [[top, bottom], [left, right]]. */
  padding?: Padding;
  /** Dilation per spatial axis: a number or [h, w] (default 1). */
  dilation?: Pair;
  /** Added to every output pixel, fused into the kernel's epilogue. */
  bias?: Tensor;
  /** Channel groups (default 1): w is [KH,KW,Cin/groups,Cout]; groups = Cin is a depthwise conv (conv_grouped.ts). */
  groups?: number;
}

/** Normalizes conv options into the attributes every conv op stores. */
export function convAttrs(op: string, opts: Omit<Conv2dOptions, 'bias'>): ConvAttrs {
  return {
    stride: normalizePair(op, 'stride', opts.stride ?? 1),
    dilation: normalizePair(op, 'dilation', opts.dilation ?? 1),
    padding: opts.padding ?? 'valid',
  };
}

/**
 * 2-D convolution, TensorFlow semantics (cross-correlation, NHWC, HWIO).
 * Shapes: x [N,H,W,Cin], w [KH,KW,Cin,Cout], bias [Cout] → [N,OH,OW,Cout].
 */
export function conv2d(x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor {
  checkOptionKeys('conv2d', opts, ['stride', 'padding', 'dilation', 'bias', 'groups']);
  if (opts.groups !== undefined && opts.groups !== 1) {
    const { groups, ...rest } = opts;
    return groupedConv2d(x, w, groups, rest);
  }
  const attrs = convAttrs('conv2d', opts);
  return opts.bias
    ? apply(conv2dOp, [x, w, opts.bias], attrs, ['x', 'w', 'bias'])
    : apply(conv2dOp, [x, w], attrs, ['x', 'w']);
}
