// Scheduler and memory behaviour: one submit per flush, pooled buffers, no growth over many steps, typed errors.
import { describe, expect, it } from 'vitest';
import {
  DisposedError,
  ShapeError,
  add,
  flush,
  mean,
  mul,
  randn,
  relu,
  scale,
  stats,
  sub,
  tensor,
  tidy,
  batchNorm,
  keep,
  ones,
  type Tensor,
  uniform,
  zeros,
} from '../../src/index.js';
import { expectMatchesReference, useGpu } from '../helpers.js';

useGpu();

describe('scheduler', () => {
  it('runs a chain of 100 elementwise ops and a read in exactly one submit', async () => {
    flush();
    let x = tensor([1, 2, 3], [3]);
    const one = tensor([1, 1, 1], [3]);
    const before = stats();
    for (let i = 0; i < 100; i++) x = i % 2 === 0 ? add(x, one) : relu(x);
    expect(Array.from(await x.data())).toEqual([51, 52, 53]);
    const after = stats();
    expect(after.submits - before.submits).toBe(1);
    expect(after.dispatches - before.dispatches).toBe(100);
    expect(after.readbacks - before.readbacks).toBe(1);
  });

  it('reuses intermediate buffers within a flush once their last reader is encoded', async () => {
    const x = randn([4096], { seed: 1 });
    // Leaves upload with the next flush: read x once so its buffer is counted before.
    await x.data();
    const liveBefore = stats().liveBuffers;
    const y = tidy(() => {
      let h = x;
      for (let i = 0; i < 50; i++) h = scale(relu(h), 1.01);
      return h;
    });
    await y.data();
    // 100 intermediates were disposed by tidy before running: only the result's buffer stays live.
    expect(stats().liveBuffers - liveBefore).toBe(1);
    y.dispose();
    expect(stats().liveBuffers).toBe(liveBefore);
  });

  it('keeps live memory flat over 1,000 forward/backward iterations', async () => {
    const w = randn([32, 16], { seed: 2, requiresGrad: true });
    const b = randn([16], { seed: 3, requiresGrad: true });
    const x = randn([32, 16], { seed: 4 });
    const step = async () => {
      const loss = tidy(() => {
        const l = mean(mul(relu(add(mul(x, w), b)), sub(w, x)));
        l.backward();
        return l;
      });
      await loss.data();
      loss.dispose();
      w.grad!.dispose();
      w.grad = null;
      b.grad!.dispose();
      b.grad = null;
    };
    await step();
    const first = stats();
    for (let i = 0; i < 999; i++) await step();
    const last = stats();
    expect(last.liveBytes).toBe(first.liveBytes);
    expect(last.liveBuffers).toBe(first.liveBuffers);
    expect(last.submits - first.submits).toBe(999);
  });

  it('lets a read ride along with the next flush instead of submitting', async () => {
    flush();
    const x = randn([8], { seed: 5 });
    const y = scale(x, 2);
    const before = stats().submits;
    const pending = y.dataOnFlush();
    expect(stats().submits).toBe(before);
    flush();
    const [got, xs] = [await pending, await x.data()];
    expect(Array.from(got)).toEqual(Array.from(xs, (v) => v * 2));
    expect(stats().submits - before).toBe(2);
  });

  it('fuses a ReLU into the batch norm before it when nothing else reads the normalized values', async () => {
    const x = randn([3, 5, 6, 8], { seed: 6 });
    const params = {
      gamma: randn([8], { seed: 7 }),
      beta: randn([8], { seed: 8 }),
      runningMean: randn([8], { seed: 9 }),
      runningVar: uniform([8], { seed: 10, low: 0.5, high: 2 }),
      training: false,
    };
    flush();
    const start = stats().dispatches;
    const fused = tidy(() => relu(batchNorm(x, params)));
    const fusedValues = await fused.data();
    const fusedDispatches = stats().dispatches - start;
    // Holding the batch-norm output keeps the pass away: two dispatches, the same values.
    const normalized = batchNorm(x, params);
    const plain = relu(normalized);
    const plainValues = await plain.data();
    expect(fusedDispatches).toBe(1);
    expect(stats().dispatches - start - fusedDispatches).toBe(2);
    expect(Array.from(fusedValues)).toEqual(Array.from(plainValues));
    await expectMatchesReference([fused], { atol: 1e-5, rtol: 1e-5 });
  });

  it('fuses the ReLU after a residual add', async () => {
    const a = randn([2, 7, 7, 8], { seed: 14 });
    const b = randn([2, 7, 7, 8], { seed: 15 });
    flush();
    const start = stats().dispatches;
    const fused = tidy(() => relu(add(a, b)));
    const values = await fused.data();
    expect(stats().dispatches - start).toBe(1);
    const [av, bv] = [await a.data(), await b.data()];
    expect(Array.from(values)).toEqual(Array.from(av, (v, i) => Math.max(Math.fround(v + bv[i]), 0)));
  });

  it('trains through a fused batch norm + ReLU with the reference gradients', async () => {
    const x = randn([4, 5, 5, 8], { seed: 11 });
    const gamma = randn([8], { seed: 12, requiresGrad: true });
    const beta = randn([8], { seed: 13, requiresGrad: true });
    // One training step; holding the normalized values (`hold`) keeps the fusion pass away.
    const step = async (hold: boolean) => {
      const running = { runningMean: zeros([8]), runningVar: ones([8]) };
      flush();
      const start = stats().dispatches;
      let held: Tensor | null = null;
      const loss = tidy(() => {
        const normalized = batchNorm(x, { gamma, beta, ...running, training: true });
        if (hold) held = keep(normalized);
        const y = relu(normalized);
        const l = mean(mul(y, y));
        l.backward();
        return l;
      });
      const grads = [gamma.grad!, beta.grad!];
      await expectMatchesReference([loss, ...grads], { atol: 1e-5, rtol: 1e-4 });
      const values = await Promise.all(grads.map((g) => g.data()));
      for (const t of [loss, ...grads, ...Object.values(running)]) t.dispose();
      (held as Tensor | null)?.dispose();
      gamma.grad = beta.grad = null;
      return { dispatches: stats().dispatches - start, values };
    };
    const fused = await step(false);
    const plain = await step(true);
    expect(fused.dispatches).toBe(plain.dispatches - 1);
    expect(fused.values.map((v) => Array.from(v))).toEqual(plain.values.map((v) => Array.from(v)));
  });

  it('gives typed errors for wrong shapes, ranks and disposed tensors, and the next op still runs', async () => {
    const a = tensor([1, 2, 3, 4], [2, 2]);
    expect(() => add(a, tensor([1, 2, 3], [3]))).toThrow(ShapeError);
    expect(() => mean(a, { axis: 2 })).toThrow(/mean: argument 'axis'/);
    const gone = tensor([1], [1]);
    gone.dispose();
    await expect(gone.data()).rejects.toThrow(DisposedError);
    expect(() => add(gone, gone)).toThrow(DisposedError);
    expect(Array.from(await add(a, a).data())).toEqual([2, 4, 6, 8]);
  });
});
