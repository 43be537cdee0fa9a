// Replay: a flush shaped like an earlier one reuses its dispatches, buffers and bind groups; values unchanged.
import { describe, expect, it } from 'vitest';
import { SGD, add, mul, relu, init, release, tensor, tidy, resnet, type Tensor } from '../../src/index.js';
import { passReplayStats } from '../../src/graph/pass_replay.js';
import type { Plan } from '../../src/graph/plan.js';
import { listenToPlans, replayStats } from '../../src/graph/scheduler.js';
import { state } from '../../src/graph/state.js';
import { expectMatchesReference, seeded } from '../helpers.js';
import { trainStep } from './replay_helpers.js';

/** `steps` SGD steps of a small ResNet at `batches[i]`; returns the first weight and the replay hit rate. */
async function train(replay: boolean, batches: number[]): Promise<{ w: Float32Array; hitRate: number }> {
  await init({ poisonBuffers: true, replay });
  try {
    const model = resnet({ inputShape: [12, 12, 1], classes: 4, seed: 3 });
    const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    let hits = 0;
    let total = 0;
    for (const [i, b] of batches.entries()) {
      const cache = replayStats(state.runtime!);
      const [h0, m0] = [cache.hits, cache.misses];
      await trainStep(model, opt, [12, 12, 1], 4, b, 10 + i);
      if (i >= 2) {
        hits += cache.hits - h0;
        total += cache.hits - h0 + cache.misses - m0;
      }
    }
    const w = await model.parameters()[0].data();
    return { w, hitRate: total > 0 ? hits / total : 0 };
  } finally {
    release();
  }
}

describe('replay', () => {
  it('replays identical training steps with the values of planning every step anew', async () => {
    const batches = [2, 2, 2, 2, 2];
    const on = await train(true, batches);
    const off = await train(false, batches);
    expect(Array.from(on.w)).toEqual(Array.from(off.w));
    expect(on.hitRate).toBeGreaterThan(0.9);
    expect(off.hitRate).toBe(0);
  }, 60_000);

  it('plans anew when the structure changes (another batch size) and still matches', async () => {
    const batches = [2, 2, 3, 2, 3, 3];
    const on = await train(true, batches);
    const off = await train(false, batches);
    expect(Array.from(on.w)).toEqual(Array.from(off.w));
  }, 60_000);

  it('a replayed elementwise chain on new leaf values matches the float64 reference', async () => {
    await init({ poisonBuffers: true });
    try {
      for (let i = 0; i < 4; i++) {
        const a = tensor(seeded(37, i), [37]);
        const b = tensor(seeded(37, 100 + i), [37]);
        const outs: Tensor[] = [tidy(() => relu(add(mul(a, b), a)))];
        await expectMatchesReference(outs, { atol: 1e-6, rtol: 1e-6 }, `step ${i}`);
        for (const t of [a, b, ...outs]) t.dispose();
      }
      expect(replayStats(state.runtime!).hits).toBeGreaterThan(0);
    } finally {
      release();
    }
  });

  it("a flush whose passes were replayed names the same fusions as the one that ran them, by this flush's node ids", async () => {
    await init({ poisonBuffers: true });
    const plans: Plan[] = [];
    const previous = listenToPlans((p) => plans.push(p));
    try {
      const model = resnet({ inputShape: [12, 12, 1], classes: 4, seed: 3 });
      const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
      const cache = passReplayStats(state.runtime!);
      const hits = cache.hits;
      for (let i = 0; i < 3; i++) await trainStep(model, opt, [12, 12, 1], 4, 2, 10 + i);
      model.eval();
      for (let i = 0; i < 3; i++) {
        const x = tensor(seeded(2 * 144, 20 + i), [2, 12, 12, 1]);
        const z = tidy(() => model.forward(x));
        await z.data();
        for (const t of [x, z]) t.dispose();
      }
      // Training: the step's flush, then the loss read; inference: the read, after a flush that computes the folds.
      expect(cache.hits - hits).toBeGreaterThanOrEqual(4);
      const shape = (p: Plan) => p.fusions.map((f) => `${f.pass}:${f.nodes.length}`).sort();
      const ids = (p: Plan) => new Set(p.kernels.flatMap((k) => k.nodes.map((n) => n.id)));
      const steps = plans.filter((p) => p.fusions.length > 0);
      const first = steps[0];
      const last = steps[steps.length - 1];
      expect(shape(steps[1])).toEqual(shape(first));
      expect(shape(last).some((f) => f.startsWith('foldBatchNorm'))).toBe(true);
      for (const p of [steps[1], last]) {
        const planned = ids(p);
        for (const f of p.fusions) for (const id of f.nodes) expect(planned.has(id)).toBe(true);
      }
    } finally {
      listenToPlans(previous);
      release();
    }
  });
});
