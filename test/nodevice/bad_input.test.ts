// The bad-input catalogue without a device: every class of bad call gets a typed error naming the function,
// the argument and what was expected, and afterwards a valid graph still records and evaluates exactly.
import { describe, expect, it } from 'vitest';
import {
  Adam,
  AdamW,
  ArgumentError,
  DisposedError,
  FormatError,
  LimitError,
  SGD,
  ShapeError,
  add,
  avgPool2d,
  batchNorm,
  concat,
  conv2d,
  cosineSchedule,
  dense,
  evaluateReference,
  flatten,
  full,
  globalAvgPool,
  init,
  io,
  matmul,
  maxPool2d,
  mean,
  mul,
  nn,
  ones,
  randn,
  relu,
  reshape,
  scale,
  softmax,
  softmaxCrossEntropy,
  stepSchedule,
  sub,
  sum,
  tensor,
  tidy,
  uniform,
  zeros,
  type Tensor,
} from '../../src/index.js';
import { ProgressBar } from '../../src/cli/progress.js';
import { expectRefused, expectStillWorks } from './bad_input_helpers.js';

const f32 = (shape: number[], requiresGrad = false) => randn(shape, { seed: 1, requiresGrad });
const int32 = (v: number[]) => tensor(v, [v.length], { dtype: 'int32' });

describe('tensor creators refuse what they cannot represent', () => {
  it('unknown dtypes, in tensor() and every other creator', () => {
    for (const dtype of ['float64', 'int64', 'bool', 'float16', '', 'Float32']) {
      const options = { dtype } as never;
      expectRefused(
        () => tensor([1], [1], options),
        ArgumentError,
        /tensor: dtype must be one of float32, int32/,
      );
      expectRefused(() => zeros([1], options), ArgumentError, /full: dtype must be one of/);
      expectRefused(() => ones([1], options), ArgumentError, /full: dtype/);
      expectRefused(() => full([1], 2, options), ArgumentError, /full: dtype/);
      expectRefused(() => randn([1], options), ArgumentError, /randn: dtype/);
      expectRefused(() => uniform([1], options), ArgumentError, /uniform: dtype/);
    }
    expectRefused(() => randn([2], { dtype: 'int32' }), ArgumentError, /randn: dtype must be float32/);
  });

  it('values that would change silently: nested arrays, strings, fractions and overflows for int32', () => {
    expectRefused(
      () =>
        tensor(
          [
            [1, 2],
            [3, 4],
          ] as never,
          [2, 2],
        ),
      ArgumentError,
      /nested array; pass the values flat/,
    );
    expectRefused(
      () => tensor(['1', '2'] as never, [2]),
      ArgumentError,
      /values\[0\] is string, expected a number/,
    );
    expectRefused(() => tensor([1, null] as never, [2]), ArgumentError, /values\[1\] is object/);
    expectRefused(() => tensor(3 as never), ArgumentError, /tensor: values must be an array or typed array/);
    expectRefused(() => tensor(null as never), ArgumentError, /tensor: values must be an array/);
    expectRefused(
      () => tensor([1.5], [1], { dtype: 'int32' }),
      ArgumentError,
      /values\[0\] = 1.5 is not an int32/,
    );
    expectRefused(
      () => tensor([2 ** 31], [1], { dtype: 'int32' }),
      ArgumentError,
      /2147483648 is not an int32/,
    );
    expectRefused(() => tensor([NaN], [1], { dtype: 'int32' }), ArgumentError, /NaN is not an int32/);
    expectRefused(() => full([2], 'a' as never), ArgumentError, /full: value is string/);
    expectRefused(
      () => full([2], 0.5, { dtype: 'int32' }),
      ArgumentError,
      /full: value = 0.5 is not an int32/,
    );
    // NaN and Infinity are valid float32 values (debug.checkFinite reports them on the device).
    expect(tensor([NaN, Infinity, -Infinity], [3]).shape).toEqual([3]);
    expect(Array.from(tensor(Float64Array.of(1.5, -2), [2]).storage.upload!)).toEqual([1.5, -2]);
    expect(Array.from(tensor(Uint8Array.of(7, 255), [2], { dtype: 'int32' }).storage.upload!)).toEqual([
      7, 255,
    ]);
  });

  it('negative, fractional, non-finite, huge and malformed shapes, and a value count that does not fill', () => {
    for (const shape of [[-1], [1.5], [NaN], [Infinity], [2, -3], [1e300]]) {
      expectRefused(
        () => tensor([1], shape),
        ShapeError,
        /tensor: shape must be an array of non-negative integers/,
      );
      expectRefused(() => zeros(shape), ShapeError, /full: shape must be an array of non-negative integers/);
      expectRefused(() => randn(shape), ShapeError, /randn: shape must be an array/);
    }
    expectRefused(() => zeros('3' as never), ShapeError, /full: shape must be an array/);
    expectRefused(() => zeros(null as never), ShapeError, /full: shape must be an array/);
    expectRefused(
      () => tensor([1, 2, 3], [2, 2]),
      ShapeError,
      /tensor: 3 values do not fill shape \[2,2\] \(4\)/,
    );
    // Too large to hold on the host: refused before anything is allocated.
    expectRefused(
      () => zeros([2 ** 40]),
      LimitError,
      /full: tensor \[1099511627776\] needs 4398046511104 bytes \(4 TiB\)/,
    );
    // Zero-size tensors are fine.
    expect(zeros([0, 3]).size).toBe(0);
    expect(tensor([], [2, 0, 5]).shape).toEqual([2, 0, 5]);
  });

  it('option typos and wrong option types', () => {
    expectRefused(
      () => tensor([1], [1], { requiresgrad: true } as never),
      ArgumentError,
      /tensor: unknown option 'requiresgrad'/,
    );
    expectRefused(
      () => tensor([1], [1], { requiresGrad: 'yes' } as never),
      ArgumentError,
      /requiresGrad must be a boolean/,
    );
    expectRefused(
      () => tensor([1], [1], { requiresGrad: true, dtype: 'int32' }),
      ArgumentError,
      /requiresGrad needs dtype float32/,
    );
    expectRefused(() => tensor([1], [1], null as never), ArgumentError, /tensor: options must be an object/);
    expectRefused(() => randn([2], { seed: NaN }), ArgumentError, /seed must be a finite number/);
    expectRefused(() => randn([2], { std: -1 }), ArgumentError, /randn: std must be a finite number >= 0/);
    expectRefused(() => uniform([2], { low: 1, high: 0 }), ArgumentError, /uniform: need finite low <= high/);
    expectRefused(() => uniform([2], { lo: 1 } as never), ArgumentError, /uniform: unknown option 'lo'/);
  });
});

describe('ops refuse wrong dtypes, ranks, non-tensors and option typos, naming op and argument', () => {
  const x4 = () => f32([1, 4, 4, 2]);
  const w4 = () => f32([3, 3, 2, 3]);
  const bnOptions = (c: number, extra = {}) => ({
    gamma: f32([c]),
    beta: f32([c]),
    runningMean: f32([c]),
    runningVar: ones([c]),
    training: true,
    ...extra,
  });
  const int = () => int32([1, 2, 3, 4]);

  it('int32 tensors where float32 is needed', () => {
    const i4 = tensor(new Array(32).fill(0), [1, 4, 4, 2], { dtype: 'int32' });
    expectRefused(() => add(int(), f32([4])), ShapeError, /add: argument 'a' must be float32, got int32/);
    expectRefused(() => sub(f32([4]), int()), ShapeError, /sub: argument 'b' must be float32/);
    expectRefused(() => mul(int(), int()), ShapeError, /mul: argument 'a' must be float32/);
    expectRefused(() => relu(int()), ShapeError, /relu: argument 'x' must be float32/);
    expectRefused(() => scale(int(), 2), ShapeError, /scale: argument 'x' must be float32/);
    expectRefused(() => sum(int()), ShapeError, /sum: argument 'x' must be float32/);
    expectRefused(() => mean(int()), ShapeError, /mean: argument 'x' must be float32/);
    expectRefused(
      () => matmul(int32([1, 2]), f32([2, 1])),
      ShapeError,
      /matmul: argument 'a' must be float32/,
    );
    expectRefused(() => conv2d(i4, w4()), ShapeError, /conv2d: argument 'x' must be float32/);
    expectRefused(() => maxPool2d(i4, { size: 2 }), ShapeError, /maxPool2d: argument 'x' must be float32/);
    expectRefused(() => avgPool2d(i4, { size: 2 }), ShapeError, /avgPool2d: argument 'x' must be float32/);
    expectRefused(() => softmax(int()), ShapeError, /softmax: argument 'logits' must be float32/);
    expectRefused(
      () => softmaxCrossEntropy(f32([2, 3]), f32([2])),
      ShapeError,
      /argument 'labels' must be int32, got float32/,
    );
    expectRefused(() => concat([x4(), i4], 3), ShapeError, /concat/);
  });

  it('wrong ranks and shapes', () => {
    expectRefused(
      () => conv2d(f32([4, 4, 2]), w4()),
      ShapeError,
      /conv2d: argument 'x' must have rank 4 \(NHWC\)/,
    );
    expectRefused(
      () => conv2d(x4(), f32([3, 3, 3, 3])),
      ShapeError,
      /conv2d: argument 'w' must be \[KH,KW,Cin,Cout\] with Cin=2/,
    );
    expectRefused(
      () => conv2d(f32([1, 2, 2, 2]), w4()),
      ShapeError,
      /conv2d: window 3x3 .* does not fit input 2x2/,
    );
    expectRefused(
      () => matmul(f32([2, 3, 4]), f32([4, 2])),
      ShapeError,
      /matmul: argument 'a' must have rank 2/,
    );
    expectRefused(() => matmul(f32([2, 3]), f32([4, 5])), ShapeError, /matmul: inner dimensions differ/);
    expectRefused(
      () => dense(f32([2, 3]), f32([3, 4]), f32([3])),
      ShapeError,
      /dense: argument 'bias' must be \[U\] with U=4/,
    );
    expectRefused(
      () => add(f32([2, 3]), f32([3, 2])),
      ShapeError,
      /add: shapes 'a' \[2,3\], 'b' \[3,2\] do not broadcast/,
    );
    expectRefused(
      () => maxPool2d(f32([4, 4]), { size: 2 }),
      ShapeError,
      /maxPool2d: argument 'x' must have rank 4/,
    );
    expectRefused(() => maxPool2d(x4(), { size: 5 }), ShapeError, /maxPool2d: window 5x5/);
    expectRefused(
      () => globalAvgPool(f32([4, 4])),
      ShapeError,
      /globalAvgPool: argument 'x' must have rank 4/,
    );
    expectRefused(
      () => batchNorm(f32([2, 3]), bnOptions(2)),
      ShapeError,
      /batchNorm: argument 'gamma' must be \[C\] with C=3/,
    );
    expectRefused(() => concat([x4(), f32([1, 3, 4, 2])], 3), ShapeError, /concat: argument 'tensors\[1\]'/);
    expectRefused(() => concat([], 3), ShapeError, /concat: argument 'tensors' must be a non-empty array/);
    expectRefused(
      () => softmax(tensor([], [2, 0])),
      ShapeError,
      /softmax: argument 'logits' must have a last axis of length >= 1/,
    );
    expectRefused(
      () => softmaxCrossEntropy(f32([12]), int32([0])),
      ShapeError,
      /argument 'logits' must have rank 2/,
    );
    expectRefused(
      () => softmaxCrossEntropy(f32([4, 3]), int32([0, 1])),
      ShapeError,
      /argument 'labels' must be \[N\] with N=4/,
    );
    expectRefused(
      () => reshape(f32([2, 3]), [4, 2]),
      ShapeError,
      /reshape: cannot view \[2,3\] \(6 elements\) as \[4,2\]/,
    );
    expectRefused(() => flatten(f32([])), ShapeError, /flatten: argument 'x' must have rank >= 1/);
    expectRefused(
      () => sum(f32([2, 3]), { axis: 5 }),
      ShapeError,
      /sum: argument 'axis' must be distinct axes/,
    );
    expectRefused(
      () => sum(f32([2]), {}).backward(),
      ArgumentError,
      /backward: the loss does not depend on any tensor with requiresGrad/,
    );
    expectRefused(
      () => relu(f32([2], true)).backward(),
      ShapeError,
      /backward: loss must have one element, got shape \[2\]/,
    );
  });

  it('non-tensors where tensors are needed', () => {
    for (const bad of [1, null, undefined, [1, 2], { shape: [1] }]) {
      // A number is a valid operand of add (a scalar), so only the others are refused there.
      if (typeof bad !== 'number')
        expectRefused(() => add(f32([2]), bad as never), ShapeError, /add: argument 'b' must be a Tensor/);
      expectRefused(() => relu(bad as never), ShapeError, /relu: argument 'x' must be a Tensor/);
      expectRefused(
        () => matmul(bad as never, f32([2, 2])),
        ShapeError,
        /matmul: argument 'a' must be a Tensor/,
      );
      expectRefused(() => conv2d(x4(), bad as never), ShapeError, /conv2d: argument 'w' must be a Tensor/);
    }
  });

  it('bad option values and option typos (a typo must not be silently ignored)', () => {
    for (const stride of [0, -1, 1.5, NaN]) {
      expectRefused(
        () => conv2d(x4(), w4(), { stride }),
        ArgumentError,
        /conv2d: argument 'stride' must be a positive integer/,
      );
    }
    expectRefused(() => conv2d(x4(), w4(), { dilation: 0 }), ArgumentError, /conv2d: argument 'dilation'/);
    expectRefused(
      () => conv2d(x4(), w4(), { padding: 'full' as never }),
      ArgumentError,
      /conv2d: argument 'padding' must be 'same', 'valid'/,
    );
    expectRefused(() => conv2d(x4(), w4(), { padding: -1 }), ArgumentError, /conv2d: argument 'padding'/);
    expectRefused(
      () => conv2d(x4(), w4(), { strides: 2 } as never),
      ArgumentError,
      /conv2d: unknown option 'strides'/,
    );
    expectRefused(
      () => matmul(f32([2, 3]), f32([3, 2]), { transposeb: true } as never),
      ArgumentError,
      /matmul: unknown option 'transposeb'/,
    );
    expectRefused(
      () => dense(f32([2, 3]), f32([3, 4]), undefined, { relu: true } as never),
      ArgumentError,
      /dense: unknown option 'relu'/,
    );
    expectRefused(
      () => maxPool2d(x4(), { size: 0 }),
      ArgumentError,
      /maxPool2d: argument 'size' must be a positive integer/,
    );
    expectRefused(
      () => maxPool2d(x4(), { size: 2, strides: 1 } as never),
      ArgumentError,
      /maxPool2d: unknown option 'strides'/,
    );
    expectRefused(
      () => maxPool2d(x4(), undefined as never),
      ArgumentError,
      /maxPool2d: argument 'options' must be/,
    );
    expectRefused(
      () => avgPool2d(x4(), { size: 2, padding: 'full' as never }),
      ArgumentError,
      /avgPool2d: argument 'padding'/,
    );
    expectRefused(() => sum(f32([2, 3]), { axes: 1 } as never), ArgumentError, /sum: unknown option 'axes'/);
    expectRefused(() => mean(f32([2, 3]), null as never), ArgumentError, /mean: options must be an object/);
    expectRefused(
      () => batchNorm(f32([2, 3]), undefined as never),
      ArgumentError,
      /batchNorm: options must be an object/,
    );
    expectRefused(
      () => batchNorm(f32([2, 3]), bnOptions(3, { eps: 1e-5 })),
      ArgumentError,
      /batchNorm: unknown option 'eps'/,
    );
    expectRefused(
      () => batchNorm(f32([2, 3]), bnOptions(3, { momentum: 2 })),
      ArgumentError,
      /batchNorm: argument 'momentum' must be in \[0, 1\]/,
    );
    expectRefused(
      () => batchNorm(f32([2, 3]), bnOptions(3, { epsilon: 0 })),
      ArgumentError,
      /batchNorm: argument 'epsilon' must be a positive number/,
    );
    for (const s of [NaN, Infinity, '2', undefined]) {
      expectRefused(() => scale(f32([2]), s as never), ArgumentError, /scale: argument 's' must be finite/);
    }
    expectRefused(
      () => concat([x4(), x4()], 7),
      ArgumentError,
      /concat: argument 'axis' must be an integer in \[-4, 4\)/,
    );
    expectRefused(() => concat([x4(), x4()], 1.5), ArgumentError, /concat: argument 'axis'/);
    expectRefused(() => tidy(async () => 1), ArgumentError, /tidy: the function must be synchronous/);
    expectRefused(() => tidy(3 as never), ArgumentError, /tidy: argument must be a function/);
  });

  it('disposed tensors, as any argument of any op', () => {
    const gone = f32([2, 2]);
    gone.dispose();
    gone.dispose(); // idempotent
    expectRefused(() => relu(gone), DisposedError, /relu: argument 'x' \(tensor \[2,2\]\) was disposed/);
    expectRefused(() => add(f32([2, 2]), gone), DisposedError, /add: argument 'b' .* was disposed/);
    expectRefused(() => matmul(gone, f32([2, 2])), DisposedError, /matmul: argument 'a'/);
    expectRefused(() => gone.backward(), DisposedError, /backward: argument 'loss'/);
    const inTidy = tidy(() => {
      const t = f32([3]);
      return { kept: relu(t), t };
    });
    // tidy keeps what it returns: a tensor inside the result object is kept too.
    expect(inTidy.t.disposed).toBe(false);
    const dropped = tidy(() => {
      const t = f32([3]);
      relu(t);
      return t.shape;
    });
    expect(dropped).toEqual([3]);
  });
});

describe('softmaxCrossEntropy labels', () => {
  const logits = () => f32([3, 4]);
  it('labels outside [0, K) are an error naming the row, the value and the class count', () => {
    expectRefused(
      () => softmaxCrossEntropy(logits(), int32([0, 4, 1])),
      ArgumentError,
      /labels\[1\] = 4 is outside \[0, 4\) for logits with 4 classes .*replaceHead/,
    );
    expectRefused(
      () => softmaxCrossEntropy(logits(), int32([-1, 0, 1])),
      ArgumentError,
      /labels\[0\] = -1 is outside/,
    );
    // A forgotten replaceHead: 10-class labels on a 4-class head.
    expectRefused(() => softmaxCrossEntropy(logits(), int32([9, 9, 9])), ArgumentError, /labels\[0\] = 9/);
    // Views of host labels are checked too.
    expectRefused(
      () => softmaxCrossEntropy(logits(), reshape(tensor([0, 1, 7], [3, 1], { dtype: 'int32' }), [3])),
      ArgumentError,
      /labels\[2\] = 7/,
    );
  });

  it('ignoreIndex: only that value is skipped; its value and the options are checked', () => {
    expect(softmaxCrossEntropy(logits(), int32([0, -100, 3]), { ignoreIndex: -100 }).shape).toEqual([]);
    expectRefused(
      () => softmaxCrossEntropy(logits(), int32([0, -1, 3]), { ignoreIndex: -100 }),
      ArgumentError,
      /labels\[1\] = -1 is outside \[0, 4\) .* and is not the ignoreIndex -100/,
    );
    expectRefused(
      () => softmaxCrossEntropy(logits(), int32([0, 1, 2]), { ignoreIndex: 1.5 }),
      ArgumentError,
      /ignoreIndex must be an int32 integer, got 1.5/,
    );
    expectRefused(
      () => softmaxCrossEntropy(logits(), int32([0, 1, 2]), { ignore_index: 1 } as never),
      ArgumentError,
      /softmaxCrossEntropy: unknown option 'ignore_index'/,
    );
  });

  it('matches PyTorch on ignored rows: the mean is over the rest, and NaN when every row is ignored', () => {
    const x = tensor([1, 2, 3, 0, 0, 0], [2, 3]);
    const labels = int32([2, -100]);
    const loss = softmaxCrossEntropy(x, labels, { ignoreIndex: -100 });
    const value = (t: Tensor) =>
      evaluateReference(
        [t],
        new Map([
          [x, Float64Array.from([1, 2, 3, 0, 0, 0])],
          [labels, Float64Array.from([2, -100])],
        ]),
      )[0].data[0];
    // Only row 0 counts: log(e + e^2 + e^3) - 3.
    expect(value(loss)).toBeCloseTo(Math.log(Math.E + Math.E ** 2 + Math.E ** 3) - 3, 14);
    const none = int32([-100, -100]);
    const all = softmaxCrossEntropy(x, none, { ignoreIndex: -100 });
    expect(
      evaluateReference(
        [all],
        new Map([
          [x, Float64Array.from([1, 2, 3, 0, 0, 0])],
          [none, Float64Array.from([-100, -100])],
        ]),
      )[0].data[0],
    ).toBeNaN();
  });
});

describe('optimizers and schedules refuse bad parameters and options', () => {
  const p = () => f32([2, 2], true);
  it('frozen, duplicate, non-leaf, int32, disposed and non-tensor parameters', () => {
    expectRefused(
      () => new SGD([], { lr: 0.1 }),
      ArgumentError,
      /SGD: none of the 0 params requires grad \(the list is empty\)/,
    );
    expectRefused(
      () => new Adam([f32([2]), f32([3])], { lr: 0.1 }),
      ArgumentError,
      /Adam: none of the 2 params requires grad \(all are frozen\)/,
    );
    const q = p();
    expectRefused(
      () => new SGD([q, p(), q], { lr: 0.1 }),
      ArgumentError,
      /SGD: params\[2\] is the same tensor as params\[0\]/,
    );
    expectRefused(
      () => new SGD([relu(p())], { lr: 0.1 }),
      ArgumentError,
      /SGD: params\[0\] .* is not a leaf tensor/,
    );
    expectRefused(
      () => new SGD([tensor([1], [1], { dtype: 'int32' }), p()], { lr: 0.1 }),
      ArgumentError,
      /SGD: params\[0\] must be float32/,
    );
    const gone = p();
    gone.dispose();
    expectRefused(() => new AdamW([gone], { lr: 0.1 }), DisposedError, /AdamW: argument 'params\[0\]'/);
    expectRefused(
      () => new SGD([1 as never], { lr: 0.1 }),
      ArgumentError,
      /SGD: params\[0\] is not a Tensor/,
    );
    expectRefused(
      () => new SGD(p() as never, { lr: 0.1 }),
      ArgumentError,
      /SGD: 'params' must be an array of tensors/,
    );
    // A frozen parameter next to trainable ones is fine: it is skipped until unfrozen.
    expect(new SGD([p(), f32([2])], { lr: 0.1 }).params).toHaveLength(2);
  });

  it('learning rates and hyper-parameters out of range, option typos, missing options', () => {
    for (const lr of [NaN, -1, Infinity, '0.1']) {
      expectRefused(
        () => new SGD([p()], { lr } as never),
        ArgumentError,
        /SGD: 'lr' must be a finite number >= 0/,
      );
    }
    expectRefused(() => new SGD([p()], undefined as never), ArgumentError, /SGD: options must be an object/);
    expectRefused(
      () => new SGD([p()], { lr: 0.1, weight_decay: 0.1 } as never),
      ArgumentError,
      /SGD: unknown option 'weight_decay'/,
    );
    expectRefused(
      () => new SGD([p()], { lr: 0.1, nesterov: true }),
      ArgumentError,
      /nesterov needs momentum > 0/,
    );
    expectRefused(
      () => new Adam([p()], { lr: 0.1, beta1: 1 }),
      ArgumentError,
      /Adam: 'beta1' must be a finite number >= 0 and < 1/,
    );
    expectRefused(() => new Adam([p()], { lr: 0.1, epsilon: -1 }), ArgumentError, /Adam: 'epsilon'/);
    const opt = new Adam([p()], { lr: 0.1 });
    expectRefused(() => (opt.lr = NaN), ArgumentError, /Adam: 'lr' must be a finite number/);
    expect(opt.lr).toBe(0.1);
    expectRefused(
      () => cosineSchedule({ base: 1, total: 0 }),
      ArgumentError,
      /cosineSchedule: 'total' must be an integer >= 1/,
    );
    expectRefused(
      () => stepSchedule({ base: 1, gamma: 0.5, stepSize: 0 }),
      ArgumentError,
      /stepSchedule: 'stepSize' must be an integer >= 1/,
    );
    expectRefused(
      () => cosineSchedule({ base: 1, total: 10 })(-1),
      ArgumentError,
      /cosineSchedule: 'index' must be an integer >= 0/,
    );
  });

  it('loadStateDict with unknown keys, wrong shapes, wrong dtypes and non-tensors', async () => {
    const opt = new SGD([p()], { lr: 0.1, momentum: 0.9 });
    const load = async (dict: unknown) => {
      await opt.loadStateDict(dict as never);
    };
    await expect(load({ '5.momentum_buffer': zeros([2, 2]) })).rejects.toThrow(
      /SGD.loadStateDict: unexpected key '5.momentum_buffer'/,
    );
    await expect(load({ '0.exp_avg': zeros([2, 2]) })).rejects.toThrow(/unexpected key '0.exp_avg'/);
    await expect(load({ '00.momentum_buffer': zeros([2, 2]) })).rejects.toThrow(
      /unexpected key '00.momentum_buffer'/,
    );
    await expect(load({ '0.momentum_buffer': zeros([3]) })).rejects.toThrow(
      /'0.momentum_buffer' must be float32 \[2,2\], got float32 \[3\]/,
    );
    await expect(load({ '0.step': zeros([]) })).rejects.toThrow(/'0.step' must be int32 \[\], got float32/);
    await expect(load({ '0.momentum_buffer': [1, 2, 3, 4] })).rejects.toThrow(
      /'0.momentum_buffer' is not a Tensor/,
    );
    await expect(load(null)).rejects.toThrow(ArgumentError);
    expectStillWorks();
  });
});

describe('modules, state dicts and file contents with hostile names', () => {
  it('loadStateDict with missing, unknown, prototype-named and wrongly shaped entries', () => {
    const model = new nn.Dense(3, 2, { seed: 1 });
    const good = {
      weight: { shape: [3, 2], data: new Float32Array(6) },
      bias: { shape: [2], data: new Float32Array(2) },
    };
    expectRefused(
      () => model.loadStateDict({ weight: good.weight }),
      ArgumentError,
      /loadStateDict: missing bias/,
    );
    expectRefused(
      () => model.loadStateDict({ ...good, extra: good.bias }),
      ArgumentError,
      /loadStateDict: unknown extra/,
    );
    // Names that exist on Object.prototype are unknown names, not matches.
    expectRefused(
      () => model.loadStateDict({ ...good, constructor: good.bias } as never),
      ArgumentError,
      /unknown constructor/,
    );
    expectRefused(
      () => model.loadStateDict(JSON.parse('{"__proto__": {"shape": [2], "data": [0, 0]}}')),
      ArgumentError,
      /missing weight, bias; unknown __proto__/,
    );
    expectRefused(
      () => model.loadStateDict({ ...good, bias: { shape: [3], data: new Float32Array(3) } }),
      ShapeError,
      /loadStateDict: 'bias' has shape \[3\], expected \[2\]/,
    );
  });

  it('safetensors entries named __proto__, constructor or toString are plain names', () => {
    const entry = (v: number) => ({ dtype: 'F32' as const, shape: [1], data: Float32Array.of(v) });
    const bytes = io.encodeSafetensors(
      Object.fromEntries([
        ['__proto__', entry(1)],
        ['constructor', entry(2)],
        ['toString', entry(3)],
      ]),
      Object.fromEntries([['__proto__', 'meta']]),
    );
    const { tensors, metadata } = io.decodeSafetensors(bytes);
    expect(Object.getPrototypeOf(tensors)).toBeNull();
    expect(Object.keys(tensors).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Array.from(tensors['__proto__'].data)).toEqual([1]);
    expect(Array.from(tensors['constructor'].data)).toEqual([2]);
    expect(metadata['__proto__']).toBe('meta');
    expect(Object.getPrototypeOf(metadata)).toBeNull();
    // A file whose header names a tensor __proto__ (written by hand, as another tool might).
    const json = new TextEncoder().encode('{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}');
    const file = new Uint8Array(8 + json.length + 4);
    new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
    file.set(json, 8);
    const decoded = io.decodeSafetensors(file);
    expect(Object.keys(decoded.tensors)).toEqual(['__proto__']);
    expect(decoded.tensors['__proto__'].shape).toEqual([1]);
    expect(() => io.decodeSafetensors(file.subarray(0, 20))).toThrow(FormatError);
    expectStillWorks();
  });
});

describe('init refuses bad options before touching any device', () => {
  it('unknown options, unknown backends, wrong types', async () => {
    await expect(init({ checkfinite: true } as never)).rejects.toThrow(/init: unknown option 'checkfinite'/);
    await expect(init({ backend: 'cuda' } as never)).rejects.toThrow(
      /init: backend must be one of auto, browser, gpu/,
    );
    await expect(init({ fusion: 'off' } as never)).rejects.toThrow(/init: option 'fusion' must be a boolean/);
    await expect(init(null as never)).rejects.toThrow(/init: options must be an object/);
    // Planning limits (docs/errors.md#size-limits): their form is checked before any device is opened.
    await expect(init({ limits: 4096 } as never)).rejects.toThrow(
      /init: option 'limits': options must be an object/,
    );
    await expect(init({ limits: { maxStorageBufferBindingSize: -4 } })).rejects.toThrow(
      /init: limit 'maxStorageBufferBindingSize' must be an integer multiple of 4 of at least 256, got -4/,
    );
    await expect(init({ limits: { maxBufferSize: Infinity } })).rejects.toThrow(
      /limit 'maxBufferSize' must be/,
    );
    await expect(init({ limits: { minStorageBufferOffsetAlignment: 0 } })).rejects.toThrow(
      /limit 'minStorageBufferOffsetAlignment' must be a power of two of at least 4, got 0/,
    );
    await expect(init({ limits: { maxStorageBufferBindingSize: '4096' } as never })).rejects.toThrow(
      ArgumentError,
    );
    expectStillWorks();
  });
});

describe('the front door: the CLI progress bar follows the terminal', () => {
  /** A fake stream that records what is written. */
  function stream(isTTY: boolean, columns?: number) {
    const out: string[] = [];
    return { out, s: { isTTY, columns, write: (t: string) => out.push(t) } as unknown as NodeJS.WriteStream };
  }

  it('fits redrawn lines to the terminal width, never wrapping; prints per 10% when not a terminal', () => {
    for (const columns of [120, 60, 30, 12]) {
      const { out, s } = stream(true, columns);
      const bar = new ProgressBar(s, 'epoch 1/3', 500);
      for (let i = 0; i <= 500; i += 50) bar.update(i, 'loss 0.1234 acc 0.9876');
      for (const line of out) {
        const text = line.replace(/^\r/, '').replace(new RegExp(`${String.fromCharCode(27)}\\[K$`), '');
        expect(text.length, `width ${columns}: ${JSON.stringify(text)}`).toBeLessThan(columns);
      }
      expect(out.at(-1)).toMatch(/^\repoch 1\/3 \[/);
    }
    // A wide terminal gets the widest bar; an unknown width the plain one.
    const wide = stream(true, 200);
    new ProgressBar(wide.s, 'e', 10).update(10, 'm');
    expect(wide.out[0]).toContain(`[${'#'.repeat(32)}]`);
    const piped = stream(false);
    const bar = new ProgressBar(piped.s, 'epoch 1/1', 100);
    for (let i = 0; i <= 100; i++) bar.update(i, 'loss 1');
    expect(piped.out).toHaveLength(11);
    expect(piped.out.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
    expect(piped.out[10]).toContain(`[${'#'.repeat(24)}] 100/100`);
  });
});
