// The kernel tuner: times candidates once per shape class, caches on disk, stays off with WEBGRAD_TUNE=0, and its
// choice is always a correct kernel.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  conv2d,
  init,
  matmul,
  release,
  stats,
  tensor,
  tuneInfo,
  tuned,
  type Tensor,
} from '../../src/index.js';
import { tunerFor } from '../../src/gpu/tuner.js';
import { replayStats } from '../../src/graph/scheduler.js';
import { state } from '../../src/graph/state.js';
import { conv2dCandidates, convAttrs, convKey } from '../../src/ops/conv2d.js';
import { convDims } from '../../src/ops/conv_geometry.js';
import { expectMatchesReference, seeded } from '../helpers.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'webgrad-tune-'));
afterAll(() => {
  release();
  rmSync(cacheDir, { recursive: true, force: true });
});

function input(shape: number[], seed: number): Tensor {
  return tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );
}

async function open(tune: '0' | '1'): Promise<void> {
  release();
  process.env.WEBGRAD_TUNE = tune;
  process.env.WEBGRAD_TUNE_CACHE = cacheDir;
  await init({ poisonBuffers: true });
}

const xs = [2, 9, 9, 8];
const ws = [3, 3, 8, 12];
const opts = { stride: 2, padding: 'same' } as const;
const key = convKey(convDims('conv2d', xs, ws, convAttrs('conv2d', opts)));

describe('tuner', () => {
  it('times the candidates once, in the background, and then runs the fastest, which is correct', async () => {
    await open('1');
    expect(tuneInfo()).toEqual({ enabled: true, cacheDir, timed: 0 });
    const x = input(xs, 1);
    const w = input(ws, 2);
    // The first run uses the fallback and queues the tuning of this shape.
    await expectMatchesReference([conv2d(x, w, opts)], { atol: 1e-4, rtol: 1e-4 }, 'fallback');
    const before = stats().dispatches;
    await tuned();
    // Its timings do not count as the program's dispatches.
    expect(stats().dispatches).toBe(before);
    const timed = tuneInfo()!.timed;
    expect(timed).toBeGreaterThan(0);
    const choice = tunerFor(state.runtime!).cached('conv2d', `${key} bias false`);
    const d = convDims('conv2d', xs, ws, convAttrs('conv2d', opts));
    const candidates = conv2dCandidates(d, state.runtime!.info.limits).map((c) => JSON.stringify(c));
    expect(candidates).toContain(choice);
    // The tuned kernel's values; the same shape again costs no further timing.
    await expectMatchesReference([conv2d(x, w, opts)], { atol: 1e-4, rtol: 1e-4 }, `tuned ${choice}`);
    await tuned();
    expect(tuneInfo()!.timed).toBe(timed);
    // A matmul is tuned too, and its tuned kernel is correct.
    const a = input([37, 70], 3);
    const b = input([70, 41], 4);
    await matmul(a, b).data();
    await tuned();
    expect(tuneInfo()!.timed).toBeGreaterThan(timed);
    await expectMatchesReference([matmul(a, b)], { atol: 1e-4, rtol: 1e-5 }, 'tuned matmul');
  });

  it('keeps its choices on disk (written whole), so a new engine times nothing', async () => {
    const file = join(cacheDir, 'tune.json');
    expect(existsSync(file)).toBe(true);
    const cached = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
    const entries = Object.values(cached)[0];
    expect(Object.keys(entries)).toContain(`conv2d|${key} bias false`);
    await open('1');
    await conv2d(input(xs, 1), input(ws, 2), opts).data();
    await tuned();
    expect(tuneInfo()!.timed).toBe(0);
  });

  it('tunes a cached shape again when its candidate list changed (a new variant)', async () => {
    const file = join(cacheDir, 'tune.json');
    type Cache = Record<string, Record<string, { choice: string; candidates?: string }>>;
    const cached = JSON.parse(readFileSync(file, 'utf8')) as Cache;
    const entries = Object.values(cached)[0];
    const entry = entries[`conv2d|${key} bias false`];
    const current = entry.candidates;
    expect(current).toMatch(/^[0-9a-f]{8}$/);
    // The entry as an older version wrote it: chosen from another list.
    entry.candidates = 'stale';
    writeFileSync(file, JSON.stringify(cached));
    await open('1');
    await conv2d(input(xs, 1), input(ws, 2), opts).data();
    await tuned();
    expect(tuneInfo()!.timed).toBeGreaterThan(0);
    const after = (JSON.parse(readFileSync(file, 'utf8')) as Cache)[Object.keys(cached)[0]];
    expect(after[`conv2d|${key} bias false`].candidates).toBe(current);
  });

  it('after tuned() a replayed flush is planned again, so it runs the tuned kernel, not the fallback', async () => {
    await open('1');
    const x = input([1, 13, 11, 8], 11);
    const w = input([3, 3, 8, 16], 12);
    const run = async () => {
      const y = conv2d(x, w, { padding: 'same' });
      await y.data();
      y.dispose();
    };
    const cache = replayStats(state.runtime!);
    await run();
    await run();
    // The second flush replayed the first one's plan (made with the fallback, as the shape was not tuned yet).
    const misses = cache.misses;
    expect(cache.hits).toBeGreaterThan(0);
    await tuned();
    expect(tunerFor(state.runtime!).recorded).toBeGreaterThan(0);
    await run();
    expect(cache.misses).toBeGreaterThan(misses);
    // Nothing new was tuned: the next tuned() keeps the plans.
    const replanned = cache.misses;
    await tuned();
    await run();
    expect(cache.misses).toBe(replanned);
  });

  it('WEBGRAD_TUNE=0 turns it off: the fallback kernels run and nothing is timed', async () => {
    await open('0');
    expect(tuneInfo()!.enabled).toBe(false);
    const x = input([1, 7, 7, 4], 5);
    const w = input([3, 3, 4, 4], 6);
    await expectMatchesReference([conv2d(x, w, { padding: 'same' })], { atol: 1e-4, rtol: 1e-4 }, 'untuned');
    await tuned();
    expect(tuneInfo()!.timed).toBe(0);
  });

  it('release() while a tuning runs ends it quietly', async () => {
    await open('1');
    const x = input([1, 11, 11, 8], 7);
    await conv2d(x, input([3, 3, 8, 8], 8), { padding: 'same' }).data();
    // Its tuning is queued and running now.
    release();
    expect(tuneInfo()).toBeNull();
    // The next engine works (and tunes) as usual.
    await open('1');
    const y = conv2d(input([1, 5, 5, 4], 9), input([1, 1, 4, 4], 10));
    await expectMatchesReference([y], { atol: 1e-4, rtol: 1e-4 }, 'after release');
    await tuned();
  });
});
