// Tensors dropped without dispose(): the finalizer gives their storage back once no tidy scope holds them.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { keep, openScope, tensor, tidy } from '../../src/index.js';
import type { Storage } from '../../src/graph/state.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects garbage until `done()` holds (finalizers run after a collection, from the event loop), or gives up. */
async function collectUntil(done: () => boolean): Promise<boolean> {
  for (let i = 0; i < 30 && !done(); i++) {
    gc();
    await new Promise((r) => setTimeout(r, 5));
  }
  return done();
}

/** Runs `make` and returns only the storage of the tensor it made, so nothing here keeps the tensor alive. */
const storageOf = (make: () => { storage: Storage }): Storage => make().storage;

describe('the tensor finalizer', () => {
  it('frees a tensor made outside any scope', async () => {
    const s = storageOf(() => tensor([1, 2, 3], [3]));
    expect(s.refs).toBe(1);
    expect(await collectUntil(() => s.refs === 0)).toBe(true);
  });

  it('frees a tensor returned from the outermost tidy and one kept with keep() inside a tidy', async () => {
    const returned = storageOf(() => tidy(() => tensor([1, 2], [2])));
    let kept: Storage | null = null;
    tidy(() => {
      kept = storageOf(() => keep(tensor([3], [1])));
      return null;
    });
    expect(returned.refs).toBe(1);
    expect(kept!.refs).toBe(1);
    expect(await collectUntil(() => returned.refs === 0 && kept!.refs === 0)).toBe(true);
  });

  it('leaves tensors held by an open scope alone; the scope disposes them when it closes', async () => {
    const scope = openScope();
    const inner = storageOf(() => tidy(() => tensor([4, 5], [2])));
    const s = storageOf(() => tensor([6], [1]));
    expect(await collectUntil(() => s.refs === 0 || inner.refs === 0)).toBe(false);
    scope.close();
    expect(s.refs).toBe(0);
    expect(inner.refs).toBe(0);
  });
});
