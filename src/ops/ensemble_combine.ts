// ensembleCombine: M predictions per row combined by mean logit, mean probability or vote; its backward pass.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { record, apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { refEnsembleCombine, refEnsembleCombineBackward, type CombineMode } from '../reference/ensemble.js';
import { sizeOf, type OpDef, type TensorSpec } from './types.js';
import { ELEMENTWISE_WG, expectFloat, expectRank, workgroupsFor } from './util.js';

export type { CombineMode };

export const COMBINE_MODES: readonly CombineMode[] = ['mean-prob', 'mean-logit', 'vote'];

interface CombineAttrs {
  mode: CombineMode;
}

const MODE_CODE: Record<CombineMode, number> = { 'mean-logit': 0, 'mean-prob': 1, vote: 2 };

/** The shift in r = exp(z - lse - out - shift) (see ensemble_combine_backward_rows.wgsl). */
const shiftOf = (mode: CombineMode, members: number) => (mode === 'vote' ? Math.log(members + 1) : 0);

function checkPredictions(op: string, z: TensorSpec): [number, number, number] {
  expectFloat(op, 'z', z);
  expectRank(op, 'z', z, 3, '[M,N,K]');
  const [m, n, k] = z.shape;
  if (m < 1 || k < 1) {
    throw new ShapeError(
      `${op}: argument 'z' needs at least one member and one class, got ${fmtShape(z.shape)}`,
    );
  }
  return [m, n, k];
}

function checkMode(op: string, mode: CombineMode): void {
  if (!COMBINE_MODES.includes(mode)) {
    throw new ArgumentError(
      `${op}: 'combine' must be one of ${COMBINE_MODES.join(', ')}, got '${String(mode)}'`,
    );
  }
}

/** Outputs: 0 the combined scores [N,K]; 1 each member row's log-sum-exp [M,N] and 2 its argmax [M,N] int32. */
export const ensembleCombineOp: OpDef<CombineAttrs> = {
  name: 'ensembleCombine',
  check([z], { mode }) {
    checkMode('ensembleCombine', mode);
    const [m, n, k] = checkPredictions('ensembleCombine', z);
    return [
      { shape: [n, k], dtype: 'float32' },
      { shape: [m, n], dtype: 'float32' },
      { shape: [m, n], dtype: 'int32' },
    ];
  },
  forward(io, { mode }) {
    const [m, n, k] = io.inputs[0].spec.shape;
    if (n === 0) return [];
    const [out, lse, argmax] = io.outputs.map((o) => o.buffer);
    const z = io.inputs[0].buffer;
    return [
      {
        shader: 'ensemble_row_stats',
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [m * n, k],
        buffers: [z, lse, argmax],
        workgroups: workgroupsFor(m * n),
      },
      {
        shader: 'ensemble_combine',
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [m, n, k, MODE_CODE[mode]],
        buffers: [z, lse, argmax, out],
        workgroups: workgroupsFor(n * k),
      },
    ];
  },
  // Only the scores are differentiable; log-sum-exp and argmax are saved for the backward pass and for reuse.
  backward: [
    ({ inputs: [z], outputs: [out, lse], dys: [dy], attrs }) =>
      ensembleCombineBackward(dy!, z, out, lse, attrs.mode),
  ],
  cost: ([z]) => ({ flops: 6 * sizeOf(z.shape), bytes: 8 * sizeOf(z.shape) }),
  reference: ([z], { mode }) => refEnsembleCombine(z, mode),
};

export const ensembleCombineBackwardOp: OpDef<CombineAttrs> = {
  name: 'ensembleCombineBackward',
  check([dy, z, out, lse], { mode }) {
    const op = 'ensembleCombineBackward';
    checkMode(op, mode);
    const [m, n, k] = checkPredictions(op, z);
    const expect = (name: string, t: TensorSpec, shape: number[]) => {
      expectFloat(op, name, t);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new ShapeError(
          `${op}: argument '${name}' must be ${fmtShape(shape)}, got ${fmtShape(t.shape)}`,
        );
      }
    };
    expect('dy', dy, [n, k]);
    expect('out', out, [n, k]);
    expect('lse', lse, [m, n]);
    return [z];
  },
  forward(io, { mode }) {
    const [m, n, k] = io.inputs[1].spec.shape;
    if (n === 0) return [];
    const [dy, z, out, lse] = io.inputs.map((i) => i.buffer);
    const shift = { f32: shiftOf(mode, m) };
    // mean-logit needs no row sums; the binding still wants a buffer, so the tiny lse stands in.
    const rowSums = mode === 'mean-logit' ? lse : io.scratch(m * n * 4);
    const element = {
      shader: 'ensemble_combine_backward' as const,
      constants: { WG: ELEMENTWISE_WG },
      uniforms: [m, n, k, MODE_CODE[mode], shift],
      buffers: [dy, z, out, lse, rowSums, io.outputs[0].buffer],
      workgroups: workgroupsFor(m * n * k),
    };
    if (mode === 'mean-logit') return [element];
    return [
      {
        shader: 'ensemble_combine_backward_rows',
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [m, n, k, shift],
        buffers: [dy, z, out, lse, rowSums],
        workgroups: workgroupsFor(m * n),
      },
      element,
    ];
  },
  backward: null,
  cost: ([, z]) => ({ flops: 8 * sizeOf(z.shape), bytes: 12 * sizeOf(z.shape) }),
  reference: ([dy, z], { mode }) => [refEnsembleCombineBackward(dy, z, mode)],
};

/**
 * Combines M predictions (logits) of the same N rows into one [N,K] score per row:
 * - 'mean-logit': the mean of the logits (softmax cross-entropy on it is the loss of the averaged logits);
 * - 'mean-prob': log of the mean of the members' softmax probabilities, a log-probability, so softmax of it
 *   is that mean and softmax cross-entropy on it is -log(mean probability of the label);
 * - 'vote': log((votes + q) / (M + 1)), where each member casts one hard vote for its argmax (the first on
 *   ties) and q is the mean probability, one soft vote that breaks ties in the vote count and keeps the loss
 *   finite when no member votes for the label. Its argmax is the vote's winner.
 * Gradients flow through the probabilities (votes are held fixed, as argmax has none).
 * Shapes: z [M,N,K] → [N,K].
 */
export function ensembleCombine(z: Tensor, mode: CombineMode = 'mean-prob'): Tensor {
  return record(ensembleCombineOp, [z], { mode }, ['z'])[0];
}

/** The backward pass of ensembleCombine. Shapes: dy, out [N,K], z [M,N,K], lse [M,N] → [M,N,K]. */
export function ensembleCombineBackward(
  dy: Tensor,
  z: Tensor,
  out: Tensor,
  lse: Tensor,
  mode: CombineMode,
): Tensor {
  return apply(ensembleCombineBackwardOp, [dy, z, out, lse], { mode }, ['dy', 'z', 'out', 'lse']);
}
