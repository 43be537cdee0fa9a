// Composite reductions built from the generated kernels: logSumExp, softmax and logSoftmax along any axis,
// variance (with a correction) and moments. Each is a few dispatches; gradients come from its parts.
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../graph/tensor.js';
import { checkOptionKeys } from '../options.js';
import { elementwise } from './elementwise/op.js';
import { call, input } from './elementwise/expr.js';
import { max, mean, normalizeAxes, reducedShape, sum } from './reduce.js';
import { reshape } from './reshape.js';
import { softmax as softmaxLastAxis } from './softmax_cross_entropy.js';

export interface AxisOptions {
  /** Axes to reduce (any set; default all). Negative axes count from the end. */
  axis?: number | readonly number[];
  keepDims?: boolean;
}

/** log(sum(exp(x))) over the axes, max-shifted so it never overflows: m + log(sum(exp(x - m))). */
export function logSumExp(x: Tensor, options: AxisOptions = {}): Tensor {
  checkOptionKeys('logSumExp', options, ['axis', 'keepDims']);
  const axes = normalizeAxes('logSumExp', x.shape, options.axis);
  const m = max(x, { axis: axes, keepDims: true });
  const s = sum(elementwise(call('exp', call('sub', input(0), input(1))), [x, m]), {
    axis: axes,
    keepDims: true,
  });
  const lse = elementwise(call('add', call('log', input(0)), input(1)), [s, m]);
  return options.keepDims ? lse : reshape(lse, reducedShape(x.shape, axes, false));
}

function oneAxis(op: string, x: Tensor, options: { axis?: number }): number {
  checkOptionKeys(op, options, ['axis']);
  return normalizeAxes(op, x.shape, options.axis ?? -1)[0];
}

/**
 * Shapes: x any → same shape, softmax along `axis` (default the last). The last axis runs the fused softmax
 * kernel; other axes go through logSumExp.
 */
export function softmax(x: Tensor, options: { axis?: number } = {}): Tensor {
  if (typeof options.axis === 'object') throw new ArgumentError(`softmax: 'axis' must be one number`);
  const axis = oneAxis('softmax', x, options);
  if (axis === x.rank - 1) return softmaxLastAxis(x);
  return elementwise(call('exp', call('sub', input(0), input(1))), [
    x,
    logSumExp(x, { axis, keepDims: true }),
  ]);
}

/** Shapes: x any → same shape, x - logSumExp(x) along `axis` (default the last). */
export function logSoftmax(x: Tensor, options: { axis?: number } = {}): Tensor {
  if (typeof options.axis === 'object') throw new ArgumentError(`logSoftmax: 'axis' must be one number`);
  const axis = oneAxis('logSoftmax', x, options);
  return elementwise(call('sub', input(0), input(1)), [x, logSumExp(x, { axis, keepDims: true })]);
}

export interface VarianceOptions extends AxisOptions {
  /** Divide by N - correction (0: population variance, tfjs's moments; 1: unbiased, PyTorch's default). */
  correction?: number;
}

/** Shapes: as `sum`. sum((x - mean)^2) / (N - correction) over the axes (two passes: no cancellation). */
export function variance(x: Tensor, options: VarianceOptions = {}): Tensor {
  checkOptionKeys('variance', options, ['axis', 'keepDims', 'correction']);
  return moments(x, options, 'variance').variance;
}

/** Shapes: as `sum`, twice: the mean and the variance over the axes (tfjs's moments, plus `correction`). */
export function moments(
  x: Tensor,
  options: VarianceOptions = {},
  op = 'moments',
): { mean: Tensor; variance: Tensor } {
  checkOptionKeys(op, options, ['axis', 'keepDims', 'correction']);
  const axes = normalizeAxes(op, x.shape, options.axis);
  const correction = options.correction ?? 0;
  const n = axes.reduce((t, a) => t * x.shape[a], 1);
  if (!Number.isFinite(correction) || correction < 0 || correction >= Math.max(n, 1))
    throw new ArgumentError(`${op}: 'correction' must be in [0, ${n}) for ${n} elements, got ${correction}`);
  const m = mean(x, { axis: axes, keepDims: true });
  const squares = elementwise(call('square', call('sub', input(0), input(1))), [x, m]);
  const keepDims = options.keepDims ?? false;
  const v = sum(squares, { axis: axes, keepDims });
  const scaled = elementwise(call('div', input(0), { kind: 'const', value: n - correction }), [v]);
  return { mean: keepDims ? m : reshape(m, reducedShape(x.shape, axes, false)), variance: scaled };
}
