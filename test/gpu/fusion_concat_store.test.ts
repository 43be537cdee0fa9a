// The concatStore pass: producers of a channel concat's inputs store their slice of its output in place, every conv
// variant, with the fallbacks (odd channels, a second reader, leaves, nesting), against unfused and float64.
import { describe, expect, it } from 'vitest';
import {
  add,
  concat,
  conv2d,
  explain,
  init,
  nn,
  relu,
  release,
  tensor,
  tidy,
  type Tensor,
} from '../../src/index.js';
import { record } from '../../src/graph/record.js';
import { conv2dCandidates, conv2dOp, conv2dPlan, convAttrs } from '../../src/ops/conv2d.js';
import { convDims } from '../../src/ops/conv_geometry.js';
import type { KernelIO } from '../../src/ops/types.js';
import { expectClose, seeded } from '../helpers.js';
import { expectFused, leaf, tol } from './fusion_epilogue_helpers.js';

/** A 3x3 'same' conv of x (channels from x) to `cout` channels, then ReLU (one kernel with its epilogue). */
const convRelu = (x: Tensor, cout: number, seed: number) =>
  relu(conv2d(x, leaf([3, 3, x.shape[3], cout], seed, -0.5, 0.5), { padding: 'same' }));

// (The plans list one 'concat' kernel per input copied.)
describe('concatStore: concat inputs stored in place by their producers', () => {
  it('two conv+relu branches: no concat kernel left', async () => {
    const build = () => {
      const x = leaf([2, 5, 6, 4], 1);
      return [concat([convRelu(x, 8, 2), convRelu(x, 12, 3)], -1)];
    };
    await expectFused({}, build, ['conv2d+relu', 'conv2d+relu'], 'two branches');
    await expectFused(
      { concatStore: false },
      build,
      ['conv2d+relu', 'conv2d+relu', 'concat', 'concat'],
      'switched off',
    );
  });

  it('channels or offsets not multiples of 4, a leaf input, a second reader: those inputs are copied', async () => {
    // 6 channels: copied; 8 at offset 6: copied; the total (18) rules out every slice.
    const odd = () => {
      const x = leaf([1, 4, 4, 4], 4);
      return [concat([convRelu(x, 6, 5), convRelu(x, 8, 6), convRelu(x, 4, 7)], -1)];
    };
    await expectFused({}, odd, [...Array(3).fill('conv2d+relu'), ...Array(3).fill('concat')], 'odd channels');
    // A leaf between two branches: the branches store, the concat copies the leaf alone.
    const partial = () => {
      const x = leaf([2, 3, 5, 4], 8);
      return [concat([convRelu(x, 8, 9), leaf([2, 3, 5, 4], 10), convRelu(x, 4, 11)], 3)];
    };
    await expectFused({}, partial, ['conv2d+relu', 'conv2d+relu', 'concat'], 'leaf input');
    // Only leaves (a graph input): nothing to store.
    const leaves = () => [concat([leaf([2, 2, 2, 4], 12), leaf([2, 2, 2, 8], 13)], -1)];
    await expectFused({}, leaves, ['concat', 'concat'], 'leaves');
    // The first branch is read by an add too: its value needs a buffer of its own.
    const shared = () => {
      const x = leaf([1, 4, 4, 4], 14);
      const a = convRelu(x, 4, 15);
      return [concat([a, convRelu(x, 8, 16)], -1), add(a, a)];
    };
    await expectFused({}, shared, ['conv2d+relu', 'conv2d+relu', 'concat', 'add'], 'second reader');
    // A concat along another axis is left alone.
    const rows = () => {
      const x = leaf([1, 4, 4, 4], 17);
      return [concat([convRelu(x, 4, 18), convRelu(x, 4, 19)], 1)];
    };
    await expectFused({}, rows, ['conv2d+relu', 'conv2d+relu', 'concat', 'concat'], 'axis 1');
  });

  it('back-to-back concats: the inner one is stored in place, the outer copies it', async () => {
    const build = () => {
      const x = leaf([2, 4, 4, 4], 20);
      const inner = concat([convRelu(x, 4, 21), convRelu(x, 8, 22)], -1);
      return [concat([inner, convRelu(x, 4, 23)], -1)];
    };
    await expectFused({}, build, ['conv2d+relu', 'conv2d+relu', 'conv2d+relu', 'concat'], 'nested');
  });

  it('every conv forward variant stores its slice', async () => {
    release();
    const info = await init({ poisonBuffers: true });
    try {
      const xs = [2, 5, 6, 8];
      const ws = [3, 3, 8, 8];
      const attrs = convAttrs('conv2d', { padding: 'same' });
      const d = convDims('conv2d', xs, ws, attrs);
      const choices = conv2dCandidates(d, info.limits);
      expect(choices.length).toBeGreaterThan(5);
      const x = leaf(xs, 30);
      const w = leaf(ws, 31);
      const other = leaf([2, 5, 6, 4], 32);
      const plain = await tidy(() => conv2d(x, w, { padding: 'same' })).data();
      for (const choice of choices) {
        const op = { ...conv2dOp, forward: (io: KernelIO) => conv2dPlan(io, d, choice) };
        const build = () => concat([other, record(op, [x, w], attrs)[0], other], -1);
        const plan = await explain(() => tidy(build));
        const label = JSON.stringify(choice);
        expect(
          plan.kernels.map((k) => k.nodes.map((n) => n.op).join('+')),
          label,
        ).toEqual(['conv2d', 'concat', 'concat']);
        const got = await tidy(build).data();
        const want = new Float32Array(got.length);
        const o = await other.data();
        for (let r = 0; r < 60; r++) {
          want.set(o.subarray(r * 4, r * 4 + 4), r * 16);
          want.set(plain.subarray(r * 8, r * 8 + 8), r * 16 + 4);
          want.set(o.subarray(r * 4, r * 4 + 4), r * 16 + 12);
        }
        expectClose(got, want, tol, label);
      }
    } finally {
      release();
    }
  });

  for (const replay of [true, false]) {
    it(`Inception module inference, replay ${replay}: equal to the unfused module, across repeated steps`, async () => {
      const run = async (concatStore: boolean) => {
        release();
        await init({ poisonBuffers: true, replay, fusion: { concatStore } });
        try {
          const block = new nn.InceptionBlock(8, {
            b1: 8,
            b3Reduce: 4,
            b3: 12,
            b5Reduce: 4,
            b5: 4,
            poolProj: 4,
          });
          block.eval();
          const x = tensor(seeded(2 * 7 * 7 * 8, 40), [2, 7, 7, 8]);
          const plan = await explain(() => tidy(() => block.forward(x)));
          const steps: Float32Array[] = [];
          for (let i = 0; i < 3; i++) {
            const y = tidy(() => block.forward(x));
            steps.push(await y.data());
            y.dispose();
          }
          return {
            steps,
            concats: plan.kernels.filter((k) => k.nodes.some((n) => n.op === 'concat')).length,
          };
        } finally {
          release();
        }
      };
      const on = await run(true);
      const off = await run(false);
      expect(on.concats).toBe(0);
      expect(off.concats).toBeGreaterThan(0);
      for (let i = 0; i < 3; i++) {
        expectClose(on.steps[i], off.steps[0], tol, `step ${i}`);
        expect(on.steps[i]).toEqual(on.steps[0]);
      }
    });
  }
});
