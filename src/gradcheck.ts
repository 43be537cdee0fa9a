// gradcheck: compares backward() on the device with central finite differences of the float64 reference.
import { ArgumentError } from './errors.js';
import { tensor } from './graph/create.js';
import { Rng } from './graph/random.js';
import { Tensor } from './graph/tensor.js';
import { openScope } from './graph/tidy.js';
import { mul } from './ops/arithmetic.js';
import { sum } from './ops/reduce.js';
import { checkInteger, checkOptionKeys, checkRange } from './options.js';
import { evaluateReference, readLeaves } from './reference/evaluate.js';

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-3; the reference runs in float64). */
  eps?: number;
  /** Absolute tolerance (default 1e-3). */
  atol?: number;
  /** Relative tolerance (default 1e-2): passes when |analytic - numeric| <= atol + rtol * |numeric|. */
  rtol?: number;
  /** Elements checked per input, sampled with a fixed seed (default 64; all when smaller). */
  samples?: number;
  seed?: number;
}

export interface GradcheckMismatch {
  input: number;
  index: number;
  analytic: number;
  numeric: number;
}

export interface GradcheckResult {
  ok: boolean;
  checked: number;
  maxAbsError: number;
  mismatches: GradcheckMismatch[];
}

/**
 * Checks the gradients of `fn` at `inputs` (leaf tensors). A non-scalar output is reduced with fixed random
 * weights, so every output element takes part. The analytic side runs the real kernels; the numeric side
 * perturbs each sampled element by ±eps and evaluates the float64 reference of the same graph.
 */
export async function gradcheck(
  fn: (...inputs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  options: GradcheckOptions = {},
): Promise<GradcheckResult> {
  if (typeof fn !== 'function') throw new ArgumentError(`gradcheck: argument 'fn' must be a function`);
  if (!Array.isArray(inputs))
    throw new ArgumentError(`gradcheck: argument 'inputs' must be an array of tensors`);
  checkOptionKeys('gradcheck', options, ['eps', 'atol', 'rtol', 'samples', 'seed']);
  const { eps = 1e-3, atol = 1e-3, rtol = 1e-2, samples = 64, seed = 0 } = options;
  checkRange('gradcheck', 'eps', eps, Number.MIN_VALUE);
  checkRange('gradcheck', 'atol', atol, 0);
  checkRange('gradcheck', 'rtol', rtol, 0);
  checkInteger('gradcheck', 'samples', samples, 1);
  inputs.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new ArgumentError(`gradcheck: inputs[${i}] is not a Tensor`);
    if (t.node || t.dtype !== 'float32') {
      throw new ArgumentError(`gradcheck: input ${i} must be a float32 leaf tensor, got ${t.toString()}`);
    }
  });
  const saved = inputs.map((t) => t.requiresGrad);
  const oldGrads = inputs.map((t) => t.grad);
  inputs.forEach((t) => {
    t.requiresGrad = true;
    t.grad = null;
  });
  // Tensors made here (and by fn) live until the numeric side has read the graph, then go.
  const scope = openScope();
  try {
    const out = fn(...inputs);
    let loss = out;
    if (out.size !== 1) {
      const rng = new Rng(seed + 1);
      const weights = tensor(
        Array.from({ length: out.size }, () => rng.next() * 2 - 1),
        out.shape,
      );
      loss = sum(mul(out, weights));
    }
    loss.backward();
    const analytic = await Promise.all(inputs.map((t) => t.grad!.data()));
    const leaves = await readLeaves([loss]);
    const rng = new Rng(seed);
    const mismatches: GradcheckMismatch[] = [];
    let maxAbsError = 0;
    let checked = 0;
    inputs.forEach((t, k) => {
      const base = leaves.get(t)!;
      const indices =
        t.size <= samples
          ? Array.from({ length: t.size }, (_, i) => i)
          : Array.from({ length: samples }, () => rng.int(t.size));
      for (const i of indices) {
        const orig = base[i];
        base[i] = orig + eps;
        const plus = evaluateReference([loss], leaves)[0].data[0];
        base[i] = orig - eps;
        const minus = evaluateReference([loss], leaves)[0].data[0];
        base[i] = orig;
        const numeric = (plus - minus) / (2 * eps);
        const err = Math.abs(analytic[k][i] - numeric);
        maxAbsError = Math.max(maxAbsError, err);
        checked++;
        if (!(err <= atol + rtol * Math.abs(numeric)))
          mismatches.push({ input: k, index: i, analytic: analytic[k][i], numeric });
      }
    });
    return { ok: mismatches.length === 0, checked, maxAbsError, mismatches };
  } finally {
    scope.close();
    inputs.forEach((t, i) => {
      t.grad?.dispose();
      t.requiresGrad = saved[i];
      t.grad = oldGrads[i];
    });
  }
}
