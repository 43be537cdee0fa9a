// Uniform-only attributes (OpDef.uniformAttrs): steps whose learning rate, Adam step counts or dropout seeds change
// replay their plan (pass replay and plan replay) with new uniforms, bit for bit as planning anew, and match float64.
import { describe, expect, it } from 'vitest';
import {
  Adam,
  AdamW,
  GpuError,
  SGD,
  add,
  cosineSchedule,
  explain,
  flush,
  init,
  mul,
  release,
  sum,
  tensor,
  tidy,
  type Optimizer,
  type Tensor,
} from '../../src/index.js';
import type { Dispatch } from '../../src/gpu/runtime.js';
import { passReplayStats } from '../../src/graph/pass_replay.js';
import { record } from '../../src/graph/record.js';
import { dispatchesDiffer } from '../../src/graph/replay.js';
import { replayStats } from '../../src/graph/scheduler.js';
import { state } from '../../src/graph/state.js';
import { adamUpdate } from '../../src/ops/adam_update.js';
import { dropout, dropoutOp } from '../../src/ops/dropout.js';
import { call, input, num } from '../../src/ops/elementwise/expr.js';
import { exprOpDef } from '../../src/ops/elementwise/op.js';
import { reluBackwardOp } from '../../src/ops/relu.js';
import { groupedUpdateOp } from '../../src/ops/optimizer_update.js';
import { sgdMomentumUpdate, sgdUpdate } from '../../src/ops/sgd_update.js';
import type { KernelIO, OpDef, RefTensor } from '../../src/ops/types.js';
import { ELEMENTWISE_WG } from '../../src/ops/util.js';
import { refDropoutMask } from '../../src/reference/dropout.js';
import { refAdamStep, refSgdStep } from '../../src/reference/optim.js';
import { expectClose, seeded } from '../helpers.js';

const SHAPES = [[5, 7], [3], [2, 1, 3]];
const STEPS = 6;
const RATE = 0.3;
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** What the optimizer under test is, and how one float64 step of one parameter goes. */
interface Config {
  name: string;
  make(params: Tensor[]): Optimizer;
  /** Its state buffers (stateDict names). */
  buffers: string[];
  /** The learning rate of step i (set before it), or none (constant). */
  schedule?: (i: number) => number;
  /** Dropout on the loss terms, seeded from this: a new seed per term and step. */
  seed?: number;
  ref(p: RefTensor, g: RefTensor, buffers: RefTensor[], lr: number, step: number): RefTensor[];
}

const ADAM = { beta1: 0.8, beta2: 0.99, epsilon: 1e-6 };
const adam = (decoupled: boolean, weightDecay: number) => ({
  make: (ps: Tensor[]) =>
    decoupled
      ? new AdamW(ps, { lr: 0.02, ...ADAM, weightDecay })
      : new Adam(ps, { lr: 0.02, ...ADAM, weightDecay }),
  buffers: ['exp_avg', 'exp_avg_sq'],
  ref: (p: RefTensor, g: RefTensor, [m, v]: RefTensor[], lr: number, step: number) =>
    refAdamStep(p, g, m, v, { lr, ...ADAM, weightDecay, decoupled }, step),
});
const cosine = cosineSchedule({ base: 0.05, total: STEPS + 2, min: 0.001, warmup: 1 });

const CONFIGS: Config[] = [
  { name: 'Adam (L2 weight decay)', ...adam(false, 0.05) },
  { name: 'AdamW', ...adam(true, 0.01) },
  { name: 'Adam with a cosine lr schedule', ...adam(false, 0), schedule: cosine },
  {
    name: 'SGD momentum with a cosine lr schedule',
    make: (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, weightDecay: 0.01 }),
    buffers: ['momentum_buffer'],
    schedule: cosine,
    ref: (p, g, [v], lr, step) =>
      refSgdStep(p, g, step === 1 ? { shape: p.shape, data: new Float64Array(size(p.shape)) } : v, {
        lr,
        weightDecay: 0.01,
        momentum: 0.9,
        nesterov: false,
        first: step === 1,
      }),
  },
  { name: 'AdamW with a fresh dropout seed per step', ...adam(true, 0.01), seed: 1000 },
];

/**
 * loss = sum_i sum(drop(c_i * p_i^2 + d_i * p_i)), so grad_i = mask_i * (2 c_i p_i + d_i) (mask: dropout's saved
 * scale-or-zero per element, 1 without dropout).
 */
function problem(seed?: number) {
  const params = SHAPES.map((s, i) => tensor(seeded(size(s), 10 + i), s, { requiresGrad: true }));
  const c = SHAPES.map((s, i) => seeded(size(s), 20 + i).map((v) => v + 1.5));
  const d = SHAPES.map((s, i) => seeded(size(s), 30 + i));
  const cs = c.map((v, i) => tensor(v, SHAPES[i]));
  const ds = d.map((v, i) => tensor(v, SHAPES[i]));
  const backward = (step: number) =>
    tidy(() => {
      const terms = params.map((p, i) => {
        const t = add(mul(mul(p, p), cs[i]), mul(p, ds[i]));
        return sum(seed === undefined ? t : dropout(t, RATE, { seed: seed + 100 * step + i }));
      });
      terms.reduce((a, b) => add(a, b)).backward();
    });
  const grad = (i: number, p: Float32Array, step: number): RefTensor => {
    const n = p.length;
    const mask = seed === undefined ? null : refDropoutMask(n, RATE, seed + 100 * step + i);
    const data = Float64Array.from(p, (v, k) => (mask ? mask[k] : 1) * (2 * c[i][k] * v + d[i][k]));
    return { shape: SHAPES[i], data };
  };
  return { params, backward, grad };
}

const ref = (shape: readonly number[], data: Float32Array): RefTensor => ({
  shape,
  data: Float64Array.from(data),
});

/** Per step: nodes planned anew, flushes whose fusion passes ran, nodes given new uniforms. */
interface StepCounts {
  misses: number;
  passMisses: number;
  rederived: number;
}

/**
 * Trains STEPS steps of `cfg` on a fresh engine; checks every step against one float64 step from the device's
 * state before it, and returns the final parameters and state buffers with each step's replay counts.
 */
async function train(
  cfg: Config,
  replay: boolean,
): Promise<{ values: Float32Array[]; counts: StepCounts[] }> {
  await init({ poisonBuffers: true, replay });
  try {
    const { params, backward, grad } = problem(cfg.seed);
    const opt = cfg.make(params);
    const counts: StepCounts[] = [];
    for (let i = 0; i < STEPS; i++) {
      if (cfg.schedule) opt.lr = cfg.schedule(i);
      const before = await Promise.all(params.map((p) => p.data()));
      const dict = opt.stateDict();
      const buffers = await Promise.all(
        params.map((p, k) =>
          Promise.all(
            cfg.buffers.map(async (b) =>
              i === 0 ? ref(p.shape, new Float32Array(p.size)) : ref(p.shape, await dict[`${k}.${b}`].data()),
            ),
          ),
        ),
      );
      const runtime = state.runtime!;
      const [m0, p0, r0] = [
        replayStats(runtime).misses,
        passReplayStats(runtime).misses,
        replayStats(runtime).rederived,
      ];
      backward(i);
      await opt.step();
      counts.push({
        misses: replayStats(runtime).misses - m0,
        passMisses: passReplayStats(runtime).misses - p0,
        rederived: replayStats(runtime).rederived - r0,
      });
      opt.zeroGrad();
      const after = opt.stateDict();
      for (let k = 0; k < params.length; k++) {
        const [p, ...state] = cfg.ref(
          ref(params[k].shape, before[k]),
          grad(k, before[k], i),
          buffers[k],
          opt.lr,
          i + 1,
        );
        const tol = { atol: 1e-6, rtol: 2e-5 };
        expectClose(await params[k].data(), p.data, tol, `${cfg.name} step ${i} param ${k}`);
        for (const [j, b] of cfg.buffers.entries())
          expectClose(await after[`${k}.${b}`].data(), state[j].data, tol, `${cfg.name} step ${i} ${k}.${b}`);
      }
    }
    const dict = opt.stateDict();
    const values = await Promise.all([
      ...params.map((p) => p.data()),
      ...Object.keys(dict)
        .filter((k) => !k.endsWith('.step'))
        .sort()
        .map((k) => dict[k].data()),
    ]);
    return { values, counts };
  } finally {
    release();
  }
}

describe('uniform-only attributes replay', () => {
  for (const cfg of CONFIGS) {
    it(`${cfg.name}: replays every step after the first, bit for bit as replay off, and matches float64`, async () => {
      const on = await train(cfg, true);
      const off = await train(cfg, false);
      expect(on.values.length).toBe(off.values.length);
      on.values.forEach((v, i) => expect(Array.from(v), `tensor ${i}`).toEqual(Array.from(off.values[i])));
      // Step 0 plans and runs the passes; every later step hits both replay layers, only new uniforms.
      expect(on.counts[0].passMisses).toBe(1);
      expect(on.counts[0].misses).toBeGreaterThan(0);
      for (let i = 1; i < STEPS; i++) {
        expect(on.counts[i], `step ${i}`).toMatchObject({ misses: 0, passMisses: 0 });
        expect(on.counts[i].rederived, `step ${i} new uniforms`).toBeGreaterThan(0);
      }
    }, 60_000);
  }

  it('seeded dropout: each seed gives its own mask while the flush replays', async () => {
    await init({ poisonBuffers: true });
    try {
      const shape = [37, 11];
      const x = tensor(seeded(size(shape), 3), shape);
      const runtime = state.runtime!;
      for (const [i, seed] of [5, 6, 123456789, 0xffffffff, 6].entries()) {
        const [m0, p0, r0] = [
          replayStats(runtime).misses,
          passReplayStats(runtime).misses,
          replayStats(runtime).rederived,
        ];
        const [y, mask] = record(dropoutOp, [x], { rate: RATE, seed }, ['x']);
        const out = add(y, 1);
        const reads = [out.dataOnFlush(), mask.dataOnFlush()];
        await flush();
        const [got, gotMask] = await Promise.all(reads);
        const want = refDropoutMask(x.size, RATE, seed);
        expect(Array.from(gotMask), `seed ${seed}`).toEqual(Array.from(want));
        const xs = await x.data();
        expectClose(
          got,
          Float64Array.from(xs, (v, k) => Math.fround(v * want[k]) + 1),
          { atol: 1e-6, rtol: 0 },
        );
        if (i > 0) {
          expect(replayStats(runtime).misses - m0, `seed ${seed} planned anew`).toBe(0);
          expect(passReplayStats(runtime).misses - p0, `seed ${seed} passes ran`).toBe(0);
          expect(replayStats(runtime).rederived - r0, `seed ${seed} new uniforms`).toBe(1);
        }
        for (const t of [y, mask, out]) t.dispose();
      }
    } finally {
      release();
    }
  });

  it('a replayed step writes its new uniforms (lr 0 after steps at 0.1 leaves the parameters as they are)', async () => {
    await init({ poisonBuffers: true });
    try {
      const { params, backward } = problem();
      const opt = new SGD(params, { lr: 0.1 });
      for (let i = 0; i < 3; i++) {
        backward(i);
        await opt.step();
        opt.zeroGrad();
      }
      const before = await Promise.all(params.map((p) => p.data()));
      const m0 = replayStats(state.runtime!).misses;
      opt.lr = 0;
      backward(3);
      await opt.step();
      opt.zeroGrad();
      // Replayed (nothing planned anew): a stale uniform would have stepped with lr 0.1 again.
      expect(replayStats(state.runtime!).misses - m0).toBe(0);
      for (const [k, p] of params.entries()) expect(await p.data(), `param ${k}`).toEqual(before[k]);
    } finally {
      release();
    }
  });

  it('a node the reluMask pass makes takes the current uniform-only values of the node it replaces', async () => {
    // dx = scale * dy, reading dy through a ReLU mask when the pass gives it y (attrs.reluMask, y appended).
    const code = (masked: boolean) => `
struct Params { n: u32, scale: f32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
${masked ? '@group(0) @binding(2) var<storage, read> y: array<f32>;' : ''}
@group(0) @binding(${masked ? 3 : 2}) var<storage, read_write> dx: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x >= u.n) { return; }
  dx[id.x] = u.scale * ${masked ? 'select(0.0, dy[id.x], y[id.x] > 0.0)' : 'dy[id.x]'};
}`;
    const scaleDyOp: OpDef<{ scale: number; reluMask?: boolean }> = {
      name: 'scaleDy',
      check: ([dy]) => [dy],
      masksInput: 0,
      uniformAttrs: ['scale'],
      forward: (io, { scale, reluMask }) => {
        const n = size(io.inputs[0].spec.shape);
        const buffers = [...io.inputs.map((t) => t.buffer), io.outputs[0].buffer];
        const wgsl = code(reluMask === true);
        return [
          {
            shader: 'op:scaleDy',
            code: wgsl,
            uniforms: [n, { f32: scale }],
            buffers,
            workgroups: Math.ceil(n / 64),
          },
        ];
      },
      backward: null,
      cost: () => ({ flops: 0, bytes: 0 }),
      reference: ([dy], { scale }) => [{ shape: dy.shape, data: dy.data.map((v) => scale * v) }],
    };
    await init({ poisonBuffers: true });
    try {
      const n = 300;
      const dy = tensor(seeded(n, 4), [n]);
      const y = tensor(seeded(n, 5), [n]);
      const [dys, ys] = [await dy.data(), await y.data()];
      const runtime = state.runtime!;
      const masked = (scale: number) =>
        tidy(() => record(scaleDyOp, [record(reluBackwardOp, [dy, y], {})[0]], { scale })[0]);
      const plan = await explain(() => masked(1).data());
      // The pass replaces scaleDy by a masked copy of it (its attributes spread, reluMask added).
      expect(plan.fusions.map((f) => f.pass)).toContain('reluMask');
      for (const [i, scale] of [2, 3, 0.5, -1].entries()) {
        const [m0, p0] = [replayStats(runtime).misses, passReplayStats(runtime).misses];
        const out = masked(scale);
        const got = await out.data();
        expect(Array.from(got), `scale ${scale}`).toEqual(
          Array.from(ys, (v, k) => Math.fround(scale * (v > 0 ? dys[k] : 0))),
        );
        if (i > 0) {
          expect(replayStats(runtime).misses - m0, `scale ${scale} planned anew`).toBe(0);
          expect(passReplayStats(runtime).misses - p0, `scale ${scale} passes ran`).toBe(0);
        }
        out.dispose();
      }
    } finally {
      release();
    }
  });

  it('a fused chain stands for a node with uniform-only attributes: a change in them runs the passes again', async () => {
    // The elementwise pass composes scaleBy's expression (its constant included) into the chain's made node,
    // which does not copy `s` by name: the template must not be reused with another `s`.
    const scaleByOp: OpDef<{ s: number }> = {
      ...exprOpDef<{ s: number }>('scaleBy', ({ s }) => call('mul', input(0), num(s)), [true], ['x']),
      uniformAttrs: ['s'],
    };
    await init({ poisonBuffers: true });
    try {
      const n = 100;
      const x = tensor(seeded(n, 6), [n]);
      const xs = await x.data();
      const runtime = state.runtime!;
      const passRuns: number[] = [];
      for (const s of [2, 2, 3, 3, -0.5]) {
        const p0 = passReplayStats(runtime).misses;
        const out = tidy(() => add(record(scaleByOp, [x], { s })[0], 1));
        expect(Array.from(await out.data()), `s ${s}`).toEqual(
          Array.from(xs, (v) => Math.fround(Math.fround(v * s) + 1)),
        );
        passRuns.push(passReplayStats(runtime).misses - p0);
        out.dispose();
      }
      expect(passRuns).toEqual([1, 0, 1, 0, 1]);
    } finally {
      release();
    }
  });

  it('an op whose uniform-only attribute changes its workgroups fails the flush with GpuError naming it', async () => {
    const wrongOp: OpDef<{ n: number }> = {
      name: 'wrongUniformFill',
      check: () => [{ shape: [64], dtype: 'float32' }],
      // `n` sets the workgroup count: declaring it uniform-only is the bug the scheduler must catch.
      uniformAttrs: ['n'],
      forward: (io, { n }) => [
        {
          shader: 'fill',
          constants: { WG: ELEMENTWISE_WG },
          uniforms: [n, { f32: 1 }],
          buffers: [io.outputs[0].buffer],
          workgroups: Math.ceil(n / ELEMENTWISE_WG),
        },
      ],
      backward: null,
      cost: () => ({ flops: 0, bytes: 256 }),
      reference: () => [{ shape: [64], data: new Float64Array(64).fill(1) }],
    };
    await init({ poisonBuffers: true });
    try {
      for (const n of [64, 64]) {
        const [y] = record(wrongOp, [], { n });
        await y.data();
        y.dispose();
      }
      const [y] = record(wrongOp, [], { n: 64 * ELEMENTWISE_WG + 1 });
      await expect(y.data()).rejects.toThrow(GpuError);
      await expect(y.data()).rejects.toThrow(
        /wrongUniformFill: declares \[n\] uniform-only, but .* workgroups/,
      );
    } finally {
      release();
    }
  });

  it('the declared ops: each uniform-only attribute changes only uniform values', () => {
    const buffers = Array.from({ length: 64 }, () => ({}) as GPUBuffer);
    const io = (inputs: number, shape: readonly number[]): KernelIO =>
      ({
        inputs: buffers.slice(0, inputs).map((buffer) => ({ buffer, spec: { shape, dtype: 'float32' } })),
        outputs: buffers.slice(32, 34).map((buffer) => ({ buffer, spec: { shape, dtype: 'float32' } })),
        limits: { maxStorageBuffersPerShaderStage: 16 },
      }) as unknown as KernelIO;
    const adamAttrs = {
      lr: 0.1,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 0.01,
      decoupled: false,
    };
    const sgdAttrs = { lr: 0.1, weightDecay: 0 };
    const cases: [OpDef<never>, number, Record<string, unknown>, Record<string, unknown>][] = [
      [
        groupedUpdateOp(adamUpdate, 1),
        4,
        { ...adamAttrs, steps: [1] },
        { lr: 0.2, beta1: 0.8, beta2: 0.9, epsilon: 1e-6, weightDecay: 0.1, decoupled: true, steps: [9] },
      ],
      [
        groupedUpdateOp(adamUpdate, 3),
        12,
        { ...adamAttrs, steps: [1, 1, 1] },
        { lr: 0.3, steps: [2, 7, 3], decoupled: true },
      ],
      [groupedUpdateOp(sgdUpdate, 2), 4, sgdAttrs, { lr: 0.01, weightDecay: 0.5 }],
      [
        groupedUpdateOp(sgdMomentumUpdate, 2),
        6,
        { ...sgdAttrs, momentum: 0.9, nesterov: false, first: [true, true] },
        { lr: 0.2, weightDecay: 0.1, momentum: 0.5, nesterov: true, first: [false, true] },
      ],
      [dropoutOp as OpDef<never>, 1, { rate: 0.3, seed: 1 }, { rate: 0.7, seed: 0xffffffff }],
    ];
    for (const [op, inputs, base, changed] of cases) {
      const keys = op.uniformAttrs as readonly string[];
      expect(keys.length, op.name).toBeGreaterThan(0);
      const planned = (a: Record<string, unknown>) =>
        (op.forward as (io: KernelIO, a: never) => Dispatch[])(io(inputs, [1000]), a as never);
      const first = planned(base);
      for (const k of Object.keys(changed)) {
        expect(keys, `${op.name}: '${k}' is uniform-only`).toContain(k);
        const other = planned({ ...base, [k]: changed[k] });
        expect(dispatchesDiffer(first, other), `${op.name}: '${k}'`).toBe('');
        expect(
          other.map((d) => JSON.stringify(d.uniforms)),
          `${op.name}: '${k}' reaches the uniforms`,
        ).not.toEqual(first.map((d) => JSON.stringify(d.uniforms)));
      }
    }
  });
});
