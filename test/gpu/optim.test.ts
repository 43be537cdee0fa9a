// Optimizer updates on the device vs a float64 transcription of PyTorch's formulas, step by step; one submit per step.
import { describe, expect, it } from 'vitest';
import {
  Adam,
  AdamW,
  ArgumentError,
  SGD,
  add,
  mul,
  stats,
  sum,
  tensor,
  tidy,
  type Optimizer,
  type Tensor,
} from '../../src/index.js';
import { expectClose, seeded, useGpu } from '../helpers.js';

useGpu();

/** A quadratic problem whose gradient depends on p, so momentum and moments see changing gradients. */
function problem(init?: Float32Array[]) {
  const shapes = [[5, 7], [3], [2, 1, 3]];
  const params = shapes.map((s, i) =>
    tensor(
      init?.[i] ??
        seeded(
          s.reduce((a, b) => a * b, 1),
          10 + i,
        ),
      s,
      { requiresGrad: true },
    ),
  );
  const c = shapes.map((s, i) =>
    seeded(
      s.reduce((a, b) => a * b, 1),
      20 + i,
    ).map((v) => v + 1.5),
  );
  const d = shapes.map((s, i) =>
    seeded(
      s.reduce((a, b) => a * b, 1),
      30 + i,
    ),
  );
  const cs = c.map((v, i) => tensor(v, shapes[i]));
  const ds = d.map((v, i) => tensor(v, shapes[i]));
  // loss = sum_i sum(c_i * p_i^2 + d_i * p_i)  =>  grad_i = 2 c_i p_i + d_i
  const backward = () =>
    tidy(() => {
      const terms = params.map((p, i) => sum(add(mul(mul(p, p), cs[i]), mul(p, ds[i]))));
      terms.reduce((a, b) => add(a, b)).backward();
    });
  const grad = (i: number, p: Float64Array) => p.map((v, k) => 2 * c[i][k] * v + d[i][k]);
  return { params, backward, grad };
}

interface RefState {
  step: number;
  buffers: Float64Array[];
}

type RefStep = (p: Float64Array, g: Float64Array, s: RefState) => Float64Array;

/** torch.optim.SGD (dampening 0), transcribed in float64. */
function refSgd(lr: number, momentum: number, nesterov: boolean, wd: number): RefStep {
  return (p, grad, s) => {
    const g = grad.map((v, i) => v + wd * p[i]);
    let update = g;
    if (momentum > 0) {
      const buf = s.step === 1 ? g.slice() : s.buffers[0].map((v, i) => momentum * v + g[i]);
      s.buffers[0] = buf;
      update = nesterov ? g.map((v, i) => v + momentum * buf[i]) : buf;
    }
    return p.map((v, i) => v - lr * update[i]);
  };
}

/** torch.optim.Adam / AdamW (amsgrad false), transcribed in float64. */
function refAdam(lr: number, b1: number, b2: number, eps: number, wd: number, decoupled: boolean): RefStep {
  return (p0, grad, s) => {
    const p = decoupled ? p0.map((v) => v * (1 - lr * wd)) : p0.slice();
    const g = decoupled ? grad : grad.map((v, i) => v + wd * p[i]);
    const [m0, v0] = s.step === 1 ? [new Float64Array(p.length), new Float64Array(p.length)] : s.buffers;
    const m = m0.map((v, i) => b1 * v + (1 - b1) * g[i]);
    const v = v0.map((x, i) => b2 * x + (1 - b2) * g[i] * g[i]);
    s.buffers = [m, v];
    const stepSize = lr / (1 - b1 ** s.step);
    const bc2Sqrt = Math.sqrt(1 - b2 ** s.step);
    return p.map((w, i) => w - (stepSize * m[i]) / (Math.sqrt(v[i]) / bc2Sqrt + eps));
  };
}

async function read(t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await t.data());
}

/**
 * Runs `steps` optimizer steps; before each, reads the device state, and after it compares the parameters and
 * state buffers with one float64 reference step from that same state.
 */
async function expectSteps(
  make: (params: Tensor[]) => Optimizer,
  ref: RefStep,
  bufferNames: string[],
  steps = 4,
): Promise<void> {
  const { params, backward, grad } = problem();
  const opt = make(params);
  const tol = { atol: 1e-7, rtol: 2e-6 };
  for (let step = 1; step <= steps; step++) {
    const before = await Promise.all(params.map(read));
    const dict = opt.stateDict();
    const states: RefState[] = [];
    for (let i = 0; i < params.length; i++) {
      const buffers = step > 1 ? await Promise.all(bufferNames.map((n) => read(dict[`${i}.${n}`]))) : [];
      states.push({ step, buffers });
    }
    backward();
    opt.step();
    opt.zeroGrad();
    const after = opt.stateDict();
    for (let i = 0; i < params.length; i++) {
      const expected = ref(before[i], grad(i, before[i]), states[i]);
      expectClose(await params[i].data(), expected, tol, `step ${step} param ${i}`);
      for (const [k, name] of bufferNames.entries()) {
        expectClose(
          await after[`${i}.${name}`].data(),
          states[i].buffers[k],
          tol,
          `step ${step} ${i}.${name}`,
        );
      }
      expect(await after[`${i}.step`].item()).toBe(step);
    }
  }
}

describe('SGD', () => {
  it('plain', () => expectSteps((p) => new SGD(p, { lr: 0.1 }), refSgd(0.1, 0, false, 0), []));
  it('momentum', () =>
    expectSteps((p) => new SGD(p, { lr: 0.05, momentum: 0.9 }), refSgd(0.05, 0.9, false, 0), [
      'momentum_buffer',
    ]));
  it('nesterov with weight decay', () =>
    expectSteps(
      (p) => new SGD(p, { lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.01 }),
      refSgd(0.05, 0.8, true, 0.01),
      ['momentum_buffer'],
    ));
  it('weight decay without momentum', () =>
    expectSteps((p) => new SGD(p, { lr: 0.1, weightDecay: 0.1 }), refSgd(0.1, 0, false, 0.1), []));
});

describe('Adam', () => {
  it('defaults', () =>
    expectSteps((p) => new Adam(p, { lr: 0.01 }), refAdam(0.01, 0.9, 0.999, 1e-8, 0, false), [
      'exp_avg',
      'exp_avg_sq',
    ]));
  it('L2 weight decay and custom betas', () =>
    expectSteps(
      (p) => new Adam(p, { lr: 0.02, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.05 }),
      refAdam(0.02, 0.8, 0.99, 1e-6, 0.05, false),
      ['exp_avg', 'exp_avg_sq'],
    ));
  it('AdamW (decoupled weight decay, PyTorch default 0.01)', () =>
    expectSteps((p) => new AdamW(p, { lr: 0.01 }), refAdam(0.01, 0.9, 0.999, 1e-8, 0.01, true), [
      'exp_avg',
      'exp_avg_sq',
    ]));
});

describe('optimizer behaviour', () => {
  it('a step (forward, backward, update) costs exactly one submit', async () => {
    const { params, backward } = problem();
    const opt = new Adam(params, { lr: 0.01 });
    backward();
    opt.step(); // first step: compiles pipelines and creates state
    opt.zeroGrad();
    await params[0].data();
    const before = stats().submits;
    backward();
    opt.step();
    opt.zeroGrad();
    expect(stats().submits - before).toBe(1);
  });

  it('skips frozen parameters and parameters without a gradient, and honours lr changes', async () => {
    const { params, backward } = problem();
    const unused = tensor([1, 2, 3], [3], { requiresGrad: true });
    params[1].requiresGrad = false;
    const frozenBefore = await params[1].data();
    const opt = new SGD([...params, unused], { lr: 0.1, momentum: 0.9 });
    backward();
    opt.lr = 0;
    const p0 = await params[0].data();
    opt.step();
    opt.zeroGrad();
    expect(await params[0].data()).toEqual(p0);
    expect(await params[1].data()).toEqual(frozenBefore);
    expect(await unused.data()).toEqual(Float32Array.from([1, 2, 3]));
    expect(Object.keys(opt.stateDict()).sort()).toEqual([
      '0.momentum_buffer',
      '0.step',
      '2.momentum_buffer',
      '2.step',
    ]);
    expect(params[0].grad).toBeNull();
  });

  it('loadStateDict resumes exactly where stateDict left off', async () => {
    const a = problem();
    const optA = new Adam(a.params, { lr: 0.01, weightDecay: 0.1 });
    for (let k = 0; k < 2; k++) {
      a.backward();
      optA.step();
      optA.zeroGrad();
    }
    const b = problem(await Promise.all(a.params.map((p) => p.data())));
    const optB = new Adam(b.params, { lr: 0.01, weightDecay: 0.1 });
    await optB.loadStateDict(optA.stateDict());
    for (const [x, opt] of [
      [a, optA],
      [b, optB],
    ] as const) {
      x.backward();
      opt.step();
    }
    for (let i = 0; i < a.params.length; i++) {
      expect(await b.params[i].data()).toEqual(await a.params[i].data());
      expect(await optB.stateDict()[`${i}.exp_avg_sq`].data()).toEqual(
        await optA.stateDict()[`${i}.exp_avg_sq`].data(),
      );
    }
    expect(await optB.stateDict()['0.step'].item()).toBe(3);
    await expect(optB.loadStateDict({ '0.momentum': a.params[0] })).rejects.toThrow(
      /unexpected key '0.momentum'/,
    );
    await expect(optB.loadStateDict({ '0.step': tensor([1], [], { dtype: 'int32' }) })).rejects.toThrow(
      /parameter 0 lacks exp_avg, exp_avg_sq/,
    );
  });

  it('rejects unknown options and bad hyper-parameters', () => {
    const p = [tensor([1], [1], { requiresGrad: true })];
    expect(() => new SGD(p, { lr: 0.1, weight_decay: 0.1 } as never)).toThrow(ArgumentError);
    expect(() => new SGD(p, { lr: 0.1, nesterov: true })).toThrow(/nesterov needs momentum/);
    expect(() => new Adam(p, { lr: -1 })).toThrow(/'lr' must be/);
    expect(() => new Adam(p, { lr: 0.1, beta2: 1 })).toThrow(/'beta2'/);
    expect(() => new AdamW(p, { lr: 0.1, decoupled: false } as never)).toThrow(ArgumentError);
  });
});
