// Named elementwise ops with number operands: each tensor-or-number argument becomes an input or a constant
// of the op's tree, so `mul(x, 2)` and `where(mask, x, 0)` record one kernel with no extra tensors.
import { ShapeError } from '../../errors.js';
import { apply } from '../../graph/record.js';
import { Tensor } from '../../graph/tensor.js';
import type { OpDef } from '../types.js';
import { exprOpDef } from './op.js';
import { call, input, num, type Expr, type FnName } from './expr.js';

/** Attributes of a named op: for each argument position, a constant, or null where a tensor input goes. */
export interface NamedAttrs {
  consts?: readonly (number | null)[];
}

/** The tree of `fn` over its arguments: constants where given, inputs 0, 1, ... in order elsewhere. */
export function namedExpr(fn: FnName, arity: number, consts: readonly (number | null)[] | undefined): Expr {
  let next = 0;
  const args = Array.from({ length: arity }, (_, i) => {
    const c = consts?.[i];
    return c === null || c === undefined ? input(next++) : num(c);
  });
  return call(fn, ...args);
}

/** The op-table entry of function `fn` (its name), with gradients for the positions in `differentiable`. */
export function namedOpDef(
  fn: FnName,
  argNames: readonly string[],
  differentiable: readonly boolean[],
): OpDef<NamedAttrs> {
  return exprOpDef<NamedAttrs>(
    fn,
    (attrs) => namedExpr(fn, argNames.length, attrs.consts),
    differentiable,
    argNames,
  );
}

/**
 * Records `op` on arguments that are tensors or numbers (at least one a tensor). Tensor input k gets the name
 * of its argument position in errors.
 */
export function applyNamed(
  op: OpDef<NamedAttrs>,
  argNames: readonly string[],
  args: readonly (Tensor | number)[],
): Tensor {
  const tensors: Tensor[] = [];
  const names: string[] = [];
  const consts = args.map((a, i) => {
    if (a instanceof Tensor) {
      tensors.push(a);
      names.push(argNames[i]);
      return null;
    }
    if (typeof a !== 'number')
      throw new ShapeError(
        `${op.name}: argument '${argNames[i]}' must be a Tensor or a number, got ${String(a)}`,
      );
    return a;
  });
  if (tensors.length === 0)
    throw new ShapeError(`${op.name}: at least one argument must be a Tensor, got only numbers`);
  const attrs: NamedAttrs = tensors.length === args.length ? {} : { consts };
  return apply(op, tensors, attrs, names);
}
