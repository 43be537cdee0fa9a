// wg.defineOp: a SiLU written outside the library, with its gradient op, against float64 and gradcheck.
import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  GpuError,
  ShapeError,
  defineOp,
  explain,
  gradcheck,
  mean,
  mul,
  tensor,
  type RefTensor,
  type TensorSpec,
} from '../../src/index.js';
import { replayStats } from '../../src/graph/scheduler.js';
import { state } from '../../src/graph/state.js';
import { expectMatchesReference, seeded, useGpu } from '../helpers.js';

useGpu();

const elementwise = (body: string, inputs: string[]) => `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
${inputs.map((v, i) => `@group(0) @binding(${i + 1}) var<storage, read> ${v}: array<f32>;`).join('\n')}
@group(0) @binding(${inputs.length + 1}) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = g.x + g.y * nwg.x * 64u;
  if (i >= p.n) { return; }
  ${body}
}`;

const size = (s: TensorSpec) => s.shape.reduce((a, b) => a * b, 1);
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const map2 = (a: RefTensor, b: RefTensor | null, f: (x: number, y: number) => number): RefTensor => ({
  shape: a.shape,
  data: a.data.map((x, i) => f(x, b ? b.data[i] : 0)),
});
const dispatch = ([x]: readonly TensorSpec[]) => ({
  uniforms: [size(x)],
  workgroups: Math.ceil(size(x) / 64),
});

async function defineSilu() {
  const siluGrad = await defineOp({
    name: `siluGrad${Math.random().toString(36).slice(2, 8)}`,
    check: ([dy, x]) => {
      if (size(dy) !== size(x)) throw new ShapeError('siluGrad: dy and x must match');
      return [x];
    },
    wgsl: elementwise('let s = 1.0 / (1.0 + exp(-x[i]));\n  y[i] = dy[i] * s * (1.0 + x[i] * (1.0 - s));', [
      'dy',
      'x',
    ]),
    dispatch: (specs) => dispatch([specs[1]]),
    backward: null,
    reference: ([dy, x]) => [map2(x, dy, (v, d) => d * sigmoid(v) * (1 + v * (1 - sigmoid(v))))],
  });
  const silu = await defineOp({
    name: `silu${Math.random().toString(36).slice(2, 8)}`,
    check: ([x]) => [x],
    wgsl: elementwise('let v = x[i];\n  y[i] = v / (1.0 + exp(-v));', ['x']),
    dispatch,
    backward: [({ inputs, dys }) => siluGrad(dys[0]!, inputs[0])],
    reference: ([x]) => [map2(x, null, (v) => v * sigmoid(v))],
    cost: ([x]) => ({ flops: 4 * size(x), bytes: 8 * size(x) }),
  });
  return silu;
}

describe('defineOp', () => {
  it('runs a user SiLU against its float64 reference, on sizes past one workgroup', async () => {
    const silu = await defineSilu();
    for (const n of [1, 63, 64, 1000]) {
      const x = tensor(
        seeded(n, n).map((v) => 6 * v),
        [n],
      );
      await expectMatchesReference([silu(x)], { atol: 1e-6, rtol: 1e-5 }, `n=${n}`);
    }
  });

  it('passes gradcheck, inside a graph with built-in ops', async () => {
    const silu = await defineSilu();
    const x = tensor(
      seeded(2 * 3 * 5, 7).map((v) => 3 * v),
      [2, 3, 5],
    );
    const w = tensor(seeded(2 * 3 * 5, 8), [2, 3, 5]);
    const result = await gradcheck((a, b) => mean(mul(silu(a), b)), [x, w]);
    expect(result.ok, JSON.stringify(result.mismatches.slice(0, 4))).toBe(true);
    expect(result.checked).toBeGreaterThan(0);
  });

  it('appears in the plan under its own name with its cost', async () => {
    const silu = await defineSilu();
    const x = tensor(seeded(100, 1), [100]);
    const plan = await explain(() => silu(x));
    expect(plan.kernels).toHaveLength(1);
    expect(plan.kernels[0].shader).toBe(`op:${silu.op.name}`);
    expect(plan.kernels[0].flops).toBe(400);
    expect(plan.kernels[0].bytesRead).toBe(400);
    expect(plan.kernels[0].bytesWritten).toBe(400);
  });

  it('uniformAttrs: a new value replays with new uniforms; one that moves the workgroups fails the flush', async () => {
    const wgsl = `
struct Params { n: u32, s: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < p.n) { y[g.x] = p.s * x[g.x]; }
}`;
    const common = {
      check: ([x]: readonly TensorSpec[]) => [x],
      wgsl,
      backward: null,
      reference: ([x]: readonly RefTensor[], { s }: { s: number }) => [map2(x, null, (v) => s * v)],
      uniformAttrs: ['s'] as const,
    };
    const scaled = await defineOp<{ s: number }>({
      ...common,
      name: `scaledBy${Math.random().toString(36).slice(2, 8)}`,
      dispatch: ([x], { s }) => ({ uniforms: [size(x), { f32: s }], workgroups: Math.ceil(size(x) / 64) }),
    });
    const x = tensor(seeded(300, 8), [300]);
    const cache = replayStats(state.runtime!);
    for (const [i, s] of [2, 3, -0.25].entries()) {
      const m0 = cache.misses;
      const y = scaled(x, { s });
      await expectMatchesReference([y], { atol: 1e-6, rtol: 1e-6 }, `s ${s}`);
      if (i > 0) expect(cache.misses - m0, `s ${s} planned anew`).toBe(0);
      // Disposed, so the next step's output gets this buffer back (replay matches buffers).
      y.dispose();
    }
    // The scale also sets the workgroup count here: declaring it uniform-only is wrong, and the flush says so.
    const wrong = await defineOp<{ s: number }>({
      ...common,
      name: `wrongScaledBy${Math.random().toString(36).slice(2, 8)}`,
      dispatch: ([x], { s }) => ({
        uniforms: [size(x), { f32: s }],
        workgroups: Math.ceil(size(x) / 64) * s,
      }),
    });
    const first = wrong(x, { s: 1 });
    expect((await first.data())[0]).toBeCloseTo((await x.data())[0], 6);
    first.dispose();
    const error = await wrong(x, { s: 2 })
      .data()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpuError);
    expect((error as Error).message).toMatch(/declares \[s\] uniform-only, .*workgroups/);
  });

  it('refuses WGSL that does not compile, with line and message, and bad definitions', async () => {
    const base = {
      check: ([x]: readonly TensorSpec[]) => [x],
      dispatch,
      backward: null,
      reference: ([x]: readonly RefTensor[]) => [x],
    };
    const broken = elementwise('y[i] = x[i] * undefinedThing;', ['x']);
    await expect(defineOp({ ...base, name: 'broken', wgsl: broken })).rejects.toThrow(
      /defineOp 'broken': the WGSL does not compile:\n\s+\d+:\d+ .*undefinedThing/,
    );
    await expect(defineOp({ ...base, name: 'noParams', wgsl: 'fn main() {}' })).rejects.toThrow(
      /Params uniform at @group\(0\) @binding\(0\)/,
    );
    await expect(
      defineOp({ ...base, name: 'relu', wgsl: elementwise('y[i] = x[i];', ['x']) }),
    ).rejects.toThrow(/an op named 'relu' exists/);
    await expect(
      defineOp({ ...base, name: 'typo', wgsl: elementwise('y[i] = x[i];', ['x']), backwrd: null } as never),
    ).rejects.toThrow(ArgumentError);
    await expect(
      defineOp({
        ...base,
        name: 'badUniforms',
        wgsl: elementwise('y[i] = x[i];', ['x']),
        uniformAttrs: 's',
      } as never),
    ).rejects.toThrow(/'uniformAttrs' must be an array of attribute names/);
    // The engine stays usable.
    const silu = await defineSilu();
    expect((await silu(tensor([0], [1])).data())[0]).toBe(0);
  });
});
