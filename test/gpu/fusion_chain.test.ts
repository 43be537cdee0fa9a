// The elementwise pass: chains and trees of elementwise nodes generated into one kernel, against the unfused graph
// and the float64 reference on edge shapes (odd sizes, broadcasts, C not a multiple of 4, batch 1); what stays apart.
import { describe, expect, it } from 'vitest';
import {
  add,
  div,
  exp,
  explain,
  init,
  keep,
  mean,
  mul,
  relu,
  release,
  scale,
  sigmoid,
  stats,
  sub,
  tanh,
  tidy,
  tensor,
  where,
  greater,
} from '../../src/index.js';
import { expectClose, seeded } from '../helpers.js';
import { expectFused, leaf, withFusion } from './fusion_epilogue_helpers.js';

/** relu(tanh((a + b) * 2 - c) / (1 + exp(-a))) * 0.5 over a of `shape`, b and c broadcast from `bShape`, `cShape`. */
function longChain(shape: number[], bShape: number[], cShape: number[]) {
  return () => {
    const a = leaf(shape, 1);
    const b = leaf(bShape, 2);
    const c = leaf(cShape, 3);
    const t = tanh(sub(mul(add(a, b), 2), c));
    const d = add(1, exp(scale(a, -1)));
    return [scale(relu(div(t, d)), 0.5)];
  };
}
const LONG = 'add+mul+sub+tanh+scale+exp+add+div+relu+scale';

describe('elementwise chains', () => {
  it('fuses a chain of any length, with broadcasts and number operands, into one kernel', async () => {
    const cases: [number[], number[], number[]][] = [
      [[3, 5, 7], [7], [3, 1, 1]], // odd sizes, broadcasts on both ends
      [[1, 3, 3, 5], [5], [1]], // batch 1, C = 5
      [
        [2, 4, 4, 8],
        [1, 4, 1, 8],
        [2, 4, 4, 8],
      ], // vec4 lanes
      [[1, 1, 1, 3], [3], [1, 1, 1, 1]],
    ];
    for (const [shape, bShape, cShape] of cases) {
      await expectFused(true, longChain(shape, bShape, cShape), [LONG], `chain ${shape}`);
      await expectFused({ elementwise: true }, longChain(shape, bShape, cShape), [LONG], `chain ${shape}`);
    }
  });

  it('fuses trees: both operands of a node computed in the chain, a tensor read twice binds once', async () => {
    const build = () => {
      const a = leaf([3, 6, 5], 4);
      const b = leaf([3, 6, 5], 5);
      const left = mul(exp(a), a);
      const right = where(greater(b, 0), sigmoid(b), scale(b, 0.1));
      return [sub(left, right)];
    };
    await expectFused(true, build, ['exp+mul+greater+sigmoid+scale+where+sub'], 'tree');
  });

  it('keeps a value apart when something else reads it, a tensor holds it, or it would be broadcast', async () => {
    const fanOut = () => {
      const a = leaf([2, 3, 5], 6);
      const e = exp(a);
      return [add(e, 1), mul(e, 2)];
    };
    await expectFused(true, fanOut, ['exp', 'add', 'mul'], 'read twice');
    const held = () => {
      const a = leaf([2, 3, 5], 7);
      const e = keep(exp(a));
      return [add(e, 1), e];
    };
    await expectFused(true, held, ['exp', 'add'], 'held');
    const broadcast = () => {
      const a = leaf([4, 5], 8);
      const v = leaf([5], 9);
      return [add(a, tanh(v))];
    };
    await expectFused(true, broadcast, ['tanh', 'add'], 'broadcast producer');
  });

  it('splits a tree whose distinct inputs exceed one kernel (7 inputs + the output)', async () => {
    const build = () => {
      const xs = Array.from({ length: 9 }, (_, i) => leaf([3, 5], 20 + i));
      let s = xs[0];
      for (const x of xs.slice(1)) s = add(s, x);
      return [s];
    };
    const { kernels } = await withFusion(true, build);
    // The left-deep sum takes the first 7 leaves (6 adds), then two more adds of one kernel.
    expect(kernels).toEqual(['add+add+add+add+add+add', 'add+add']);
    await expectFused(true, build, kernels, 'nine inputs');
  });

  it('switched off, gives the unfused plan (an add+relu stays an epilogue); dispatches drop by the chain', async () => {
    const build = longChain([3, 5, 7], [7], [3, 1, 1]);
    const off = await withFusion({ elementwise: false }, build);
    expect(off.kernels).toEqual(['add', 'mul', 'sub', 'tanh', 'scale', 'exp', 'add', 'div+relu', 'scale']);
    const none = await withFusion(false, build);
    expect(none.kernels).toHaveLength(10);
    const on = await withFusion(true, build);
    expect(on.kernels).toEqual([LONG]);
    on.values.forEach((v, i) => expectClose(v, none.values[i], { atol: 1e-6, rtol: 1e-6 }, 'on vs off'));
    // The same on a running engine: the step's dispatch count.
    const count = async (fusion: boolean) => {
      release();
      await init({ poisonBuffers: true, fusion: { elementwise: fusion } });
      try {
        const [y] = tidy(build);
        await y.data(); // uploads, pipelines
        const before = stats().dispatches;
        const [z] = tidy(build);
        await z.data();
        return stats().dispatches - before;
      } finally {
        release();
      }
    };
    expect((await count(false)) - (await count(true))).toBe(9 - 1);
  });

  it('fuses the gradient chains of a training step; gradients equal the unfused ones', async () => {
    const build = () => {
      const a = leaf([2, 3, 3, 5], 30);
      const w = keep(tensor(seeded(5, 31), [5], { requiresGrad: true }));
      const h = relu(add(mul(a, w), 0.1));
      const loss = mean(mul(tanh(h), h));
      loss.backward();
      const g = w.grad!;
      return [loss, g];
    };
    const on = await withFusion(true, build);
    const off = await withFusion(false, build);
    expect(on.kernels.length).toBeLessThan(off.kernels.length);
    expect(on.kernels.some((k) => k.split('+').length >= 3)).toBe(true);
    on.values.forEach((v, i) => expectClose(v, off.values[i], { atol: 1e-6, rtol: 1e-5 }, `output ${i}`));
    await expectFused(true, build, on.kernels, 'training step');
  });

  it('passes dy through an add as a view: no copy kernel, each gradient its own handle', async () => {
    release();
    await init({ poisonBuffers: true, fusion: false });
    try {
      const a = tensor([1, 2, 3], [3], { requiresGrad: true });
      const b = tensor([4, 5, 6], [3], { requiresGrad: true });
      const step = () => tidy(() => mean(mul(add(a, b), 2)).backward());
      const plan = await explain(step);
      // The forward is pruned (nothing reads the loss): mean's gradient (fill, broadcast), times 2 (one kernel);
      // a.grad and b.grad are views of that kernel's output, with no copy kernel each.
      const ops = plan.kernels.map((k) => k.nodes.map((n) => n.op).join('+'));
      expect(ops).toEqual(['fill', 'broadcastTo', 'elementwise']);
      // explain() put .grad back as it was (none): the real step starts from no gradient.
      expect([a.grad, b.grad]).toEqual([null, null]);
      step();
      expect(Array.from(await a.grad!.data())).toEqual(Array.from(await b.grad!.data()));
      a.grad!.dispose();
      expect(Array.from(await b.grad!.data()).map((v) => v.toFixed(4))).toEqual([
        '0.6667',
        '0.6667',
        '0.6667',
      ]);
    } finally {
      release();
    }
  });

  it('names the pass in the plan', async () => {
    release();
    await init({ poisonBuffers: true });
    const plan = await explain(() => tidy(longChain([3, 5], [5], [1]))).finally(() => release());
    expect(plan.fusions.map((f) => f.pass)).toEqual(['elementwise']);
    expect(plan.fusions[0].nodes).toHaveLength(10);
    expect(plan.kernels[0].shader).toBe('elementwise');
  });
});
