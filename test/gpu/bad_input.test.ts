// The bad-input catalogue on the device: failed flushes, stale reads, limits, non-finite values, device loss,
// released engines, empty tensors and file errors; after each, a valid op still runs and gives the right value.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  ArgumentError,
  DisposedError,
  FileError,
  FormatError,
  GpuError,
  LimitError,
  NonFiniteError,
  SGD,
  add,
  batchNorm,
  debug,
  evaluate,
  flush,
  inception,
  init,
  io,
  matmul,
  mul,
  ones,
  relu,
  release,
  resnet,
  scale,
  softmaxCrossEntropy,
  sum,
  tensor,
  tidy,
  zeros,
  type OpDef,
} from '../../src/index.js';
import { apply } from '../../src/graph/record.js';
import { state } from '../../src/graph/state.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { useGpu } from '../helpers.js';

useGpu();
const dir = mkdtempSync(join(tmpdir(), 'webgrad-bad-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  debug.checkFinite = false;
});

/** A valid op still runs on the device and gives the right value. */
async function expectStillWorks(): Promise<void> {
  const y = add(scale(tensor([1, 2, 3]), 2), tensor([0.5, 0.5, 0.5]));
  expect(Array.from(await y.data())).toEqual([2.5, 4.5, 6.5]);
}

/** Binds three storage buffers too few for batch_norm_grad_input_inference: the device rejects the submit (validation error). */
const invalidOp: OpDef<Record<string, never>> = {
  name: 'invalid',
  check: ([x]) => [x],
  forward: (io) => [
    {
      shader: 'batch_norm_grad_input_inference',
      regions: { VEC: 'alias V = f32;' },
      uniforms: [1],
      buffers: [io.inputs[0].buffer],
      workgroups: 1,
    },
  ],
  backward: null,
  cost: () => ({ flops: 0, bytes: 0 }),
  reference: ([x]) => [x],
};

/** Its forward plan throws, as a buggy op or a broken invariant would, while the flush is being planned. */
const throwingOp: OpDef<Record<string, never>> = {
  ...invalidOp,
  name: 'throwing',
  forward: () => {
    throw new TypeError('planning exploded');
  },
};

describe('a failed flush fails its own reads and values, and never the next flush', () => {
  it('a submit the device rejects: typed error on its reads, stale-free next flush, in-place values kept', async () => {
    const p = tensor([1, 2], [2], { requiresGrad: true });
    const opt = new SGD([p], { lr: 0.5 });
    sum(mul(p, p)).backward();
    const bad = apply(invalidOp, [tensor([1, -2])], {});
    const queued = bad.dataOnFlush();
    const step = opt.step(); // the update rides in the same submit as the invalid dispatch
    await expect(queued).rejects.toThrow(GpuError);
    await expect(step).rejects.toThrow(/GPU validation error/);
    // The submit ran nothing: the parameter kept its values (no half-done step).
    expect(Array.from(await p.data())).toEqual([1, 2]);
    // A value computed from the failed one fails with the cause; an independent one is fine.
    await expect(relu(bad).data()).rejects.toThrow(
      /relu: it was computed from a value whose computation failed/,
    );
    await expectStillWorks();
    opt.zeroGrad();
  });

  it('a flush whose planning throws: every read of it rejects with a typed error, the next one is clean', async () => {
    const x = tensor([1, 2, 3]);
    const broken = apply(throwingOp, [x], {});
    const alsoQueued = add(x, x).dataOnFlush();
    const read = broken.data();
    await expect(read).rejects.toThrow(GpuError);
    await expect(read).rejects.toThrow(/flush: TypeError: planning exploded/);
    await expect(alsoQueued).rejects.toThrow(/planning exploded/);
    // Nothing stale: the failed tensor stays failed, later reads and flushes are unaffected.
    await expect(broken.data()).rejects.toThrow(/planning exploded/);
    expect(() => flush()).not.toThrow();
    await expectStillWorks();
    expect(Array.from(await add(x, x).data())).toEqual([2, 4, 6]);
  });

  it('flush() returns a promise that settles when the device is done (and need not be awaited)', async () => {
    const y = relu(tensor([-1, 1]));
    await flush();
    expect(Array.from(await y.data())).toEqual([0, 1]);
    apply(invalidOp, [tensor([1])], {});
    const failed = flush(); // ignored on purpose: no unhandled rejection may follow
    await new Promise((r) => setTimeout(r, 50));
    await expect(failed).rejects.toThrow(GpuError);
    await expectStillWorks();
  });
});

describe('sizes are checked against the device limits when tensors are made and ops recorded', () => {
  it('a tensor past maxBufferSize is refused before its host array is allocated', async () => {
    const limit = state.runtime!.info.limits.maxBufferSize;
    const elements = Math.floor(limit / 4) + 1;
    const started = performance.now();
    expect(() => zeros([elements])).toThrow(LimitError);
    expect(() => zeros([elements])).toThrow(
      /full: tensor \[\d+\] needs \d+ bytes .* maxBufferSize of \d+ bytes/,
    );
    expect(() => tensor({ length: elements } as never, [elements])).toThrow(/tensor: .*maxBufferSize/);
    // Refused at once: nothing close to the size was allocated or filled.
    expect(performance.now() - started).toBeLessThan(1000);
    await expectStillWorks();
  });

  it('an op whose input or output exceeds maxStorageBufferBindingSize names the op, the tensor and the limit', async () => {
    const limits = state.runtime!.info.limits;
    const saved = limits.maxStorageBufferBindingSize;
    limits.maxStorageBufferBindingSize = 4096;
    try {
      const big = zeros([2048]); // 8 KiB: fits a buffer, not one binding
      let error: unknown;
      try {
        relu(big);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(LimitError);
      expect((error as LimitError).limit).toBe('maxStorageBufferBindingSize');
      expect((error as LimitError).bytes).toBe(8192);
      expect((error as Error).message).toMatch(
        /relu: argument 'x' \[2048\] needs 8192 bytes \(8 KiB\), more than the device's maxStorageBufferBindingSize of 4096 bytes/,
      );
      // matmul splits a large output by rows (test/gpu/split_large.test.ts), but not one whose single row is
      // larger than a binding: [1,1] x [1,2048] is one 8 KiB row.
      expect(() => matmul(ones([1, 1]), ones([1, 2048]))).toThrow(
        /matmul: output \[1,2048\] needs 8192 bytes .*, and matmul cannot split it: one row of it is larger than one binding/,
      );
    } finally {
      limits.maxStorageBufferBindingSize = saved;
    }
    await expectStillWorks();
  });
});

describe('debug.checkFinite names the first op that writes NaN or Infinity', () => {
  it('an overflowing matmul followed by ops that inherit its Infinity: the matmul is named', async () => {
    debug.checkFinite = true;
    const x = tensor([1, 2, 3, 4], [2, 2]);
    const w = tensor([1e30, 1e30, 1e30, 1e30], [2, 2]);
    const y = scale(relu(matmul(matmul(x, w), w)), 2);
    let error: unknown;
    try {
      await y.data();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NonFiniteError);
    expect((error as NonFiniteError).op).toBe('matmul');
    expect((error as NonFiniteError).target).toBe('output 0');
    expect((error as Error).message).toMatch(
      /checkFinite: matmul \(op 2 of the flush\) wrote Infinity to output 0 \[2,2\]/,
    );
    await expectStillWorks();
    // Off again: the same graph gives Infinity without complaint (the check is opt-in).
    debug.checkFinite = false;
    expect(Array.from(await scale(relu(matmul(matmul(x, w), w)), 2).data())).toEqual([
      Infinity,
      Infinity,
      Infinity,
      Infinity,
    ]);
  });

  it('names fused ops, NaN from a leaf, and in-place updates', async () => {
    debug.checkFinite = true;
    // Inference batch norm with variance + epsilon = 0 divides by zero: Infinity; the relu after it is fused.
    const bn = () =>
      tidy(() =>
        relu(
          batchNorm(tensor([1, 2, 3, 4], [2, 2]), {
            gamma: ones([2]),
            beta: zeros([2]),
            runningMean: zeros([2]),
            runningVar: tensor([1, -0.5], [2]),
            epsilon: 0.5,
            training: false,
          }),
        ),
      );
    await expect(bn().data()).rejects.toThrow(
      /checkFinite: batchNormInference\+relu \(op 1 of the flush\) wrote Infinity to output 0 \[2,2\] \(first at element 1\)/,
    );
    await expect(add(tensor([1, NaN]), tensor([1, 1])).data()).rejects.toThrow(
      /checkFinite: the leaf Tensor\(\[2\], float32\) holds NaN at element 1/,
    );
    const p = tensor([1, 2], [2], { requiresGrad: true });
    const opt = new SGD([p], { lr: 1e38 });
    sum(mul(p, p)).backward();
    await expect(opt.step()).rejects.toThrow(
      /checkFinite: sgdUpdate \(op \d+ of the flush\) wrote Infinity to input 0 \(in place\) \[2\] \(first at element 1\)/,
    );
    opt.zeroGrad();
    await expectStillWorks();
  });

  it('can be turned on with init({ checkFinite: true }) on a running engine', async () => {
    await init({ checkFinite: true });
    expect(debug.checkFinite).toBe(true);
    await expect(scale(tensor([3e38]), 10).data()).rejects.toThrow(NonFiniteError);
    await init({ checkFinite: false });
    expect(debug.checkFinite).toBe(false);
    await expectStillWorks();
  });
});

describe('empty tensors and non-finite values run without the check', () => {
  it('zero-size tensors through elementwise ops, reductions, matmul and the loss', async () => {
    expect(Array.from(await relu(zeros([0, 3])).data())).toEqual([]);
    expect(Array.from(await add(zeros([0]), zeros([0])).data())).toEqual([]);
    expect(Array.from(await sum(zeros([0])).data())).toEqual([0]);
    expect(Array.from(await matmul(zeros([0, 3]), zeros([3, 2])).data())).toEqual([]);
    const loss = softmaxCrossEntropy(zeros([0, 4]), tensor([], [0], { dtype: 'int32' }));
    // A mean over no rows, as PyTorch: NaN.
    expect(Number.isNaN((await loss.data())[0])).toBe(true);
    expect(Array.from(await tensor([], [0]).data())).toEqual([]);
    await expectStillWorks();
  });

  it('NaN and Infinity flow through as values', async () => {
    const y = await add(tensor([NaN, Infinity, 1]), tensor([1, 1, -Infinity])).data();
    expect(Number.isNaN(y[0])).toBe(true);
    expect(y[1]).toBe(Infinity);
    expect(y[2]).toBe(-Infinity);
    await expectStillWorks();
  });
});

describe('reads and ops after release(), re-init, device loss', () => {
  it('tensors and reads of a released engine fail with DisposedError; init() gives a working engine', async () => {
    const old = tensor([1, 2]);
    const queued = add(old, old).dataOnFlush();
    release();
    await expect(queued).rejects.toThrow(DisposedError);
    await expect(old.data()).rejects.toThrow(DisposedError);
    expect(() => relu(old)).toThrow(/relu: argument 'x' \(tensor \[2\]\) was disposed/);
    expect(() => flush()).toThrow(/flush: the engine is not initialized/);
    release(); // twice is fine
    await init({ poisonBuffers: true });
    await expectStillWorks();
  });

  it('init() again returns the running engine; other options need release() first', async () => {
    const info = state.runtime!.info;
    expect(await init()).toBe(info);
    expect(await init({ poisonBuffers: true })).toBe(info);
    await expect(init({ fusion: false })).rejects.toThrow(
      /init: the engine is already open with other fusion/,
    );
    const other = info.backend === 'swiftshader' ? 'llvmpipe' : 'swiftshader';
    await expect(init({ backend: other })).rejects.toThrow(/other backend; call release\(\) first/);
    await expectStillWorks();
  });

  it('device loss fails reads in flight and the next op with GpuError; release() + init() recovers', async () => {
    const x = tensor([1, 2, 3]);
    const inFlight = scale(x, 2).data();
    const queued = add(x, x).dataOnFlush();
    state.runtime!.device.destroy();
    await expect(inFlight).rejects.toThrow(/GPU device lost \(destroyed/);
    await expect(queued).rejects.toThrow(GpuError);
    expect(() => add(x, x)).toThrow(/add: GPU device lost/);
    expect(() => tensor([1])).toThrow(/tensor: GPU device lost/);
    expect(() => flush()).toThrow(GpuError);
    release();
    await init({ poisonBuffers: true });
    await expectStillWorks();
  });
});

describe('file-system errors name the path; failed saves leave nothing behind', () => {
  const model = () => resnet({ inputShape: [8, 8, 1], classes: 3, widths: [4], blocks: [1], seed: 1 });
  const leftovers = (d: string) => readdirSync(d).filter((f) => f.endsWith('.tmp'));

  it('saving into a missing directory or over a path under a file', async () => {
    const net = model();
    const missing = join(dir, 'no-such-dir', 'model.safetensors');
    await expect(saveCheckpoint(missing, net)).rejects.toThrow(FileError);
    await expect(saveCheckpoint(missing, net)).rejects.toThrow(
      new RegExp(`saveCheckpoint: cannot access '${missing}': no such file or directory \\(ENOENT\\)`),
    );
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    await expect(saveCheckpoint(join(file, 'model.safetensors'), net)).rejects.toThrow(/\(ENOTDIR\)/);
    await expect(io.saveSafetensors(missing, {})).rejects.toThrow(/saveSafetensors: cannot access/);
    expect(leftovers(dir)).toEqual([]);
    net.dispose();
    await expectStillWorks();
  });

  it('saving into a read-only directory leaves no temporary file', async () => {
    const net = model();
    // As root, permission bits do not stop writes; sysfs refuses new files even to root.
    const root = process.getuid?.() === 0;
    const target = root ? '/sys/webgrad-test.safetensors' : join(dir, 'read-only', 'model.safetensors');
    if (!root) {
      mkdirSync(join(dir, 'read-only'));
      chmodSync(join(dir, 'read-only'), 0o555);
    }
    try {
      let error: unknown;
      try {
        await saveCheckpoint(target, net);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(FileError);
      expect((error as FileError).path).toBe(target);
      expect(['EACCES', 'EPERM', 'EROFS']).toContain((error as FileError).code);
      if (!root) expect(leftovers(join(dir, 'read-only'))).toEqual([]);
      expect(existsSync(target)).toBe(false);
    } finally {
      if (!root) chmodSync(join(dir, 'read-only'), 0o755);
      net.dispose();
    }
    await expectStillWorks();
  });

  it('loading a missing file, a directory, a corrupt file', async () => {
    const missing = join(dir, 'missing.safetensors');
    await expect(loadCheckpoint(missing)).rejects.toThrow(
      new RegExp(`loadCheckpoint: cannot access '${missing}': no such file or directory \\(ENOENT\\)`),
    );
    await expect(loadCheckpoint(dir)).rejects.toThrow(
      /loadCheckpoint: cannot access .*: is a directory \(EISDIR\)/,
    );
    await expect(io.loadSafetensors(missing)).rejects.toThrow(/loadSafetensors: cannot access/);
    const corrupt = join(dir, 'corrupt.safetensors');
    writeFileSync(corrupt, 'not a safetensors file at all');
    await expect(loadCheckpoint(corrupt)).rejects.toThrow(FormatError);
    await expect(loadCheckpoint('')).rejects.toThrow(/loadCheckpoint: path must be a non-empty string/);
    await expectStillWorks();
  });

  it('checkpoints of another architecture, or whose config does not match their weights', async () => {
    const path = join(dir, 'resnet.safetensors');
    const net = model();
    await saveCheckpoint(path, net);
    const { model: loaded } = await loadCheckpoint(path);
    // Weights of this ResNet given to an Inception network: named as missing and unknown.
    const other = inception({ inputShape: [8, 8, 1], classes: 3, seed: 1 });
    const values = Object.fromEntries(
      await Promise.all(
        Object.entries(loaded.stateDict()).map(async ([n, t]) => [
          n,
          { shape: t.shape, data: await t.data() },
        ]),
      ),
    );
    expect(() => other.loadStateDict(values)).toThrow(/loadStateDict: missing .*; unknown /);
    // The same architecture, other widths: a shape error naming the entry.
    const wider = resnet({ inputShape: [8, 8, 1], classes: 3, widths: [8], blocks: [1], seed: 1 });
    expect(() => wider.loadStateDict(values)).toThrow(
      /loadStateDict: '.*' has shape \[.*\], expected \[.*\]/,
    );
    // A file whose stored config says widths [8] around weights of widths [4].
    const { tensors, metadata } = await io.loadSafetensors(path);
    const forged = join(dir, 'forged.safetensors');
    const config = JSON.parse(metadata.config);
    await io.saveSafetensors(forged, tensors, {
      ...metadata,
      config: JSON.stringify({ ...config, widths: [8] }),
    });
    await expect(loadCheckpoint(forged)).rejects.toThrow(
      new RegExp(`${forged}: loadStateDict: '.*' has shape`),
    );
    const unknownKind = join(dir, 'unknown-kind.safetensors');
    await io.saveSafetensors(unknownKind, tensors, { ...metadata, config: JSON.stringify({ kind: 'vgg' }) });
    await expect(loadCheckpoint(unknownKind)).rejects.toThrow(
      /the model config in the metadata does not build a model/,
    );
    for (const m of [net, loaded, other, wider]) m.dispose();
    await expectStillWorks();
  });
});

describe('models and datasets that do not fit each other', () => {
  const model = () => resnet({ inputShape: [8, 8, 1], classes: 3, widths: [4], blocks: [1], seed: 1 });
  it('loadStateDict given tensors, or values that do not fill a shape, changes nothing', async () => {
    const a = model();
    const b = model();
    expect(() => b.loadStateDict(a.stateDict() as never)).toThrow(
      /loadStateDict: '.*' is a Tensor; pass host values/,
    );
    const before = await Promise.all(Object.values(b.stateDict()).map((t) => t.data()));
    const values = Object.fromEntries(
      await Promise.all(
        Object.entries(a.stateDict()).map(async ([n, t]) => [n, { shape: t.shape, data: await t.data() }]),
      ),
    );
    const last = Object.keys(values).at(-1)!;
    values[last] = { shape: values[last].shape, data: new Float32Array(1) };
    expect(() => b.loadStateDict(values)).toThrow(
      new RegExp(`loadStateDict: '${last.replace('.', '\\.')}' has 1 values`),
    );
    const after = await Promise.all(Object.values(b.stateDict()).map((t) => t.data()));
    after.forEach((v, i) => expect(v).toEqual(before[i]));
    for (const m of [a, b]) m.dispose();
    await expectStillWorks();
  });

  it('evaluate with a model whose head has another class count is a typed error', async () => {
    const net = model();
    const data = {
      images: new Float32Array(4 * 8 * 8),
      labels: Int32Array.from([0, 1, 2, 3]),
      shape: [8, 8, 1] as [number, number, number],
      classes: ['a', 'b', 'c', 'd'],
      length: 4,
    };
    await expect(evaluate(net, data)).rejects.toThrow(ArgumentError);
    await expect(evaluate(net, data)).rejects.toThrow(
      /evaluate: the model gives scores of shape \[4,3\].*expected \[4,4\]/,
    );
    net.dispose();
    await expectStillWorks();
  });
});

describe('labels the device computed are checked there', () => {
  it('an int32 tensor from an op, out of range: the loss read rejects naming the row', async () => {
    // argmax of each row of the 4x4 identity: 0..3, int32 computed on the device.
    const { argmax } = await import('../../src/index.js');
    const eye = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    const labels = argmax(tensor(eye, [4, 4]), { axis: 1 });
    const loss = softmaxCrossEntropy(zeros([4, 3]), labels);
    await expect(loss.data()).rejects.toThrow(ArgumentError);
    await expect(softmaxCrossEntropy(zeros([4, 3]), labels).data()).rejects.toThrow(
      /softmaxCrossEntropy: labels\[3\] is outside \[0, 3\) \(labels computed on the device, checked there\)/,
    );
    // Inside the range, or skipped with ignoreIndex, it is fine.
    const ok = await softmaxCrossEntropy(zeros([4, 3]), labels, { ignoreIndex: 3 }).data();
    expect(ok[0]).toBeCloseTo(Math.log(3), 6);
    await expectStillWorks();
  });
});
