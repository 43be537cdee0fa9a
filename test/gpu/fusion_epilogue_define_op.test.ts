// A user op (wg.defineOp) that declares an epilogue: batch norm, add and ReLU after it run in its store, checked
// against the unfused graph and the float64 reference; a WGSL without the convention is refused clearly.
import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  add,
  batchNorm,
  defineOp,
  init,
  relu,
  release,
  type RefTensor,
  type TensorSpec,
} from '../../src/index.js';
import { expectFused, leaf } from './fusion_epilogue_helpers.js';

/** A SiLU whose store goes through the epilogue regions (channel c = i % C). */
const SILU_EPILOGUE = `
struct Params { n: u32, c: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// @region BINDINGS
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// @end BINDINGS
// @region EPILOGUE
fn epilogue(acc: f32, i: u32, c: u32) -> f32 {
  return acc;
}
// @end EPILOGUE
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = g.x + g.y * nwg.x * 64u;
  if (i >= p.n) { return; }
  let v = x[i];
  y[i] = epilogue(v / (1.0 + exp(-v)), i, i % p.c);
}`;

const size = (s: TensorSpec) => s.shape.reduce((a, b) => a * b, 1);
const unique = (name: string) => `${name}${Math.random().toString(36).slice(2, 8)}`;

function definition(wgsl: string) {
  return {
    name: unique('siluEpilogue'),
    check: ([x]: readonly TensorSpec[]) => [x],
    wgsl,
    dispatch: ([x]: readonly TensorSpec[]) => ({
      uniforms: [size(x), x.shape[x.shape.length - 1]],
      workgroups: Math.ceil(size(x) / 64),
    }),
    backward: null,
    reference: ([x]: readonly RefTensor[]) => [
      { shape: x.shape, data: x.data.map((v) => v / (1 + Math.exp(-v))) },
    ],
    epilogue: true,
  };
}

describe('defineOp with an epilogue', () => {
  it('runs batch norm + add + relu in the user kernel, matching the unfused graph and the reference', async () => {
    await init({ poisonBuffers: true });
    const silu = await defineOp(definition(SILU_EPILOGUE));
    const build = () => {
      const x = leaf([2, 3, 5, 6], 1);
      const bn = {
        gamma: leaf([6], 2, 0.5, 1.5),
        beta: leaf([6], 3),
        runningMean: leaf([6], 4),
        runningVar: leaf([6], 5, 0.5, 2),
        training: false,
      };
      return [relu(add(leaf([2, 3, 5, 6], 6), batchNorm(silu(x), bn))), relu(silu(x))];
    };
    const name = silu.op.name;
    await expectFused(true, build, [`${name}+batchNormInference+add+relu`, `${name}+relu`], 'user op');
  });

  it('refuses epilogue: true without the regions, or a non-boolean', async () => {
    await init({ poisonBuffers: true });
    try {
      const plain = SILU_EPILOGUE.replace('// @region BINDINGS\n', '').replace('// @end BINDINGS\n', '');
      await expect(defineOp(definition(plain))).rejects.toThrow(ArgumentError);
      await expect(defineOp(definition(plain))).rejects.toThrow(
        /with epilogue: true the WGSL must declare its output .* between '\/\/ @region BINDINGS'/,
      );
      const noFn = SILU_EPILOGUE.replace('// @region EPILOGUE\n', '').replace('// @end EPILOGUE\n', '');
      await expect(defineOp(definition(noFn))).rejects.toThrow(/must define fn epilogue/);
      await expect(defineOp({ ...definition(SILU_EPILOGUE), epilogue: 1 as never })).rejects.toThrow(
        /'epilogue' must be a boolean/,
      );
    } finally {
      release();
    }
  });
});
