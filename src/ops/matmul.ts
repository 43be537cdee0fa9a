// matmul (with tf.matMul's transposes) and dense (matmul with the bias add fused into the GEMM epilogue).
import { ShapeError, fmtShape } from '../errors.js';
import { hasSubgroups } from '../gpu/device.js';
import type { Dispatch } from '../gpu/runtime.js';
import { apply } from '../graph/record.js';
import { state } from '../graph/state.js';
import { checkOptionKeys } from '../options.js';
import type { Tensor } from '../graph/tensor.js';
import { refMatmul } from '../reference/matmul.js';
import { producerEpilogue } from './epilogue.js';
import { sum } from './reduce.js';
import type { GemmLayout } from './split.js';
import { checkGemmSplit, splitGemm } from './split_parts.js';
import { type KernelIO, type OpDef, type TensorSpec } from './types.js';
import { expectFloat, expectRank } from './util.js';
import {
  DEFAULT_WGTILE,
  WGTILE_CANDIDATES,
  requireSubgroups,
  tileBlock,
  tileConstants,
  tileFits,
  type WgTile,
} from './wgtile.js';

/**
 * GEMM kernel variants. 'register': barrier-free, a 4x4 tile per invocation in registers (vec4 loads of B
 * when N % 4 == 0 and B is not transposed): best where barriers are expensive (llvmpipe, SwiftShader).
 * 'tiled': 32x32 shared-memory tiles with two barriers per K step. 'wgtile': double-buffered workgroup-memory
 * tiles (64x64 by default, see WgTile) with one barrier per K step: for real GPUs. 'subgroup': 'wgtile' with the
 * A fragments shared across subgroup lanes by subgroupShuffle instead of staged in workgroup memory; only on
 * devices with the 'subgroups' feature (forcing it elsewhere throws ArgumentError), a tuner candidate there.
 */
export type MatmulKernel = 'register' | 'tiled' | 'wgtile' | 'subgroup';

/** Every GEMM kernel variant, for tests and the tuner ('subgroup' needs the 'subgroups' feature). */
export const MATMUL_KERNELS: readonly MatmulKernel[] = ['register', 'tiled', 'wgtile', 'subgroup'];

export interface MatmulAttrs {
  /** Use aᵀ: a is [K,M] (default false). */
  transposeA?: boolean;
  /** Use bᵀ: b is [N,K] (default false). */
  transposeB?: boolean;
  /** Forces a kernel variant (tests, benchmarks); by default 'wgtile' on real GPUs, 'register' elsewhere. */
  kernel?: MatmulKernel;
}

/** Invocations per workgroup of the register kernels. */
const REGISTER_WG = 64;
/** Invocations per side of the tiled kernel's square workgroup; each computes 4x4, so tiles are 32x32. */
const TILED_TS = 8;
/** K step of the tiled kernel (each slab in workgroup memory is 4 * TILED_TS * TILED_KT floats). */
const TILED_KT = 32;

/** Workgroup shape of the register kernels: BX column tiles by WG / BX row tiles, and how many workgroups. */
function registerGrid(rowTiles: number, tilesN: number): Pick<Dispatch, 'constants' | 'workgroups'> {
  // Narrow outputs (N = 10 classes: 3 column tiles) get a narrow block, so few lanes idle at the edge.
  const bx = Math.min(8, 2 ** Math.ceil(Math.log2(tilesN)));
  return {
    constants: { WG: REGISTER_WG, BX: bx },
    workgroups: Math.ceil(rowTiles / (REGISTER_WG / bx)) * Math.ceil(tilesN / bx),
  };
}

export interface GemmDims {
  m: number;
  n: number;
  k: number;
  /** Stored row length of a (K, or M transposed) when it differs: a part of a split GEMM (ops/split_parts.ts). */
  lda?: number;
  /** Stored row length of b (N, or K transposed) when it differs. */
  ldb?: number;
}

/** Checks a [M,K] (or [K,M]) against b [K,N] (or [N,K]) and returns M, N, K. */
function gemmDims(
  op: string,
  a: TensorSpec,
  b: TensorSpec,
  attrs: MatmulAttrs,
  names: [string, string],
): GemmDims {
  expectFloat(op, names[0], a);
  expectFloat(op, names[1], b);
  expectRank(op, names[0], a, 2, attrs.transposeA ? '[K,M]' : '[M,K]');
  expectRank(op, names[1], b, 2, attrs.transposeB ? '[N,K]' : '[K,N]');
  const [m, ka] = attrs.transposeA ? [a.shape[1], a.shape[0]] : a.shape;
  const [kb, n] = attrs.transposeB ? [b.shape[1], b.shape[0]] : b.shape;
  if (ka !== kb) {
    const flags = `transposeA=${!!attrs.transposeA}, transposeB=${!!attrs.transposeB}`;
    throw new ShapeError(
      `${op}: inner dimensions differ: '${names[0]}' ${fmtShape(a.shape)} has K=${ka} but '${names[1]}' ${fmtShape(b.shape)} has K=${kb} (${flags})`,
    );
  }
  return { m, n, k: ka };
}

/** A GEMM kernel choice: the variant and, for 'wgtile' and 'subgroup', its workgroup tile. */
export interface GemmChoice {
  kernel: MatmulKernel;
  tile?: WgTile;
}

/** The GEMM kernel when nothing was tuned or forced: 'register' on CPU adapters, 'wgtile' on GPUs. */
export function chooseGemm(cpu: boolean): GemmChoice {
  return cpu ? { kernel: 'register' } : { kernel: 'wgtile', tile: DEFAULT_WGTILE };
}

/** Every GEMM choice for a device with `limits`: what the tuner times ('subgroup' only with the feature). */
export function gemmCandidates(limits: Readonly<Record<string, number>>): GemmChoice[] {
  const tiled = WGTILE_CANDIDATES.filter((t) => tileFits(t, limits));
  const subgroup = hasSubgroups(limits) ? tiled.map((tile) => ({ kernel: 'subgroup' as const, tile })) : [];
  return [
    { kernel: 'register' },
    { kernel: 'tiled' },
    ...tiled.map((tile) => ({ kernel: 'wgtile' as const, tile })),
    ...subgroup,
  ];
}

/** The GEMM dispatch for io's inputs [a, b, bias?] and output 0 with one kernel choice. */
export function planGemm(
  io: KernelIO,
  attrs: Pick<MatmulAttrs, 'transposeA' | 'transposeB'>,
  { m, n, k, lda, ldb }: GemmDims,
  choice: GemmChoice,
): Dispatch[] {
  if (m === 0 || n === 0) return [];
  const { buffers, regions } = producerEpilogue(io);
  // Element strides of A(m, k) and B(k, n) in the stored layouts.
  const [aM, aK] = attrs.transposeA ? [1, lda ?? m] : [lda ?? k, 1];
  const [bK, bN] = attrs.transposeB ? [1, ldb ?? k] : [ldb ?? n, 1];
  const { kernel } = choice;
  const rowTiles = Math.ceil(m / 4);
  if (kernel === 'register' && n % 4 === 0 && !attrs.transposeB && (ldb ?? n) === n) {
    const tilesN = n / 4;
    return [
      {
        shader: 'matmul_register_vec4',
        uniforms: [m, n, k, aM, aK, tilesN],
        ...registerGrid(rowTiles, tilesN),
        buffers,
        regions: regions('vec4f'),
      },
    ];
  }
  const common = { buffers, regions: regions('f32') };
  if (kernel === 'wgtile' || kernel === 'subgroup') {
    if (kernel === 'subgroup') requireSubgroups("matmul/dense: kernel variant 'subgroup'", io.limits);
    const tile = choice.tile ?? DEFAULT_WGTILE;
    const { bm, bn } = tileBlock(tile);
    const tilesN = Math.ceil(n / bn);
    return [
      {
        shader: kernel === 'wgtile' ? 'matmul_wgtile' : 'matmul_wgtile_subgroup',
        constants: tileConstants('matmul', tile),
        uniforms: [m, n, k, aM, aK, bK, bN, tilesN],
        workgroups: Math.ceil(m / bm) * tilesN,
        ...common,
      },
    ];
  }
  if (kernel === 'tiled') {
    const tile = 4 * TILED_TS;
    const tilesN = Math.ceil(n / tile);
    return [
      {
        shader: 'matmul_tiled',
        constants: { TS: TILED_TS, KT: TILED_KT },
        uniforms: [m, n, k, aM, aK, bK, bN, tilesN],
        workgroups: Math.ceil(m / tile) * tilesN,
        ...common,
      },
    ];
  }
  const tilesN = Math.ceil(n / 4);
  return [
    {
      shader: 'matmul_register',
      uniforms: [m, n, k, aM, aK, bK, bN, tilesN],
      ...registerGrid(rowTiles, tilesN),
      ...common,
    },
  ];
}

/** The forced kernel (with the default tile for the tiled ones), else the tuner's choice for this shape. */
function gemmChoice(io: KernelIO, attrs: MatmulAttrs, dims: GemmDims): GemmChoice {
  const forced = attrs.kernel;
  if (forced) {
    const tiled = forced === 'wgtile' || forced === 'subgroup';
    return tiled ? { kernel: forced, tile: DEFAULT_WGTILE } : { kernel: forced };
  }
  const { m, n, k } = dims;
  const t = `${attrs.transposeA ? 'T' : 'N'}${attrs.transposeB ? 'T' : 'N'}`;
  return io.tune({
    op: 'matmul',
    shapeClass: `${m}x${k}x${n} ${t} bias ${io.inputs.length === 3}`,
    candidates: gemmCandidates(io.limits),
    fallback: chooseGemm(io.software),
    plan: (tio, c) => planGemm(tio, attrs, { m, n, k }, c),
  });
}

function matmulLayout(attrs: MatmulAttrs): GemmLayout {
  return { transposeA: !!attrs.transposeA, transposeB: !!attrs.transposeB, bias: false, names: ['a', 'b'] };
}

function gemmCost({ m, n, k }: GemmDims, bias: boolean) {
  return { flops: 2 * m * n * k + (bias ? m * n : 0), bytes: 4 * (m * k + k * n + m * n + (bias ? n : 0)) };
}

export const matmulOp: OpDef<MatmulAttrs> = {
  name: 'matmul',
  check([a, b], attrs) {
    const { m, n } = gemmDims('matmul', a, b, attrs, ['a', 'b']);
    return [{ shape: [m, n], dtype: 'float32' }];
  },
  forward(io, attrs) {
    const [a, b] = io.inputs;
    const dims = gemmDims('matmul', a.spec, b.spec, attrs, ['a', 'b']);
    return splitGemm(io, 'matmul', matmulLayout(attrs), dims, (sub, part) =>
      planGemm(sub, attrs, part, gemmChoice(sub, attrs, part)),
    );
  },
  bindsRanges: true,
  checkSplit: ([a, b], attrs, limits) =>
    checkGemmSplit('matmul', gemmDims('matmul', a, b, attrs, ['a', 'b']), matmulLayout(attrs), limits),
  epilogues: ['bn', 'add', 'relu'],
  // C = op(A)·op(B): each gradient is one more matmul with transpose flags, so no transposed copies.
  backward: [
    ({ inputs: [, b], dys: [dy], attrs: { transposeA: tA, transposeB: tB } }) =>
      tA ? matmul(b, dy!, { transposeA: tB, transposeB: true }) : matmul(dy!, b, { transposeB: !tB }),
    ({ inputs: [a], dys: [dy], attrs: { transposeA: tA, transposeB: tB } }) =>
      tB ? matmul(dy!, a, { transposeA: true, transposeB: tA }) : matmul(a, dy!, { transposeA: !tA }),
  ],
  cost: ([a, b], attrs) => gemmCost(gemmDims('matmul', a, b, attrs, ['a', 'b']), false),
  reference: ([a, b], attrs) => [refMatmul(a, b, !!attrs.transposeA, !!attrs.transposeB)],
};

export interface DenseAttrs {
  /** Forces a kernel variant (tests, benchmarks); by default chosen per adapter as for matmul. */
  kernel?: MatmulKernel;
}

const DENSE_LAYOUT: GemmLayout = { transposeA: false, transposeB: false, bias: true, names: ['x', 'w'] };

function denseDims([x, w, bias]: readonly TensorSpec[]): GemmDims {
  const dims = gemmDims('dense', x, w, {}, ['x', 'w']);
  expectFloat('dense', 'bias', bias);
  if (bias.shape.length !== 1 || bias.shape[0] !== dims.n) {
    throw new ShapeError(
      `dense: argument 'bias' must be [U] with U=${dims.n} matching w ${fmtShape(w.shape)}, got ${fmtShape(bias.shape)}`,
    );
  }
  return dims;
}

export const denseOp: OpDef<DenseAttrs> = {
  name: 'dense',
  check(inputs) {
    const { m, n } = denseDims(inputs);
    return [{ shape: [m, n], dtype: 'float32' }];
  },
  forward(io, attrs) {
    const dims = denseDims(io.inputs.map((t) => t.spec));
    return splitGemm(io, 'dense', DENSE_LAYOUT, dims, (sub, part) =>
      planGemm(sub, {}, part, gemmChoice(sub, attrs, part)),
    );
  },
  bindsRanges: true,
  checkSplit: (inputs, _attrs, limits) => checkGemmSplit('dense', denseDims(inputs), DENSE_LAYOUT, limits),
  epilogues: ['bn', 'add', 'relu'],
  backward: [
    ({ inputs: [, w], dys: [dy] }) => matmul(dy!, w, { transposeB: true }),
    ({ inputs: [x], dys: [dy] }) => matmul(x, dy!, { transposeA: true }),
    ({ dys: [dy] }) => sum(dy!, { axis: 0 }),
  ],
  cost: (inputs) => gemmCost(denseDims(inputs), true),
  reference: ([x, w, bias]) => [refMatmul(x, w, false, false, bias)],
};

/** Throws ArgumentError when `kernel` is 'subgroup' and the device in use lacks the 'subgroups' feature. */
function checkForcedKernel(op: string, kernel: MatmulKernel | undefined): void {
  const limits = state.runtime?.info.limits;
  if (kernel === 'subgroup' && limits) requireSubgroups(`${op}: option 'kernel' 'subgroup'`, limits);
}

/**
 * Matrix product as tf.matMul: out = op(a)·op(b), op transposing where asked.
 * Shapes: a [M,K] (transposeA: [K,M]), b [K,N] (transposeB: [N,K]) → [M,N].
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulAttrs = {}): Tensor {
  checkOptionKeys('matmul', options, ['transposeA', 'transposeB', 'kernel']);
  checkForcedKernel('matmul', options.kernel);
  return apply(matmulOp, [a, b], { ...options }, ['a', 'b']);
}

/**
 * A fully connected layer: x·w + bias, with the bias added in the GEMM's epilogue (no extra kernel).
 * Shapes: x [N,K], w [K,U], bias [U] → [N,U].
 */
export function dense(x: Tensor, w: Tensor, bias?: Tensor, options: DenseAttrs = {}): Tensor {
  checkOptionKeys('dense', options, ['kernel']);
  checkForcedKernel('dense', options.kernel);
  if (!bias) return matmul(x, w, options);
  return apply(denseOp, [x, w, bias], { ...options }, ['x', 'w', 'bias']);
}
