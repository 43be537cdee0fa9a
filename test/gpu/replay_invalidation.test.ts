// Replay invalidation: every change that alters a step (shape, attribute, leaf, values, frozen flag, fusion, lr,
// a new engine) plans anew or uploads new values, and gives bit for bit the values of planning every step anew.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Adam,
  SGD,
  add,
  assignValues,
  conv2d,
  flush,
  init,
  leakyRelu,
  loadCheckpoint,
  relu,
  release,
  resnet,
  saveCheckpoint,
  tensor,
  tidy,
  type InitOptions,
  type Network,
  type Tensor,
} from '../../src/index.js';
import { passReplayStats } from '../../src/graph/pass_replay.js';
import { replayStats } from '../../src/graph/scheduler.js';
import { state } from '../../src/graph/state.js';
import { expectMatchesReference, seeded } from '../helpers.js';
import { trainStep } from './replay_helpers.js';

const SHAPE = [10, 10, 1] as const;

/** Nodes planned anew (replay misses) since the engine started. */
const misses = () => replayStats(state.runtime!).misses;

/** Flushes whose fusion passes ran (pass replay misses) since the engine started. */
const passMisses = () => passReplayStats(state.runtime!).misses;

/** A small ResNet and SGD with momentum. */
function setup(): { model: Network; opt: SGD } {
  const model = resnet({ inputShape: [...SHAPE], classes: 3, seed: 5 });
  return { model, opt: new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 }) };
}

/** One training step on batch `i` (of `b` images); returns the replay misses it caused. */
async function step(model: Network, opt: SGD, i: number, b = 2): Promise<number> {
  const m0 = misses();
  await trainStep(model, opt, SHAPE, 3, b, 40 + i);
  return misses() - m0;
}

/** The values of every entry of the model's state dict, in key order. */
async function weights(model: Network): Promise<Float32Array[]> {
  const dict = model.stateDict();
  return Promise.all(
    Object.keys(dict)
      .sort()
      .map((k) => dict[k].data()),
  );
}

/**
 * Runs `scenario` on a fresh engine with replay on and with replay off; expects the same values, bit for bit,
 * and returns the replay misses of each step of the replay run.
 */
async function compare(
  scenario: () => Promise<{ values: Float32Array[]; misses: number[] }>,
  options: InitOptions = {},
): Promise<number[]> {
  const runs: { values: Float32Array[]; misses: number[] }[] = [];
  for (const replay of [true, false]) {
    await init({ poisonBuffers: true, ...options, replay });
    try {
      runs.push(await scenario());
    } finally {
      release();
    }
  }
  const [on, off] = runs;
  expect(on.values.length).toBe(off.values.length);
  on.values.forEach((v, i) => expect(Array.from(v), `tensor ${i}`).toEqual(Array.from(off.values[i])));
  expect(off.misses.every((m) => m === 0)).toBe(true);
  return on.misses;
}

/** Steady state: the steps before the change replay completely (step 1 plans, step 2 takes momentum's first). */
function expectSteady(perStep: number[], upTo: number): void {
  for (let i = 2; i < upTo; i++) expect(perStep[i], `misses at step ${i}`).toBe(0);
}

describe('replay invalidation', () => {
  it("an optimizer hyper-parameter change (lr) replays, re-deriving the updates' uniforms only", async () => {
    const rederivedAt: number[][] = [];
    const perStep = await compare(async () => {
      const { model, opt } = setup();
      const m: number[] = [];
      const r: number[] = [];
      for (let i = 0; i < 6; i++) {
        if (i === 4) opt.lr = 0.01;
        const r0 = replayStats(state.runtime!).rederived;
        m.push(await step(model, opt, i));
        r.push(replayStats(state.runtime!).rederived - r0);
      }
      rederivedAt.push(r);
      return { values: await weights(model), misses: m };
    });
    // lr is uniform-only (OpDef.uniformAttrs): nothing is planned anew, the update nodes get new uniforms.
    expectSteady(perStep, 6);
    const [on] = rederivedAt;
    expect(on[3]).toBe(0);
    expect(on[4]).toBeGreaterThan(0);
    expect(on[5]).toBe(0);
  }, 60_000);

  it('Adam steps (their step counts change every step) replay with new uniforms, bit for bit', async () => {
    const perStep = await compare(async () => {
      const model = resnet({ inputShape: [...SHAPE], classes: 3, seed: 5 });
      const opt = new Adam(model.parameters(), { lr: 0.01, weightDecay: 0.01 });
      const m: number[] = [];
      for (let i = 0; i < 5; i++) {
        const m0 = misses();
        await trainStep(model, opt, SHAPE, 3, 2, 40 + i);
        m.push(misses() - m0);
      }
      return { values: await weights(model), misses: m };
    });
    // Step 1 re-plans the two loss nodes only (step 0 uploaded the parameters too, so the labels took another
    // upload slot); from step 2 on nothing is planned, whatever the step counts.
    expect(perStep[0]).toBeGreaterThan(0);
    expect(perStep[1]).toBeLessThanOrEqual(2);
    expectSteady(perStep, 5);
  }, 60_000);

  it('assignValues and loadStateDict put new values into replayed steps', async () => {
    const perStep = await compare(async () => {
      const { model, opt } = setup();
      const m: number[] = [];
      let saved: Record<string, { shape: number[]; data: Float32Array }> = {};
      for (let i = 0; i < 7; i++) {
        if (i === 4) {
          const dict = model.stateDict();
          for (const k of Object.keys(dict)) {
            saved[k] = { shape: [...dict[k].shape], data: await dict[k].data() };
          }
        }
        if (i === 5) {
          // Back to the weights of step 4 (a checkpoint kept in memory), with one weight changed on top.
          model.loadStateDict(saved);
          const w = model.parameters()[0];
          const values = await w.data();
          values[0] += 0.5;
          assignValues(w, values);
          saved = {};
        }
        m.push(await step(model, opt, i));
      }
      return { values: await weights(model), misses: m };
    });
    expectSteady(perStep, 5);
    // The same structure with new values: nothing to plan, the uploads carry the values.
    expect(perStep[5]).toBe(0);
  }, 60_000);

  it('a parameter frozen (requiresGrad = false) and thawed changes the backward pass and plans anew', async () => {
    const perStep = await compare(async () => {
      const { model, opt } = setup();
      const m: number[] = [];
      const first = model.parameters()[0];
      for (let i = 0; i < 7; i++) {
        if (i === 3) first.requiresGrad = false;
        if (i === 5) first.requiresGrad = true;
        m.push(await step(model, opt, i));
      }
      return { values: await weights(model), misses: m };
    });
    expectSteady(perStep, 3);
    expect(perStep[3]).toBeGreaterThan(0);
    // Thawed, the step has the structure of steps 0-2 again, whose plan is still kept: it replays.
    expect(perStep[5]).toBe(0);
  }, 60_000);

  it('another batch size plans anew, and going back replays the earlier plan', async () => {
    const perStep = await compare(async () => {
      const { model, opt } = setup();
      const m: number[] = [];
      const batches = [2, 2, 2, 3, 2, 3];
      for (const [i, b] of batches.entries()) m.push(await step(model, opt, i, b));
      return { values: await weights(model), misses: m };
    });
    expectSteady(perStep, 3);
    expect(perStep[3]).toBeGreaterThan(0);
    // Batch 2 again: its plan is still kept, so the forward and backward replay; only ops whose attributes
    // differ from the last batch-2 step (none here) would plan.
    expect(perStep[4]).toBe(0);
  }, 60_000);

  it('a model loaded from a checkpoint (new leaves) trains on as the replay-off run does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webgrad-replay-'));
    try {
      const perStep = await compare(async () => {
        const { model, opt } = setup();
        const m: number[] = [];
        for (let i = 0; i < 4; i++) m.push(await step(model, opt, i));
        const path = join(dir, `ckpt-${String(state.runtime!.options.replay)}.safetensors`);
        await saveCheckpoint(path, model, { optimizer: opt });
        model.dispose();
        const loaded = await loadCheckpoint(path);
        const net = loaded.model;
        const opt2 = new SGD(net.parameters(), { lr: 0.05, momentum: 0.9 });
        await opt2.loadStateDict(loaded.optimizerState);
        for (let i = 4; i < 7; i++) m.push(await step(net, opt2, i));
        return { values: await weights(net), misses: m };
      });
      expectSteady(perStep, 4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('fusion settings changed, release() and init(): the new engine plans anew and matches replay off', async () => {
    for (const fusion of [true, false, { epilogue: false }]) {
      const perStep = await compare(
        async () => {
          const options = state.runtime!.options;
          const { model, opt } = setup();
          const m: number[] = [];
          for (let i = 0; i < 3; i++) m.push(await step(model, opt, i));
          const dict = model.stateDict();
          const saved: Record<string, { shape: number[]; data: Float32Array }> = {};
          for (const k of Object.keys(dict))
            saved[k] = { shape: [...dict[k].shape], data: await dict[k].data() };
          release();
          await init({ poisonBuffers: true, fusion: options.fusion, replay: options.replay });
          const again = setup();
          again.model.loadStateDict(saved);
          for (let i = 3; i < 6; i++) m.push(await step(again.model, again.opt, i));
          return { values: await weights(again.model), misses: m };
        },
        { fusion },
      );
      expect(perStep[2]).toBe(0);
      // A new engine starts with an empty plan cache.
      expect(perStep[3]).toBeGreaterThan(0);
      expect(perStep[5]).toBe(0);
    }
  }, 120_000);

  it('an attribute change (leakyRelu alpha, conv stride) plans anew and matches the float64 reference', async () => {
    await init({ poisonBuffers: true });
    try {
      const w = tensor(seeded(3 * 3 * 2 * 4, 9), [3, 3, 2, 4]);
      const settings = [
        { alpha: 0.2, stride: 1 },
        { alpha: 0.2, stride: 1 },
        { alpha: 0.1, stride: 1 },
        { alpha: 0.1, stride: 2 },
        { alpha: 0.1, stride: 2 },
      ];
      const perStep: number[] = [];
      for (const [i, { alpha, stride }] of settings.entries()) {
        const m0 = misses();
        const x = tensor(seeded(2 * 7 * 7 * 2, 20 + i), [2, 7, 7, 2]);
        const outs: Tensor[] = [
          tidy(() => add(leakyRelu(conv2d(x, w, { stride, padding: 'same' }), alpha), 1)),
        ];
        await expectMatchesReference(outs, { atol: 1e-5, rtol: 1e-5 }, `step ${i}`);
        perStep.push(misses() - m0);
        for (const t of [x, ...outs]) t.dispose();
      }
      expect(perStep[1]).toBe(0);
      expect(perStep[2]).toBeGreaterThan(0);
      expect(perStep[3]).toBeGreaterThan(0);
      expect(perStep[4]).toBe(0);
    } finally {
      release();
    }
  });

  it('a value the user keeps changes what the passes fuse: that step runs them again and keeps it right', async () => {
    const passRuns: number[] = [];
    await compare(async () => {
      const w = tensor(seeded(3 * 3 * 2 * 4, 9), [3, 3, 2, 4]);
      const values: Float32Array[] = [];
      const m: number[] = [];
      for (let i = 0; i < 6; i++) {
        const p0 = passMisses();
        const m0 = misses();
        const x = tensor(seeded(2 * 7 * 7 * 2, 20 + i), [2, 7, 7, 2]);
        // Step 3 keeps the conv's output, so ReLU and the add cannot run in the conv's store.
        const outs = tidy(() => {
          const c = conv2d(x, w, { padding: 'same' });
          const o = add(relu(c), 1);
          return i === 3 ? [o, c] : [o];
        });
        // The kept value is read after the step's flush: held, not read in it, it must still be stored.
        const read = outs[0].dataOnFlush();
        await flush();
        values.push(await read);
        if (outs[1]) values.push(await outs[1].data());
        for (const t of [x, ...outs]) t.dispose();
        passRuns.push(passMisses() - p0);
        m.push(misses() - m0);
      }
      return { values, misses: m };
    });
    // Replay on ran first: its steps 0 and 3 (a new structure, then the read of the kept value, a flush of no
    // nodes seen first) run the passes; step 4 is step 2 again.
    expect(passRuns.slice(0, 6)).toEqual([1, 0, 0, 2, 0, 0]);
  }, 60_000);

  it('inference folds: new batch-norm values and another model of the same structure fold anew', async () => {
    const passRuns: number[] = [];
    await compare(async () => {
      const model = resnet({ inputShape: [...SHAPE], classes: 3, seed: 5 });
      const other = resnet({ inputShape: [...SHAPE], classes: 3, seed: 6 });
      model.eval();
      other.eval();
      const dict = model.stateDict();
      const gamma = dict[Object.keys(dict).find((k) => k.endsWith('gamma'))!];
      const changed = await gamma.data();
      changed[0] += 0.25;
      const values: Float32Array[] = [];
      const m: number[] = [];
      for (let i = 0; i < 9; i++) {
        const p0 = passMisses();
        const m0 = misses();
        if (i === 3) assignValues(gamma, changed);
        const x = tensor(seeded(2 * 10 * 10, 60 + i), [2, ...SHAPE]);
        const z = tidy(() => (i >= 6 ? other : model).forward(x));
        values.push(await z.data());
        for (const t of [x, z]) t.dispose();
        passRuns.push(passMisses() - p0);
        m.push(misses() - m0);
      }
      return { values, misses: m };
    });
    // Step 0 folds (not kept: its folds are new), step 1 reuses the folds and keeps its passes' results; step 3
    // and step 6 (the other model's filters) fold again, and the step after each keeps the results anew.
    expect(passRuns.slice(0, 9)).toEqual([1, 1, 0, 1, 1, 0, 1, 1, 0]);
  }, 60_000);
});
