// Unary elementwise ops (neg, abs, exp, log, ..., gelu, silu, softplus) and the parameterized ones built as
// trees: leakyRelu, elu, clip. Each is one generated kernel; gradients come from differentiating its tree.
import { ArgumentError } from '../errors.js';
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { exprOpDef } from './elementwise/op.js';
import { namedOpDef } from './elementwise/named.js';
import { call, input, num, type UnaryName } from './elementwise/expr.js';

const X = ['x'];
const unaryDef = (fn: UnaryName) => namedOpDef(fn, X, [true]);

export const negOp = unaryDef('neg');
export const absOp = unaryDef('abs');
export const signOp = namedOpDef('sign', X, [false]);
export const expOp = unaryDef('exp');
export const logOp = unaryDef('log');
export const sqrtOp = unaryDef('sqrt');
export const rsqrtOp = unaryDef('rsqrt');
export const squareOp = unaryDef('square');
export const reciprocalOp = unaryDef('reciprocal');
export const sigmoidOp = unaryDef('sigmoid');
export const tanhOp = unaryDef('tanh');
export const relu6Op = unaryDef('relu6');
export const erfOp = unaryDef('erf');
export const geluOp = unaryDef('gelu');
export const siluOp = unaryDef('silu');
export const softplusOp = unaryDef('softplus');

const unary = (op: ReturnType<typeof unaryDef>) => (x: Tensor) => apply(op, [x], {}, X);

/** Shapes: x any → same shape. -x. */
export const neg = unary(negOp);
/** Shapes: x any → same shape. |x|. */
export const abs = unary(absOp);
/** Shapes: x any → same shape. -1, 0 or 1 (NaN stays NaN); no gradient. */
export const sign = unary(signOp);
/** Shapes: x any → same shape. e^x. */
export const exp = unary(expOp);
/** Shapes: x any → same shape. Natural log; NaN for x < 0, -Infinity at 0. */
export const log = unary(logOp);
/** Shapes: x any → same shape. NaN for x < 0. */
export const sqrt = unary(sqrtOp);
/** Shapes: x any → same shape. 1 / sqrt(x). */
export const rsqrt = unary(rsqrtOp);
/** Shapes: x any → same shape. x * x. */
export const square = unary(squareOp);
/** Shapes: x any → same shape. 1 / x. */
export const reciprocal = unary(reciprocalOp);
/** Shapes: x any → same shape. 1 / (1 + e^-x). */
export const sigmoid = unary(sigmoidOp);
/** Shapes: x any → same shape. */
export const tanh = unary(tanhOp);
/** Shapes: x any → same shape. min(max(x, 0), 6); NaN stays NaN. */
export const relu6 = unary(relu6Op);
/** Shapes: x any → same shape. The error function (float32 accuracy, absolute error < 2e-7). */
export const erf = unary(erfOp);
/** Shapes: x any → same shape. Exact GELU, x * Phi(x) (PyTorch's default, not the tanh approximation). */
export const gelu = unary(geluOp);
/** Shapes: x any → same shape. x * sigmoid(x) (swish). */
export const silu = unary(siluOp);
/** Shapes: x any → same shape. log(1 + e^x), computed without overflow. */
export const softplus = unary(softplusOp);

function finite(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new ArgumentError(`${op}: '${name}' must be a finite number, got ${String(v)}`);
  return v;
}

export interface AlphaAttrs {
  alpha: number;
}

/** where(x > 0, x, alpha * x): the gradient at 0 is alpha, as PyTorch. */
export const leakyReluOp = exprOpDef<AlphaAttrs>(
  'leakyRelu',
  ({ alpha }) =>
    call('where', call('greater', input(0), num(0)), input(0), call('mul', input(0), num(alpha))),
  [true],
  X,
);

/** where(x > 0, x, alpha * (e^x - 1)). */
export const eluOp = exprOpDef<AlphaAttrs>(
  'elu',
  ({ alpha }) =>
    call(
      'where',
      call('greater', input(0), num(0)),
      input(0),
      call('mul', num(alpha), call('sub', call('exp', input(0)), num(1))),
    ),
  [true],
  X,
);

export interface ClipAttrs {
  min: number;
  max: number;
}

/** min(max(x, lo), hi): NaN stays NaN; the gradient is 1 inside [lo, hi] (bounds included), 0 outside. */
export const clipOp = exprOpDef<ClipAttrs>(
  'clip',
  ({ min, max }) => call('minimum', call('maximum', input(0), num(min)), num(max)),
  [true],
  X,
);

/** Shapes: x any → same shape. x for x > 0, alpha * x otherwise (default alpha 0.2, as tfjs). */
export function leakyRelu(x: Tensor, alpha = 0.2): Tensor {
  return apply(leakyReluOp, [x], { alpha: finite('leakyRelu', 'alpha', alpha) }, X);
}

/** Shapes: x any → same shape. x for x > 0, alpha * (e^x - 1) otherwise (default alpha 1). */
export function elu(x: Tensor, alpha = 1): Tensor {
  return apply(eluOp, [x], { alpha: finite('elu', 'alpha', alpha) }, X);
}

/** Shapes: x any → same shape. x clamped to [min, max] (tfjs's clipByValue); min <= max required. */
export function clip(x: Tensor, min: number, max: number): Tensor {
  const lo = typeof min === 'number' && !Number.isNaN(min) ? min : finite('clip', 'min', min);
  const hi = typeof max === 'number' && !Number.isNaN(max) ? max : finite('clip', 'max', max);
  if (lo > hi) throw new ArgumentError(`clip: 'min' (${lo}) must be <= 'max' (${hi})`);
  return apply(clipOp, [x], { min: lo, max: hi }, X);
}
