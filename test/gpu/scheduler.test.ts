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
} from '../../src/index.js';
import { useGpu } from '../helpers.js';

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
    flush();
    const x = randn([4096], { seed: 1 });
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
