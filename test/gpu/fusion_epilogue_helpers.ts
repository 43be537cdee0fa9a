// Helpers of the fusion tests: seeded leaves, running a graph with chosen fusion passes, fused vs unfused vs float64.
import { expect } from 'vitest';
import {
  explain,
  init,
  keep,
  release,
  tensor,
  tidy,
  type FusionOptions,
  type Tensor,
} from '../../src/index.js';
import { expectClose, expectMatchesReference, seeded } from '../helpers.js';

export const tol = { atol: 2e-4, rtol: 2e-4 };

/** A leaf of seeded values in [lo, hi), kept past the tidy scope it is made in (the reference reads it). */
export function leaf(shape: number[], seed: number, lo = -1, hi = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return keep(
    tensor(
      seeded(n, seed).map((v) => lo + ((v + 1) / 2) * (hi - lo)),
      shape,
    ),
  );
}

/** Runs `build` with the engine opened with `fusion`: its outputs' values and the ops of each planned kernel. */
export async function withFusion(
  fusion: FusionOptions,
  build: () => Tensor[],
  check?: (outs: Tensor[]) => Promise<void>,
): Promise<{ values: Float32Array[]; kernels: string[] }> {
  release();
  await init({ poisonBuffers: true, fusion });
  try {
    const plan = await explain(() => tidy(build));
    const outs = tidy(build);
    const values = await Promise.all(outs.map((t) => t.data()));
    if (check) await check(outs);
    return { values, kernels: plan.kernels.map((k) => k.nodes.map((n) => n.op).join('+')) };
  } finally {
    release();
  }
}

/** Fused (the given passes) and unfused agree, both match the float64 reference, and the fused plan has `kernels`. */
export async function expectFused(
  fusion: FusionOptions,
  build: () => Tensor[],
  kernels: string[],
  label: string,
): Promise<void> {
  const reference = (outs: Tensor[]) => expectMatchesReference(outs, tol, label);
  const off = await withFusion(false, build, reference);
  const on = await withFusion(fusion, build, reference);
  expect(on.kernels, label).toEqual(kernels);
  on.values.forEach((v, i) => expectClose(v, off.values[i], tol, `${label}: fused vs unfused output ${i}`));
}
