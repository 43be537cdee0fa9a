// GPU-side failures become typed errors and leave the engine usable.
import { describe, expect, it } from 'vitest';
import { GpuError, add, tensor, type OpDef } from '../../src/index.js';
import { apply } from '../../src/graph/record.js';
import { useGpu } from '../helpers.js';

useGpu();

// A deliberately broken op: its forward binds one storage buffer too few for the relu shader.
const brokenOp: OpDef<Record<string, never>> = {
  name: 'broken',
  check: ([x]) => [x],
  forward: (io) => [
    {
      shader: 'relu',
      regions: { VEC: 'alias V = f32;' },
      uniforms: [1],
      buffers: [io.inputs[0].buffer],
      workgroups: 1,
    },
  ],
  backward: null,
  cost: () => ({ flops: 0, bytes: 0 }),
  reference: ([x]) => [x],
};

describe('GPU errors', () => {
  it('a validation error surfaces as a GpuError from data(), and the next op still runs', async () => {
    const x = tensor([1, -2, 3], [3]);
    const bad = apply(brokenOp, [x], {});
    await expect(bad.data()).rejects.toThrow(GpuError);
    const y = add(x, x);
    expect(Array.from(await y.data())).toEqual([2, -4, 6]);
  });
});
