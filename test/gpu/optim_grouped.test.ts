// Grouped optimizer updates (one kernel per group of parameters) vs the float64 step reference and vs one kernel
// per parameter (groupSize 1), bit for bit, over group counts around the device's group size; state round trips.
import { describe, expect, it } from 'vitest';
import {
  Adam,
  AdamW,
  ArgumentError,
  SGD,
  add,
  explain,
  info,
  mul,
  sum,
  tensor,
  tidy,
  type Optimizer,
  type Tensor,
} from '../../src/index.js';
import { adamUpdate } from '../../src/ops/adam_update.js';
import { maxGroupSize, type UpdateKernelSpec } from '../../src/ops/optimizer_kernel.js';
import { sgdMomentumUpdate, sgdUpdate } from '../../src/ops/sgd_update.js';
import type { RefTensor } from '../../src/ops/types.js';
import { refAdamStep, refSgdStep } from '../../src/reference/optim.js';
import { expectClose, seeded, useGpu } from '../helpers.js';

useGpu();

/** Parameter shapes, cycled: element counts 1, 3, 4, 5, 257, 4099. */
const SHAPES = [[1], [3], [2, 2], [5], [257], [4099]];

interface Config {
  name: string;
  spec: UpdateKernelSpec;
  state: string[];
  make(params: Tensor[], groupSize?: number): Optimizer;
  /** One float64 step of one parameter from its values before the step; returns p and the state buffers. */
  ref(p: RefTensor, grad: RefTensor, state: RefTensor[], step: number): RefTensor[];
}

const sgd = (o: { momentum?: number; nesterov?: boolean; weightDecay?: number }) => ({
  make: (ps: Tensor[], groupSize?: number) => new SGD(ps, { lr: 0.05, ...o, groupSize }),
  ref: (p: RefTensor, g: RefTensor, [v]: RefTensor[], step: number) =>
    refSgdStep(p, g, o.momentum ? v : null, {
      lr: 0.05,
      weightDecay: o.weightDecay ?? 0,
      momentum: o.momentum ?? 0,
      nesterov: o.nesterov ?? false,
      first: step === 1,
    }),
});
const adam = (decoupled: boolean) => {
  const a = { lr: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.02 };
  const Make = decoupled ? AdamW : Adam;
  return {
    spec: adamUpdate.spec,
    state: ['exp_avg', 'exp_avg_sq'],
    make: (ps: Tensor[], groupSize?: number) => new Make(ps, { ...a, groupSize }),
    ref: (p: RefTensor, g: RefTensor, [m, v]: RefTensor[], step: number) =>
      refAdamStep(p, g, m, v, { ...a, decoupled }, step),
  };
};

const CONFIGS: Config[] = [
  { name: 'SGD', spec: sgdUpdate.spec, state: [], ...sgd({}) },
  { name: 'SGD weight decay', spec: sgdUpdate.spec, state: [], ...sgd({ weightDecay: 0.1 }) },
  {
    name: 'SGD momentum',
    spec: sgdMomentumUpdate.spec,
    state: ['momentum_buffer'],
    ...sgd({ momentum: 0.9 }),
  },
  {
    name: 'SGD nesterov, weight decay',
    spec: sgdMomentumUpdate.spec,
    state: ['momentum_buffer'],
    ...sgd({ momentum: 0.8, nesterov: true, weightDecay: 0.01 }),
  },
  { name: 'Adam', ...adam(false) },
  { name: 'AdamW', ...adam(true) },
];

/**
 * `n` parameters of mixed shapes (one frozen at `frozen`), with a loss sum_i sum(c_i p_i^2 + d_i p_i) whose
 * gradients change with p. `values` starts them from given values (a copy of another set).
 */
function problem(n: number, frozen = -1, values?: Float32Array[]) {
  const shapes = Array.from({ length: n }, (_, i) => SHAPES[i % SHAPES.length]);
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const params = shapes.map((s, i) =>
    tensor(values?.[i] ?? seeded(size(s), 100 + i), s, { requiresGrad: i !== frozen }),
  );
  const cs = shapes.map((s, i) =>
    tensor(
      seeded(size(s), 200 + i).map((v) => v + 1.5),
      s,
    ),
  );
  const ds = shapes.map((s, i) => tensor(seeded(size(s), 300 + i), s));
  /** Gradients for the parameters `only` accepts (default all): the others get none and skip the step. */
  const backward = (only: (i: number) => boolean = () => true) =>
    tidy(() => {
      const terms = params.flatMap((p, i) =>
        only(i) ? [sum(add(mul(mul(p, p), cs[i]), mul(p, ds[i])))] : [],
      );
      terms.reduce((a, b) => add(a, b)).backward();
    });
  return { params, backward };
}

const ref = async (t: Tensor): Promise<RefTensor> => ({
  shape: t.shape,
  data: Float64Array.from(await t.data()),
});
const bits = async (ts: Tensor[]) =>
  Promise.all(ts.map(async (t) => Array.from(new Uint32Array((await t.data()).buffer))));

/** The parameters and every state buffer of `opt`, in a fixed order. */
function everything(opt: Optimizer, params: Tensor[]): Tensor[] {
  const dict = opt.stateDict();
  return [
    ...params,
    ...Object.keys(dict)
      .filter((k) => !k.endsWith('.step'))
      .sort()
      .map((k) => dict[k]),
  ];
}

const tol = { atol: 1e-7, rtol: 2e-6 };

for (const c of CONFIGS) {
  describe(c.name, () => {
    const k = () => maxGroupSize(c.spec, info().limits);
    const counts = () => [...new Set([1, 2, k() - 1, k(), k() + 1, 3 * k() + 2].filter((n) => n >= 1))];

    it('matches the float64 step and one kernel per parameter bit for bit, groups of 1, 2, K-1, K, K+1, 3K+2', async () => {
      for (const n of counts()) {
        const frozen = n >= 3 ? Math.floor(n / 2) : -1;
        const a = problem(n, frozen);
        const b = problem(n, frozen);
        const grouped = c.make(a.params);
        const single = c.make(b.params, 1);
        const frozenBefore = frozen >= 0 ? await a.params[frozen].data() : null;
        // Step 1 updates the even parameters only, so later groups mix parameters at different step counts
        // (each with its own first step and bias corrections).
        const count = new Array<number>(n).fill(0);
        for (let step = 1; step <= 4; step++) {
          const label = `${n} params, step ${step}`;
          const only = step === 1 && n > 1 ? (i: number) => i % 2 === 0 : undefined;
          a.backward(only);
          b.backward(only);
          const dict = grouped.stateDict();
          const before = await Promise.all(
            a.params.map(async (p, i) =>
              p.grad
                ? {
                    p: await ref(p),
                    grad: await ref(p.grad!),
                    state: await Promise.all(
                      c.state.map((s) =>
                        count[i] === 0
                          ? { shape: p.shape, data: new Float64Array(p.size) }
                          : ref(dict[`${i}.${s}`]),
                      ),
                    ),
                  }
                : null,
            ),
          );
          await Promise.all([grouped.step(), single.step()]);
          grouped.zeroGrad();
          single.zeroGrad();
          expect(await bits(everything(grouped, a.params)), label).toEqual(
            await bits(everything(single, b.params)),
          );
          const after = grouped.stateDict();
          for (let i = 0; i < n; i++) {
            const was = before[i];
            if (!was) continue;
            const [p, ...state] = c.ref(was.p, was.grad, was.state, ++count[i]);
            expectClose(await a.params[i].data(), p.data, tol, `${label} param ${i}`);
            for (const [j, s] of c.state.entries()) {
              expectClose(await after[`${i}.${s}`].data(), state[j].data, tol, `${label} ${i}.${s}`);
            }
          }
        }
        if (frozenBefore) {
          expect(Array.from(await a.params[frozen].data())).toEqual(Array.from(frozenBefore));
          expect(Object.keys(grouped.stateDict()).some((key) => key.startsWith(`${frozen}.`))).toBe(false);
        }
      }
    });

    it('plans one update kernel per group of up to K trainable parameters (per parameter with groupSize 1)', async () => {
      const n = 3 * k() + 2;
      for (const groupSize of [undefined, 1]) {
        const { params, backward } = problem(n, 1);
        const opt = c.make(params, groupSize);
        const plan = await explain(async () => {
          backward();
          await opt.step();
          opt.zeroGrad();
        });
        const updates = plan.kernels.filter((kern) => kern.shader === 'optimizer_update');
        const per = groupSize ?? k();
        expect(updates.length).toBe(Math.ceil((n - 1) / per));
        for (const u of updates) expect(u.nodes.length).toBe(1);
        expect(updates.map((u) => u.buffers)).toEqual(
          updates.map((_, g) => Math.min(per, n - 1 - g * per) * c.spec.buffers.length),
        );
      }
    });

    it('round-trips its state through stateDict / loadStateDict into a new optimizer', async () => {
      const n = k() + 1;
      const a = problem(n);
      const opt = c.make(a.params);
      for (let step = 0; step < 2; step++) {
        a.backward();
        await opt.step();
        opt.zeroGrad();
      }
      const b = problem(n, -1, await Promise.all(a.params.map((p) => p.data())));
      const copy = c.make(b.params);
      await copy.loadStateDict(opt.stateDict());
      a.backward();
      b.backward();
      await Promise.all([opt.step(), copy.step()]);
      expect(await bits(everything(copy, b.params))).toEqual(await bits(everything(opt, a.params)));
      expect(await copy.stateDict()['0.step'].item()).toBe(3);
    });
  });
}

describe('grouped updates, edge cases', () => {
  it('skips a parameter without elements (its step still counts) and updates the others', async () => {
    const p = tensor([1, -2, 3], [3], { requiresGrad: true });
    const empty = tensor([], [0], { requiresGrad: true });
    const q = tensor([0.5], [1], { requiresGrad: true });
    const opt = new Adam([p, empty, q], { lr: 0.1 });
    add(add(sum(mul(p, p)), sum(mul(empty, empty))), sum(mul(q, q))).backward();
    await opt.step();
    expectClose(await p.data(), [0.9, -1.9, 2.9], { atol: 1e-6, rtol: 0 });
    expectClose(await q.data(), [0.4], { atol: 1e-6, rtol: 0 });
    expect(await opt.stateDict()['1.step'].item()).toBe(1);
    expect((await opt.stateDict()['1.exp_avg'].data()).length).toBe(0);
  });

  it('refuses a groupSize that is not an integer from 1 to 16', () => {
    const p = tensor([1], [1], { requiresGrad: true });
    for (const groupSize of [0, 17, 1.5, NaN]) {
      expect(() => new SGD([p], { lr: 0.1, groupSize })).toThrow(ArgumentError);
      expect(() => new Adam([p], { lr: 0.1, groupSize })).toThrow(/'groupSize' must be/);
    }
    expect(new AdamW([p], { lr: 0.1, groupSize: 16 }).groupSize).toBe(16);
  });
});
