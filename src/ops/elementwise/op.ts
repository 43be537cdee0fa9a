// Elementwise ops as op-table entries: the generic `elementwise` op (any checked expression over broadcast
// inputs), the factory that gives each named op (exp, add, where, ...) its definition, NumPy broadcasting and
// the gradient rules, which differentiate the tree (expr.ts `vjp`) into one more elementwise kernel per input.
import { ShapeError, fmtShape } from '../../errors.js';
import { apply } from '../../graph/record.js';
import type { Tensor } from '../../graph/tensor.js';
import { refElementwise } from '../../reference/expr.js';
import { fill } from '../fill.js';
import { sum } from '../reduce.js';
import { reshape } from '../reshape.js';
import { sizeOf, type BackwardContext, type BackwardRule, type OpDef, type TensorSpec } from '../types.js';
import { MAX_INPUTS, broadcastView, elementwiseKernel } from './codegen.js';
import { call, checkExpr, input, inputsOf, mapInputs, vjp, type Expr } from './expr.js';

/** NumPy broadcasting: shapes right-aligned, each axis equal or 1. Throws ShapeError naming op and arguments. */
export function broadcastShapes(
  op: string,
  shapes: readonly (readonly number[])[],
  names: readonly string[],
): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (let i = 0; i < rank; i++) {
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d === 1) continue;
      if (out[i] !== 1 && out[i] !== d) {
        const list = shapes.map((sh, k) => `'${names[k] ?? k}' ${fmtShape(sh)}`).join(', ');
        throw new ShapeError(
          `${op}: shapes ${list} do not broadcast (axis ${i - rank} has ${out[i]} and ${d})`,
        );
      }
      out[i] = d;
    }
  }
  return out;
}

/** Sums a gradient over the axes broadcasting repeated, back to the operand's shape. */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.shape.length - shape.length;
  const axes = g.shape
    .map((d, i) => (i < lead || (shape[i - lead] === 1 && d !== 1) ? i : -1))
    .filter((i) => i >= 0);
  return reshape(axes.length === 0 ? g : sum(g, { axis: axes, keepDims: true }), shape);
}

export interface ExprAttrs {
  expr: Expr;
}

function checkInputs(name: string, inputs: readonly TensorSpec[], names: readonly string[]): void {
  if (inputs.length > MAX_INPUTS)
    throw new ShapeError(`${name}: at most ${MAX_INPUTS} tensor inputs, got ${inputs.length}`);
  inputs.forEach((s, k) => {
    if (s.dtype !== 'float32')
      throw new ShapeError(`${name}: argument '${names[k] ?? k}' must be float32, got ${s.dtype}`);
  });
}

/**
 * The gradient of input `i` of a node computing `expr`: dy times the tree's derivative, as an elementwise node
 * over only the tensors it reads (the forward inputs, dy, the saved output), summed back to input i's shape.
 */
export function exprGradient(expr: Expr, i: number, ctx: BackwardContext<unknown>): Tensor {
  const n = ctx.inputs.length;
  const g = vjp(expr, input(n), input(n + 1))[i];
  if (!g) return fill(ctx.inputs[i].shape, 0);
  const tensors = [...ctx.inputs, ctx.dys[0]!, ctx.outputs[0]];
  if (g.kind === 'input') {
    // The gradient is a tensor as it is (dy through an add): a view of it, no copy kernel. A view, not the tensor
    // itself, so each gradient is a handle of its own (disposing one leaves the other).
    const t = tensors[g.index];
    const summed = sumToShape(t, ctx.inputs[i].shape);
    return summed === t ? reshape(t, t.shape) : summed;
  }
  const used = [...inputsOf(g)].sort((a, b) => a - b);
  const local = mapInputs(g, (k) => input(used.indexOf(k)));
  return sumToShape(
    elementwise(
      local,
      used.map((k) => tensors[k]),
    ),
    ctx.inputs[i].shape,
  );
}

/**
 * The definition of an op computing `build(attrs)` over its inputs. `differentiable[i]` says whether input i
 * gets a gradient (not a comparison's operands or where's condition).
 */
export function exprOpDef<A>(
  name: string,
  build: (attrs: A, inputs: number) => Expr,
  differentiable: readonly boolean[],
  argNames: readonly string[],
): OpDef<A> {
  const exprOf = (attrs: A, inputs: number) => build(attrs, inputs);
  return {
    name,
    check(inputs, attrs) {
      checkInputs(name, inputs, argNames);
      checkExpr(name, exprOf(attrs, inputs.length), inputs.length);
      const shape = broadcastShapes(
        name,
        inputs.map((s) => s.shape),
        argNames,
      );
      return [{ shape, dtype: 'float32' }];
    },
    forward(io, attrs) {
      const shape = io.outputs[0].spec.shape;
      let expr = exprOf(attrs, io.inputs.length);
      if (io.relu) expr = call('relu', expr);
      const inputs = io.inputs.map((x) => ({ buffer: x.buffer, view: broadcastView(x.spec.shape, shape) }));
      return [elementwiseKernel(expr, inputs, { buffer: io.outputs[0].buffer, shape })];
    },
    epilogues: ['relu'],
    expr: exprOf,
    backward: differentiable.map((d, i): BackwardRule<A> | null =>
      d ? (ctx) => exprGradient(exprOf(ctx.attrs, ctx.inputs.length), i, ctx) : null,
    ),
    cost(inputs, attrs) {
      const shape = broadcastShapes(
        name,
        inputs.map((s) => s.shape),
        argNames,
      );
      const n = sizeOf(shape);
      return {
        flops: n * countCalls(exprOf(attrs, inputs.length)),
        bytes: 4 * (n + inputs.reduce((t, s) => t + sizeOf(s.shape), 0)),
      };
    },
    reference(inputs, attrs) {
      const shape = broadcastShapes(
        name,
        inputs.map((s) => s.shape),
        argNames,
      );
      const views = inputs.map((x) => broadcastView(x.shape, shape));
      return [refElementwise(exprOf(attrs, inputs.length), inputs, views, shape)];
    },
  };
}

function countCalls(e: Expr): number {
  return e.kind === 'call' ? 1 + e.args.reduce((t, a) => t + countCalls(a), 0) : 0;
}

const INPUT_NAMES = Array.from({ length: MAX_INPUTS }, (_, k) => `input ${k}`);

/** Any checked expression over up to MAX_INPUTS broadcast inputs (what fused chains and gradients record). */
export const elementwiseOp: OpDef<ExprAttrs> = exprOpDef<ExprAttrs>(
  'elementwise',
  (attrs) => attrs.expr,
  INPUT_NAMES.map(() => true),
  INPUT_NAMES,
);

/**
 * Records `expr` over `inputs` as one kernel. Shapes: inputs broadcast together (NumPy rules) → their
 * broadcast shape. Gradients flow to every input (zeros where the tree has none).
 */
export function elementwise(expr: Expr, inputs: readonly Tensor[]): Tensor {
  return apply(elementwiseOp, inputs, { expr }, INPUT_NAMES);
}
