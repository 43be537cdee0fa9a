// Float64 CPU reference for ensembleCombine (mean-logit, mean-prob, vote over M predictions) and its backward pass.
import type { RefTensor } from '../ops/types.js';

export type CombineMode = 'mean-prob' | 'mean-logit' | 'vote';

/** Softmax of row (m, n) of z [M, N, K] and its first argmax. */
function rowSoftmax(z: RefTensor, m: number, n: number): { p: number[]; best: number; lse: number } {
  const [, rows, k] = z.shape;
  const base = (m * rows + n) * k;
  let best = 0;
  for (let j = 1; j < k; j++) if (z.data[base + j] > z.data[base + best]) best = j;
  const max = z.data[base + best];
  const e = Array.from({ length: k }, (_, j) => Math.exp(z.data[base + j] - max));
  const s = e.reduce((a, b) => a + b, 0);
  return { p: e.map((v) => v / s), best, lse: max + Math.log(s) };
}

/**
 * Outputs: the combined scores [N, K] (mean logit; log of the mean probability; log((votes + mean probability)
 * / (M + 1))), each member row's log-sum-exp [M, N] and first argmax [M, N].
 */
export function refEnsembleCombine(z: RefTensor, mode: CombineMode): RefTensor[] {
  const [members, rows, k] = z.shape;
  const out = new Float64Array(rows * k);
  const lse = new Float64Array(members * rows);
  const argmax = new Float64Array(members * rows);
  for (let n = 0; n < rows; n++) {
    const q = new Array<number>(k).fill(0);
    const votes = new Array<number>(k).fill(0);
    for (let m = 0; m < members; m++) {
      const s = rowSoftmax(z, m, n);
      s.p.forEach((v, j) => (q[j] += v / members));
      votes[s.best]++;
      lse[m * rows + n] = s.lse;
      argmax[m * rows + n] = s.best;
      if (mode === 'mean-logit')
        for (let j = 0; j < k; j++) out[n * k + j] += z.data[(m * rows + n) * k + j] / members;
    }
    if (mode === 'mean-prob') for (let j = 0; j < k; j++) out[n * k + j] = Math.log(q[j]);
    if (mode === 'vote')
      for (let j = 0; j < k; j++) out[n * k + j] = Math.log((votes[j] + q[j]) / (members + 1));
  }
  return [
    { shape: [rows, k], data: out },
    { shape: [members, rows], data: lse },
    { shape: [members, rows], data: argmax },
  ];
}

/**
 * dz[m, n, j] = sum_c dy[n, c] * d out[n, c] / d z[m, n, j], with the votes held constant (argmax has no
 * gradient). mean-prob: d out_c / d q_c = 1 / q_c; vote: 1 / (votes_c + q_c); and
 * d q_c / d z_j = p_c (delta_cj - p_j) / M.
 */
export function refEnsembleCombineBackward(dy: RefTensor, z: RefTensor, mode: CombineMode): RefTensor {
  const [members, rows, k] = z.shape;
  const dz = new Float64Array(members * rows * k);
  for (let n = 0; n < rows; n++) {
    const soft = Array.from({ length: members }, (_, m) => rowSoftmax(z, m, n));
    const q = new Array<number>(k).fill(0);
    const votes = new Array<number>(k).fill(0);
    for (const s of soft) {
      s.p.forEach((v, j) => (q[j] += v / members));
      votes[s.best]++;
    }
    for (let m = 0; m < members; m++)
      for (let j = 0; j < k; j++) {
        let g = 0;
        if (mode === 'mean-logit') g = dy.data[n * k + j] / members;
        else
          for (let c = 0; c < k; c++) {
            const dOutDq = mode === 'mean-prob' ? 1 / q[c] : 1 / (votes[c] + q[c]);
            const p = soft[m].p;
            g += (dy.data[n * k + c] * dOutDq * p[c] * ((c === j ? 1 : 0) - p[j])) / members;
          }
        dz[(m * rows + n) * k + j] = g;
      }
  }
  return { shape: [members, rows, k], data: dz };
}
