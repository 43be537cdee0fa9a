// The grouped optimizer-update generator without a device: group sizes per limit, bindings, uniform table, checks.
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors.js';
import { adamUpdate } from '../../src/ops/adam_update.js';
import {
  MAX_GROUP,
  maxGroupSize,
  updateRegions,
  updateUniforms,
  type UpdateKernelSpec,
} from '../../src/ops/optimizer_kernel.js';
import { sgdMomentumUpdate, sgdUpdate } from '../../src/ops/sgd_update.js';

describe('optimizer update generator', () => {
  it('sizes groups by the storage buffers per shader stage (llvmpipe 16, SwiftShader 12), at most MAX_GROUP', () => {
    const sizes = (perStage: number) =>
      [sgdUpdate, sgdMomentumUpdate, adamUpdate].map((u) =>
        maxGroupSize(u.spec, { maxStorageBuffersPerShaderStage: perStage }),
      );
    expect(sizes(16)).toEqual([8, 5, 4]);
    expect(sizes(12)).toEqual([6, 4, 3]);
    expect(sizes(1000)).toEqual([MAX_GROUP, MAX_GROUP, MAX_GROUP]);
    expect(sizes(2)).toEqual([1, 1, 1]);
    expect(sizes(8)).toEqual([4, 2, 2]);
    expect(maxGroupSize(adamUpdate.spec, {})).toBe(2); // WebGPU's default of 8
  });

  it('binds each parameter its own buffers in order and declares the uniform table the host packs', () => {
    const k = 3;
    const r = updateRegions(adamUpdate.spec, k);
    const bindings = [...r.BINDINGS.matchAll(/@binding\((\d+)\) var<storage, (\w+)> (\w+):/g)];
    expect(bindings.map((m) => Number(m[1]))).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(bindings.map((m) => m[3])).toEqual(
      [0, 1, 2].flatMap((s) => ['p', 'grad', 'm', 'v'].map((n) => `${n}_${s}`)),
    );
    expect(bindings.map((m) => m[2])).toEqual(
      [0, 1, 2].flatMap(() => ['read_write', 'read', 'read_write', 'read_write']),
    );
    const fields = [...r.PARAMS.matchAll(/^ {2}(\w+): (f32|u32),$/gm)].map((m) => [m[1], m[2]]);
    const shared = adamUpdate.shared({ ...attrs, steps: [1, 2, 3] });
    const own = [1, 2, 3].map((_, s) => adamUpdate.own({ ...attrs, steps: [1, 2, 3] }, s));
    const uniforms = updateUniforms(adamUpdate.spec, shared, own, [4, 0, 257]);
    expect(uniforms.length).toBe(fields.length);
    // Every u32 field gets a plain number, every f32 field { f32 }: the packing follows the declared types.
    fields.forEach(([, type], i) => expect(typeof uniforms[i] === 'number').toBe(type === 'u32'));
    const ends = fields.flatMap(([name], i) => (name.startsWith('end_') ? [uniforms[i]] : []));
    expect(ends).toEqual([4, 4, 261]);
    expect(fields.map(([name]) => name).slice(0, 8)).toEqual([
      'decay',
      'wdCoupled',
      'beta1',
      'beta2',
      'c1',
      'c2',
      'eps',
      'end_0',
    ]);
    // The chain: parameter s takes i - end_(s-1), in order.
    expect(r.SLOTS).toMatch(/if \(i < u\.end_0\) \{\n {4}update_0\(i\);/);
    expect(r.SLOTS).toMatch(/if \(i < u\.end_2\) \{\n {4}update_2\(i - u\.end_1\);/);
    expect(r.UPDATES).toContain('u.stepSize_2 * m1 / (sqrt(v1) / u.bc2Sqrt_2 + u.eps)');
  });

  it('writes K = 1 as the single-parameter kernel: the formula once, one compare', () => {
    const r = updateRegions(sgdMomentumUpdate.spec, 1);
    expect(r.BINDINGS.split('\n')).toEqual([
      '@group(0) @binding(1) var<storage, read_write> p_0: array<f32>;',
      '@group(0) @binding(2) var<storage, read> grad_0: array<f32>;',
      '@group(0) @binding(3) var<storage, read_write> v_0: array<f32>;',
    ]);
    expect(r.UPDATES.match(/fn update_/g)).toHaveLength(1);
    expect(r.SLOTS.match(/if \(/g)).toHaveLength(1);
    expect(updateRegions(sgdMomentumUpdate.spec, 1)).toBe(r); // cached
  });

  it('refuses group sizes out of range, unknown names, locals that hide a buffer and missing scalars', () => {
    expect(() => updateRegions(sgdUpdate.spec, 0)).toThrow(ArgumentError);
    expect(() => updateRegions(sgdUpdate.spec, MAX_GROUP + 1)).toThrow(/1 to 16 parameters, got 17/);
    const bad = (formula: UpdateKernelSpec['formula']): UpdateKernelSpec => ({ ...sgdUpdate.spec, formula });
    expect(() =>
      updateRegions(
        bad(({ buf }) => `${buf('q')}[i] = 0.0;`),
        1,
      ),
    ).toThrow(/names buffer 'q', which the spec lacks \(has p, grad\)/);
    expect(() =>
      updateRegions(
        bad(({ own }) => `let x = ${own('first')};`),
        1,
      ),
    ).toThrow(/per-parameter scalar 'first'/);
    expect(() =>
      updateRegions(
        bad(({ buf }) => `let p_1 = ${buf('p')}[i];`),
        2,
      ),
    ).toThrow(/local 'p_1' hides a buffer/);
    expect(() => updateUniforms(sgdUpdate.spec, { lr: 0.1 }, [{}], [3])).toThrow(
      /uniform 'wd' must be a finite/,
    );
    expect(() => updateUniforms(sgdUpdate.spec, { lr: 0.1, wd: 0 }, [{}, {}], [3])).toThrow(ArgumentError);
  });
});

const attrs = { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: false };
