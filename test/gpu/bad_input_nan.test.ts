// One NaN pixel through a whole network (conv, batch norm, ReLU, max pool, residual add, head, loss), on the device:
// it is never turned into a number, so a poisoned step shows as a NaN loss, and the finite check names its source.
// KNOWN BUG, pinned below with it.fails: with the producer-epilogue fusion pass on (the default), the fused ReLU
// (src/ops/epilogue.ts, `v = max(v, 0.0)`) turns NaN into 0 on llvmpipe, so the NaN vanishes and the loss looks
// normal. `select(max(v, 0.0), v, v != v)` there fixes it on llvmpipe (a bit test, as elementwise.wgsl's wg_isnan,
// is the portable form); once fixed, the it.fails cases fail: turn them into plain its.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  NonFiniteError,
  conv2d,
  debug,
  inception,
  init,
  randn,
  release,
  relu,
  resnet,
  softmaxCrossEntropy,
  tensor,
  tidy,
  type Network,
} from '../../src/index.js';

afterEach(() => {
  debug.checkFinite = false;
});
afterAll(() => release());

const N = 4;
const labels = () => tensor([0, 1, 2, 0], [N], { dtype: 'int32' });

/** Four 8x8 grayscale images; with `poisoned`, pixel 27 of image 0 is NaN. */
function images(poisoned: boolean) {
  const values = Float32Array.from({ length: N * 64 }, (_, i) => ((i * 37) % 101) / 101);
  if (poisoned) values[27] = NaN;
  return tensor(values, [N, 8, 8, 1]);
}

/** The batch's logits, in training or inference mode. */
async function logits(model: Network, poisoned: boolean): Promise<Float32Array> {
  const x = images(poisoned);
  const z = tidy(() => model.forward(x));
  const out = await z.data();
  x.dispose();
  z.dispose();
  return out;
}

// ResNet: conv-BN-ReLU stem, residual blocks; Inception: 3x3 stride-2 max pools before each stage.
const models = {
  resnet: () => resnet({ inputShape: [8, 8, 1], classes: 3, widths: [4, 4], blocks: [1, 1], seed: 2 }),
  inception: () => inception({ inputShape: [8, 8, 1], classes: 3, stem: 4, seed: 2 }),
};

/** Conv then ReLU recorded in one tidy step (so the ReLU can be fused into the conv's store): NaN count out. */
async function convReluNaNs(): Promise<number> {
  const x = images(true);
  const w = randn([3, 3, 1, 4], { seed: 1 });
  const y = tidy(() => relu(conv2d(x, w, { padding: 'same' })));
  const out = await y.data();
  for (const t of [x, w, y]) t.dispose();
  return out.filter(Number.isNaN).length;
}

/** The NaN cases; `known` marks the ones the fused ReLU still gets wrong (it.fails until src/ops/epilogue.ts is fixed). */
function nanCases(known: boolean): void {
  const test = known ? it.fails : it;
  test('conv then ReLU: the 9 output pixels whose window holds the NaN stay NaN in every channel', async () => {
    expect(await convReluNaNs()).toBe(9 * 4);
  });
  for (const [name, build] of Object.entries(models)) {
    test(`${name}, training mode: batch statistics carry it to every image, so the loss is NaN, not a normal number`, async () => {
      const model = build();
      model.train();
      const clean = await logits(model, false);
      expect(clean.every(Number.isFinite)).toBe(true);
      const x = images(true);
      const y = labels();
      const loss = tidy(() => softmaxCrossEntropy(model.forward(x), y));
      expect(Number.isNaN(await loss.item())).toBe(true);
      for (const t of [x, y, loss]) t.dispose();
      model.dispose();
    });

    test(`${name}, inference mode: only the poisoned image's logits are NaN, the others are bit-identical`, async () => {
      const model = build();
      model.eval();
      const clean = await logits(model, false);
      const poisoned = await logits(model, true);
      expect(poisoned.subarray(0, 3).every(Number.isNaN)).toBe(true);
      expect(Array.from(poisoned.subarray(3))).toEqual(Array.from(clean.subarray(3)));
      model.dispose();
    });
  }
}

describe('one NaN pixel, producer-epilogue fusion off', () => {
  beforeAll(async () => {
    release();
    await init({ poisonBuffers: true, fusion: { epilogue: false } });
  });
  nanCases(false);
  it('with the finite check on, the read rejects naming the leaf that holds it and the element', async () => {
    const model = models.resnet();
    debug.checkFinite = true;
    let error: unknown;
    try {
      await logits(model, true);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NonFiniteError);
    expect((error as NonFiniteError).message).toMatch(
      /checkFinite: the leaf Tensor\(\[4,8,8,1\], float32\) holds NaN at element 27/,
    );
    debug.checkFinite = false;
    expect((await logits(model, false)).every(Number.isFinite)).toBe(true);
    model.dispose();
  });
});

describe('one NaN pixel, default fusion (known bug: the fused ReLU drops NaN)', () => {
  beforeAll(async () => {
    release();
    await init({ poisonBuffers: true });
  });
  nanCases(true);
});
