// GPU numerics of the depthwise conv kernels (forward, dx, dw) vs the float64 reference over edge shapes; routing
// of conv2d with groups = Cin to them; gradcheck; bad input.
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import type { Dispatch } from '../../src/gpu/runtime.js';
import { record } from '../../src/graph/record.js';
import { state } from '../../src/graph/state.js';
import { convAttrs, type Conv2dOptions } from '../../src/ops/conv2d.js';
import {
  depthwiseConv2dBackpropFilterOp,
  depthwiseConv2dBackpropInputOp,
  depthwiseConv2dOp,
  depthwiseDims,
  depthwiseFilterChunk,
  depthwiseFilterPlan,
  depthwiseForwardPlan,
  depthwiseLanes,
} from '../../src/ops/depthwise.js';
import {
  MAX_UNROLLED_K,
  depthwiseTile,
  depthwiseTileRegion,
  type DepthwiseTile,
} from '../../src/ops/depthwise_tile.js';
import type { KernelIO, OpDef } from '../../src/ops/types.js';
import { expectMatchesReference, seeded, useGpu } from '../helpers.js';

useGpu();
const tol = { atol: 1e-4, rtol: 1e-4 };

function input(shape: readonly number[], seed: number, requiresGrad = false): wg.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return wg.tensor(seeded(n, seed), shape, { requiresGrad });
}

type Case = [string, number[], number[], Omit<Conv2dOptions, 'bias' | 'groups'>];
// x [N,H,W,C], w [KH,KW,C,M]: vec4 lanes need M = 1 and C % 4 == 0; every other case runs scalar lanes.
const cases: Case[] = [
  ["3x3 'same' stride 1, vec4", [2, 8, 8, 8], [3, 3, 8, 1], { padding: 'same' }],
  ["3x3 'same' stride 2, odd sizes, vec4", [2, 9, 7, 4], [3, 3, 4, 1], { stride: 2, padding: 'same' }],
  [
    "3x3 'same' stride 2, even sizes (odd pixel bottom/right)",
    [1, 8, 6, 12],
    [3, 3, 12, 1],
    { stride: 2, padding: 'same' },
  ],
  ["3x3 'valid' stride 2, 3 channels", [2, 7, 6, 3], [3, 3, 3, 1], { stride: 2, padding: 'valid' }],
  [
    'explicit paddings, 5 channels',
    [1, 7, 6, 5],
    [3, 3, 5, 1],
    {
      padding: [
        [1, 2],
        [0, 3],
      ],
    },
  ],
  ['1x1 spatial input, 3x3 same', [3, 1, 1, 8], [3, 3, 8, 1], { padding: 'same' }],
  ['1x1 kernel stride 2', [2, 5, 5, 4], [1, 1, 4, 1], { stride: 2 }],
  [
    "9x9 'same' (wider than the unrolled tile), 3 outputs wide",
    [1, 5, 3, 4],
    [9, 9, 4, 1],
    { padding: 'same' },
  ],
  ["5x5 'same' multiplier 2", [1, 6, 7, 3], [5, 5, 3, 2], { padding: 'same' }],
  ['multiplier 3 stride [2,1] valid, C 4', [2, 7, 8, 4], [3, 2, 4, 3], { stride: [2, 1] }],
  ["dilation 2 'same'", [1, 9, 10, 4], [3, 3, 4, 1], { dilation: 2, padding: 'same' }],
  [
    'stride 3 dilation 2 even kernel',
    [2, 11, 10, 6],
    [2, 2, 6, 1],
    { stride: 3, dilation: [2, 1], padding: 'same' },
  ],
];

/** The op with its forward plan replaced, so a test can force a forward tile or the dw reduction's chunk length. */
function forcing<A>(op: OpDef<A>, plan: (io: KernelIO, attrs: A) => Dispatch[]): OpDef<A> {
  return { ...op, forward: plan };
}

describe('depthwise kernels vs the float64 reference', () => {
  for (const [name, xs, ws, opts] of cases) {
    it(name, async () => {
      const attrs = convAttrs('depthwiseConv2d', opts);
      const d = depthwiseDims('depthwiseConv2d', xs, ws, attrs);
      const x = input(xs, 1);
      const w = input(ws, 2);
      const bias = input([d.cout], 3);
      const dy = input([d.n, d.oh, d.ow, d.cout], 4);
      const [y] = record(depthwiseConv2dOp, [x, w], attrs);
      const [yb] = record(depthwiseConv2dOp, [x, w, bias], attrs);
      await expectMatchesReference([y, yb], tol, `${name} forward`);
      // Every forward tile: the KH x KW loop, unrolled 1 x 1, ragged 3 x 3 and 1 x 3, and the default 2 x 4.
      const tiles: DepthwiseTile[] = [
        { th: 1, tw: 1, unrolled: false },
        { th: 1, tw: 1, unrolled: true },
        { th: 3, tw: 3, unrolled: true },
        { th: 1, tw: 3, unrolled: true },
        { th: 2, tw: 4, unrolled: true },
      ];
      for (const tile of tiles) {
        if (tile.unrolled && Math.max(ws[0], ws[1]) > MAX_UNROLLED_K) {
          expect(() => depthwiseTileRegion(d, tile)).toThrow(
            /depthwise_fwd: an unrolled tile needs .* up to 7x7/,
          );
          continue;
        }
        const op = forcing(depthwiseConv2dOp, (io) => depthwiseForwardPlan(io, d, tile));
        const [yt] = record(op, [x, w, bias], attrs);
        await expectMatchesReference([yt], tol, `${name} forward tile ${JSON.stringify(tile)}`);
      }
      const [dx] = record(depthwiseConv2dBackpropInputOp, [dy, w], { ...attrs, inputShape: xs });
      await expectMatchesReference([dx], tol, `${name} dx`);
      const k = d.n * d.oh * d.ow;
      // One chunk (dw written directly), the default split, and ragged chunks.
      for (const chunk of [k, depthwiseFilterChunk(d, true), depthwiseFilterChunk(d, false), 7, 1]) {
        const op = forcing(depthwiseConv2dBackpropFilterOp, (io) => depthwiseFilterPlan(io, d, chunk));
        const [dw] = record(op, [x, dy], { ...attrs, filterShape: ws });
        await expectMatchesReference([dw], tol, `${name} dw chunk ${chunk}`);
      }
      expect(depthwiseLanes(d).mult === 1 && d.cin % 4 === 0).toBe(ws[3] === 1 && xs[3] % 4 === 0);
      const unrolled = Math.max(ws[0], ws[1]) <= MAX_UNROLLED_K;
      const th = ws[0] <= 3 ? Math.min(2, d.oh) : 1;
      expect(depthwiseTile(d)).toEqual(
        unrolled ? { th, tw: Math.min(4, d.ow), unrolled } : { th: 1, tw: 1, unrolled },
      );
    });
  }

  it('grids past 65,535 workgroups (forward and dx, scalar lanes)', async () => {
    // 1*300*300*49 = 4.41M outputs at 64 per workgroup: about 68,900 workgroups, spread over x and y (the forward
    // with one output per invocation; the default 2 x 4 tile needs 8,613).
    const attrs = convAttrs('depthwiseConv2d', { padding: 'same' });
    const x = input([1, 300, 300, 49], 5);
    const w = input([3, 3, 49, 1], 6);
    const d = depthwiseDims('depthwiseConv2d', x.shape, w.shape, attrs);
    for (const tile of [{ th: 1, tw: 1, unrolled: true }, depthwiseTile(d)]) {
      const op = forcing(depthwiseConv2dOp, (io) => depthwiseForwardPlan(io, d, tile));
      const [y] = record(op, [x, w], attrs);
      await expectMatchesReference([y], tol, `large forward ${JSON.stringify(tile)}`);
    }
    const [y] = record(depthwiseConv2dOp, [x, w], attrs);
    const [dx] = record(depthwiseConv2dBackpropInputOp, [y, w], { ...attrs, inputShape: [1, 300, 300, 49] });
    await expectMatchesReference([dx], tol, 'large dx');
  });
});

describe('conv2d with groups = Cin', () => {
  it('runs the depthwise kernels (forward and both backward passes), not per-group convs', async () => {
    const x = input([2, 6, 6, 8], 7);
    const w = input([3, 3, 1, 16], 8);
    const b = input([16], 9);
    const weights = input([2, 3, 3, 16], 10);
    const opts = { groups: 8, padding: 'same', stride: 2 } as const;
    const lossOf = (a: wg.Tensor, f: wg.Tensor, c: wg.Tensor) =>
      wg.sum(wg.mul(wg.conv2d(a, f, { ...opts, bias: c }), weights));
    const step = () => wg.grad(lossOf, { argnums: [0, 1, 2] })(x, w, b) as wg.Tensor[];
    const plan = await wg.explain(step);
    const ops = plan.kernels.flatMap((k) => k.nodes.map((n) => n.op));
    for (const op of ['depthwiseConv2d', 'depthwiseConv2dBackpropInput', 'depthwiseConv2dBackpropFilter'])
      expect(ops).toContain(op);
    expect(ops.filter((op) => op.startsWith('conv2d') || op === 'concat')).toEqual([]);
    await expectMatchesReference([wg.conv2d(x, w, { ...opts, bias: b }), ...step()], tol, 'groups = Cin');
  });
});

describe('depthwise gradients and bad input', () => {
  it('passes gradcheck (x, w, bias; stride 2, same, multiplier 2)', async () => {
    const x = input([2, 5, 4, 3], 11);
    const w = input([3, 3, 3, 2], 12);
    const b = input([6], 13);
    const result = await wg.gradcheck(
      (a, f, c) => wg.depthwiseConv2d(a, f, { stride: 2, padding: 'same', bias: c }),
      [x, w, b],
    );
    expect(result.mismatches).toEqual([]);
  });

  it('names the op, argument and shapes', () => {
    const x = input([1, 5, 5, 4], 14);
    expect(() => wg.depthwiseConv2d(x, input([3, 3, 3, 1], 15))).toThrow(
      /depthwiseConv2d: argument 'w' must be \[KH,KW,Cin,Cout\] with Cin=4/,
    );
    expect(() => wg.depthwiseConv2d(x, input([3, 3, 4, 2], 16), { bias: input([4], 17) })).toThrow(
      /depthwiseConv2d: argument 'bias' must be \[8\]/,
    );
    expect(() => wg.depthwiseConv2d(x, input([3, 3, 4, 1], 18), { groups: 4 } as never)).toThrow(
      /depthwiseConv2d.*groups/,
    );
    expect(state.runtime).not.toBeNull();
  });
});
