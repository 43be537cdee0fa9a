// The bad-input catalogue of the training front door, without a device: fit, the model builders, replaceHead,
// saveCheckpoint and image folders refuse what a careful user might pass, before anything is recorded or loaded.
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Adam,
  ArgumentError,
  FileError,
  cosineSchedule,
  data,
  evaluate,
  fit,
  gradcheck,
  inception,
  nn,
  randn,
  resnet,
  saveCheckpoint,
  sum,
  zeros,
  type FitOptions,
  type Tensor,
} from '../../src/index.js';
import { decodeImageFolder, listImageFolder } from '../../src/data/folder.js';
import { expectRefused, expectRejected } from './bad_input_helpers.js';

const small = () => resnet({ inputShape: [4, 4, 1], classes: 2, widths: [2], blocks: [1], seed: 1 });

/** A dataset of `n` blank 4x4 grayscale images with labels 0, 1, 0, ... and the given class names. */
function dataset(n = 4, classes = ['a', 'b']): data.Dataset {
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes.length);
  return { images: new Float32Array(n * 16), labels, shape: [4, 4, 1], classes, length: n };
}

describe('fit refuses bad arguments before it loads or records anything', () => {
  const model = small();
  const optimizer = new Adam(model.parameters(), { lr: 0.01 });
  const options = (extra: object = {}): FitOptions => ({ epochs: 1, batchSize: 2, optimizer, ...extra });
  const refused = (args: [unknown, unknown, unknown], pattern: RegExp) =>
    expectRejected(() => fit(...(args as Parameters<typeof fit>)), ArgumentError, pattern);

  it('option typos, missing or wrong optimizer, schedules and callbacks that are not functions', async () => {
    await refused([model, dataset(), options({ valdation: dataset() })], /fit: unknown option 'valdation'/);
    await refused([model, dataset(), options({ batchsize: 2 })], /fit: unknown option 'batchsize'/);
    await refused(
      [model, dataset(), { epochs: 1, batchSize: 2 }],
      /fit: option 'optimizer' must be an optimizer/,
    );
    await refused([model, dataset(), options({ optimizer: { step() {} } })], /option 'optimizer' must be/);
    await refused(
      [model, dataset(), options({ schedule: 0.01 })],
      /fit: option 'schedule' must be a function/,
    );
    await refused(
      [model, dataset(), options({ onEpoch: 'log' })],
      /fit: option 'onEpoch' must be a function/,
    );
    await refused([model, dataset(), null], /fit: options must be an object/);
  });

  it('zero, negative, fractional and NaN counts and seeds', async () => {
    for (const batchSize of [0, -4, 2.5, NaN]) {
      await refused([model, dataset(), options({ batchSize })], /fit: batchSize must be a positive integer/);
    }
    await refused(
      [model, dataset(), options({ epochs: 0 })],
      /fit: epochs must be a positive integer, got 0/,
    );
    for (const seed of [NaN, -1, 1.5]) {
      await refused([model, dataset(), options({ seed })], /fit: 'seed' must be an integer >= 0/);
    }
  });

  it('a NaN learning rate from a schedule is refused naming the step, before that step is recorded', async () => {
    // cosineSchedule refuses a NaN base itself; a hand-written schedule can still return one.
    expectRefused(() => cosineSchedule({ base: NaN, total: 10 }), ArgumentError, /'base' must be a finite/);
    await refused(
      [model, dataset(), options({ schedule: (step: number) => (step < 0 ? 0.1 : NaN) })],
      /fit: schedule\(0\) returned NaN; a learning rate must be a finite number >= 0/,
    );
    await refused([model, dataset(), options({ schedule: () => -0.1 })], /schedule\(0\) returned -0.1/);
    expect(optimizer.lr).toBe(0.01);
  });

  it('models and datasets that are not what fit needs, an empty set, a single class, a validation set that does not fit', async () => {
    await refused([{ forward: () => null }, dataset(), options()], /fit: argument 'model' must be a Module/);
    await refused([model, null, options()], /fit: argument 'data' must be a Dataset/);
    await refused([model, { ...dataset(), shape: [4, 4] }, options()], /argument 'data' must be a Dataset/);
    await refused([model, dataset(0), options()], /fit: argument 'data' is empty/);
    // One class: every prediction is right, the loss is 0, the run means nothing.
    await refused([model, dataset(4, ['cats']), options()], /fit: the training set has 1 class \(cats\)/);
    await refused(
      [
        model,
        dataset(),
        options({ validation: { ...dataset(), images: new Float32Array(4 * 64), shape: [8, 8, 1] } }),
      ],
      /fit: the validation set has images of shape \[8,8,1\] and 2 classes, the training set \[4,4,1\] and 2/,
    );
    await refused(
      [model, dataset(), options({ validation: dataset(4, ['a', 'b', 'c']) })],
      /the validation set has .* and 3 classes, the training set .* and 2; they must match/,
    );
  });
});

describe('evaluate and fit check the dataset values they are given', () => {
  const model = small();
  const optimizer = new Adam(model.parameters(), { lr: 0.01 });

  it('labels outside [0, classes) or fractional, image arrays that do not fill, a non-model', async () => {
    const outside = { ...dataset(), labels: Int32Array.of(0, 1, 7, 0) };
    // evaluate used to index its confusion matrix with the label and die with a TypeError.
    await expectRejected(
      () => evaluate(model, outside),
      ArgumentError,
      /evaluate: argument 'data' has labels\[2\] = 7, outside \[0, 2\) for its 2 classes/,
    );
    await expectRejected(
      () =>
        fit(model, { ...dataset(), labels: [0, 1.5, 0, 1] as never }, { epochs: 1, batchSize: 2, optimizer }),
      ArgumentError,
      /fit: argument 'data' has labels\[1\] = 1.5/,
    );
    // Too few values used to evaluate zeros silently.
    await expectRejected(
      () => evaluate(model, { ...dataset(), images: new Float32Array(10) }),
      ArgumentError,
      /evaluate: argument 'data' holds 4 images of shape \[4,4,1\], which needs 64 values and 4 labels, got 10 and 4/,
    );
    await expectRejected(
      () => evaluate(model, dataset(0)),
      ArgumentError,
      /evaluate: argument 'data' is empty/,
    );
    await expectRejected(
      () => evaluate({} as never, dataset()),
      ArgumentError,
      /evaluate: argument 'model' must be a Module/,
    );
  });
});

describe('batches refuses option values of the wrong type', () => {
  it('a string where a boolean is needed, a NaN seed', () => {
    const ds = dataset();
    expectRefused(
      () => [...data.batches(ds, 2, { shuffle: 'yes' } as never)],
      ArgumentError,
      /batches: option 'shuffle' must be a boolean, got "yes"/,
    );
    expectRefused(
      () => [...data.batches(ds, 2, { dropLast: 1 } as never)],
      ArgumentError,
      /'dropLast' must be a boolean/,
    );
    expectRefused(
      () => [...data.batches(ds, 2, { shuffle: true, seed: NaN })],
      ArgumentError,
      /'seed' must be a finite/,
    );
  });
});

describe('model builders and replaceHead refuse typos and impossible sizes', () => {
  it('resnet and inception: unknown options, bad shapes, widths, blocks, stages, classes and seeds', () => {
    const bad = (options: object) => () => resnet(options as never);
    expectRefused(bad({ width: 4 }), ArgumentError, /resnet: unknown option 'width'/);
    expectRefused(
      bad({ inputShape: [28, 28] }),
      ArgumentError,
      /'inputShape' must be an array of 3 positive/,
    );
    expectRefused(bad({ inputShape: [28, 28, 0] }), ArgumentError, /'inputShape' must be an array of 3/);
    expectRefused(bad({ classes: 0 }), ArgumentError, /resnet: option 'classes' must be a positive integer/);
    expectRefused(bad({ classes: 2.5 }), ArgumentError, /'classes' must be a positive integer, got 2.5/);
    expectRefused(
      bad({ widths: [8, 0, 32] }),
      ArgumentError,
      /'widths' must be a non-empty array of positive/,
    );
    expectRefused(bad({ widths: [] }), ArgumentError, /'widths' must be a non-empty array/);
    expectRefused(bad({ blocks: [1, -1, 1] }), ArgumentError, /'blocks' must be a non-empty array/);
    expectRefused(bad({ widths: [8, 16] }), ArgumentError, /'widths' and 'blocks' must have the same length/);
    expectRefused(bad({ seed: NaN }), ArgumentError, /resnet: option 'seed' must be an integer/);
    const badInception = (options: object) => () => inception(options as never);
    expectRefused(badInception({ stemm: 8 }), ArgumentError, /inception: unknown option 'stemm'/);
    expectRefused(badInception({ stem: 0 }), ArgumentError, /inception: option 'stem' must be a positive/);
    expectRefused(badInception({ stages: [] }), ArgumentError, /'stages' must be a non-empty array/);
    const widths = { b1: 4, b3Reduce: 4, b3: 4, b5Reduce: 2, b5: 2, poolProj: 2 };
    expectRefused(
      badInception({ stages: [[{ ...widths, b3: 0 }]] }),
      ArgumentError,
      /option 'stages\[0\]\[0\].b3' must be a positive integer, got 0/,
    );
    expectRefused(
      badInception({ stages: [[{ ...widths, b7: 1 }]] }),
      ArgumentError,
      /inception: option 'stages\[0\]\[0\]': unknown option 'b7'/,
    );
    // The defaults and valid options still build.
    expect(inception({ stem: 4, stages: [[widths]] }).config).toMatchObject({ stem: 4, stages: [[widths]] });
  });

  it('replaceHead with zero or fractional classes leaves the old head in place', () => {
    const model = small();
    const head = model.head;
    expectRefused(
      () => model.replaceHead(0),
      ArgumentError,
      /replaceHead: argument 'classes' must be a positive/,
    );
    expectRefused(() => model.replaceHead(2.5), ArgumentError, /got 2.5/);
    expect(model.head).toBe(head);
    expect(model.head.weight.disposed).toBe(false);
    expect(model.replaceHead(5).outFeatures).toBe(5);
    expect(model.config.classes).toBe(5);
  });

  it('layers refuse sizes that are not positive integers, option typos and non-modules', () => {
    expectRefused(() => new nn.Dense(0, 2), ArgumentError, /Dense: argument 'inFeatures' must be a positive/);
    expectRefused(() => new nn.Dense(2, 2.5), ArgumentError, /Dense: argument 'outFeatures' .* got 2.5/);
    expectRefused(
      () => new nn.Dense(2, 2, { bais: false } as never),
      ArgumentError,
      /Dense: unknown option 'bais'/,
    );
    expectRefused(
      () => new nn.Conv2d(1, 0, 3),
      ArgumentError,
      /Conv2d: argument 'outChannels' must be a positive/,
    );
    expectRefused(
      () => new nn.Conv2d(1, 2, 0),
      ArgumentError,
      /Conv2d: argument 'kernel' must be a positive/,
    );
    expectRefused(
      () => new nn.Conv2d(1, 2, 3, { strides: 2 } as never),
      ArgumentError,
      /unknown option 'strides'/,
    );
    expectRefused(() => new nn.BatchNorm2d(-1), ArgumentError, /BatchNorm2d: argument 'channels'/);
    expectRefused(() => new nn.BatchNorm2d(2, { eps: 1e-3 } as never), ArgumentError, /unknown option 'eps'/);
    expectRefused(() => new nn.MaxPool2d(0), ArgumentError, /MaxPool2d: argument 'size' must be a positive/);
    expectRefused(
      () => new nn.AvgPool2d(2, { strides: 2 } as never),
      ArgumentError,
      /AvgPool2d: unknown option/,
    );
    expectRefused(
      () => new nn.Sequential(new nn.ReLU(), 3 as never),
      ArgumentError,
      /Sequential: layer 1 must/,
    );
    // A bad stride is refused by the op, naming it, when the layer first runs.
    const conv = new nn.Conv2d(1, 2, 3, { stride: -1 });
    expectRefused(
      () => conv.forward(zeros([1, 4, 4, 1])),
      ArgumentError,
      /conv2d: argument 'stride' must be/,
    );
  });
});

describe('gradcheck refuses what it cannot check', () => {
  it('a non-function, non-tensor inputs, option typos and out-of-range tolerances', async () => {
    const x = randn([3], { seed: 1 });
    const total = (a: Tensor) => sum(a);
    await expectRejected(
      () => gradcheck(null as never, [x]),
      ArgumentError,
      /gradcheck: argument 'fn' must be a function/,
    );
    await expectRejected(
      () => gradcheck(total, x as never),
      ArgumentError,
      /argument 'inputs' must be an array/,
    );
    await expectRejected(
      () => gradcheck(total, [[1, 2]] as never),
      ArgumentError,
      /gradcheck: inputs\[0\] is not a Tensor/,
    );
    await expectRejected(
      () => gradcheck(total, [x], { epsilon: 1e-4 } as never),
      ArgumentError,
      /unknown option 'epsilon'/,
    );
    await expectRejected(
      () => gradcheck(total, [x], { eps: 0 }),
      ArgumentError,
      /gradcheck: 'eps' must be a finite number/,
    );
    await expectRejected(
      () => gradcheck(total, [x], { atol: NaN }),
      ArgumentError,
      /'atol' must be a finite number >= 0/,
    );
    await expectRejected(
      () => gradcheck(total, [x], { samples: 0 }),
      ArgumentError,
      /'samples' must be an integer >= 1/,
    );
  });
});

describe('saveCheckpoint refuses what would be lost or is not a model', () => {
  it('a non-model, an option typo, a non-optimizer, metadata keys it writes itself', async () => {
    const model = small();
    const path = join(tmpdir(), 'webgrad-never-written.safetensors');
    const refused = (args: unknown[], pattern: RegExp) =>
      expectRejected(
        () => saveCheckpoint(...(args as Parameters<typeof saveCheckpoint>)),
        ArgumentError,
        pattern,
      );
    await refused([path, { stateDict: () => ({}) }], /saveCheckpoint: argument 'model' must be a Network/);
    await refused([path, model, { optimiser: {} }], /saveCheckpoint: unknown option 'optimiser'/);
    await refused(
      [path, model, { optimizer: {} }],
      /saveCheckpoint: option 'optimizer' must be an optimizer/,
    );
    await refused([path, model, { metadata: { config: '{}' } }], /metadata key 'config' is written by/);
    await refused([path, model, { metadata: { format: 'mine' } }], /metadata key 'format' is written by/);
  });
});

describe('image folders: file-system errors are FileErrors naming the path', () => {
  let root = '';
  const options = { size: [4, 4] as [number, number], channels: 1 as const };

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'webgrad-bad-folder-'));
    for (const name of ['a', 'b']) {
      mkdirSync(join(root, 'set', name), { recursive: true });
      writeFileSync(join(root, 'set', name, '0.png'), PNG.sync.write(new PNG({ width: 4, height: 4 })));
    }
    writeFileSync(join(root, 'file.txt'), 'not a folder');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  async function fileErrorOf(call: () => Promise<unknown>): Promise<FileError> {
    let error: unknown;
    try {
      await call();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FileError);
    return error as FileError;
  }

  it('a missing folder, a file given as the folder, an image removed after the folder was listed', async () => {
    const missing = await fileErrorOf(() => data.loadImageFolder(join(root, 'missing'), options));
    expect(missing.message).toMatch(/loadImageFolder: folder '.*missing' does not exist \(ENOENT\)/);
    expect([missing.path, missing.code]).toEqual([join(root, 'missing'), 'ENOENT']);
    const file = await fileErrorOf(() => data.loadImageFolder(join(root, 'file.txt'), options));
    expect([file.path, file.code]).toEqual([join(root, 'file.txt'), 'ENOTDIR']);
    const index = await listImageFolder(join(root, 'set'), options);
    unlinkSync(join(root, 'set', 'b', '0.png'));
    const gone = await fileErrorOf(() => decodeImageFolder(index));
    expect(gone.message).toMatch(/loadImageFolder: cannot access '.*0\.png': no such file or directory/);
    expect(gone.path).toBe(join(root, 'set', 'b', '0.png'));
  });

  it('a size that is not [H, W] is an ArgumentError, not a TypeError', async () => {
    for (const size of [28, [28], null, '28x28']) {
      await expectRejected(
        () => data.loadImageFolder(join(root, 'set'), { ...options, size } as never),
        ArgumentError,
        /loadImageFolder: option 'size' must be \[H, W\]/,
      );
    }
  });
});
