// Node-only helpers refuse to run without Node (PlatformError), and optional packages name their install command.
import { describe, expect, it } from 'vitest';
import {
  MissingPackageError,
  PlatformError,
  WebgradError,
  io,
  loadCheckpoint,
  resnet,
  saveCheckpoint,
} from '../../src/index.js';
import { loadFashionMnist, loadImageFolder, loadMnist } from '../../src/data/index.js';
import { packageFile } from '../../src/data/node.js';

/** Calls `fn` with `globalThis.process` removed, as in a browser; the helpers must refuse before any await. */
function withoutNode<T>(fn: () => T): T {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'process')!;
  delete (globalThis as { process?: unknown }).process;
  try {
    return fn();
  } finally {
    Object.defineProperty(globalThis, 'process', saved);
  }
}

describe('Node-only helpers outside Node', () => {
  const model = resnet({ widths: [2], blocks: [1], classes: 2 });
  const calls: [string, () => Promise<unknown>][] = [
    ['loadMnist', () => loadMnist({ split: 'test' })],
    ['loadFashionMnist', () => loadFashionMnist({ split: 'test' })],
    ['loadImageFolder', () => loadImageFolder('images', { size: [28, 28], channels: 1 })],
    ['saveCheckpoint', () => saveCheckpoint('model.safetensors', model)],
    ['loadCheckpoint', () => loadCheckpoint('model.safetensors')],
    ['saveSafetensors', () => io.saveSafetensors('x.safetensors', {})],
    ['loadSafetensors', () => io.loadSafetensors('x.safetensors')],
  ];
  for (const [name, call] of calls) {
    it(`${name} throws PlatformError naming itself`, async () => {
      const pending = withoutNode(call);
      await expect(pending).rejects.toBeInstanceOf(PlatformError);
      await expect(pending).rejects.toThrow(new RegExp(`^${name}: works in Node.js only`));
    });
  }

  it('the in-memory safetensors forms still work', () => {
    const bytes = withoutNode(() =>
      io.encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } }),
    );
    const back = withoutNode(() => io.decodeSafetensors(bytes));
    expect(Array.from(back.tensors.w.data as Float32Array)).toEqual([1, 2]);
  });
});

describe('optional packages', () => {
  it('a missing one is a MissingPackageError naming the package and the install command', async () => {
    const pending = packageFile('webgrad-no-such-dataset', 'data/x', 'loadMnist');
    await expect(pending).rejects.toBeInstanceOf(MissingPackageError);
    await expect(pending).rejects.toBeInstanceOf(WebgradError);
    await expect(pending).rejects.toThrow(
      "loadMnist: needs the npm package 'webgrad-no-such-dataset', which is not installed; run: npm install webgrad-no-such-dataset",
    );
    await expect(pending).rejects.toMatchObject({
      packageName: 'webgrad-no-such-dataset',
      install: 'npm install webgrad-no-such-dataset',
    });
  });
});
