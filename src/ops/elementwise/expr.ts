// Elementwise expression trees: the functions they may call (WGSL name, float64 value, partial derivatives),
// builders, validation, and reverse-mode differentiation into new trees.
//
// An `Expr` is a tree over numbered inputs and constants. Each function node names an entry of `FUNCTIONS`;
// its WGSL implementation is the function `wg_<name>` in shaders/elementwise.wgsl, so the code generator
// (codegen.ts) only ever writes calls of known functions on generated names, never pasted code.
import { ArgumentError } from '../../errors.js';

export type UnaryName =
  | 'neg'
  | 'abs'
  | 'sign'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'rsqrt'
  | 'square'
  | 'reciprocal'
  | 'sigmoid'
  | 'tanh'
  | 'relu'
  | 'relu6'
  | 'erf'
  | 'gelu'
  | 'silu'
  | 'softplus';
export type BinaryName = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum';
export type CompareName = 'greater' | 'greaterEqual' | 'less' | 'lessEqual' | 'equal' | 'notEqual';
export type FnName = UnaryName | BinaryName | CompareName | 'where';

/** A node: input k (a tensor operand), a constant (passed as a uniform, so its value never changes the kernel),
 * or a function applied to argument trees. */
export type Expr =
  | { kind: 'input'; index: number }
  | { kind: 'const'; value: number }
  | { kind: 'call'; fn: FnName; args: readonly Expr[] };

export const input = (index: number): Expr => ({ kind: 'input', index });
export const num = (value: number): Expr => ({ kind: 'const', value });
export const call = (fn: FnName, ...args: Expr[]): Expr => ({ kind: 'call', fn, args });

const isNum = (e: Expr, v: number) => e.kind === 'const' && e.value === v;
/** Products and sums that fold the constants 0 and 1, so derivative trees stay small. */
function times(a: Expr, b: Expr): Expr {
  if (isNum(a, 1)) return b;
  if (isNum(b, 1)) return a;
  return call('mul', a, b);
}
function plus(a: Expr | null, b: Expr): Expr {
  return a === null ? b : call('add', a, b);
}

/**
 * Partial derivatives of a node with respect to each argument, as trees over the arguments and the node
 * itself (`self`); null for an argument that gets no gradient (masks, comparisons).
 */
type Partials = (args: readonly Expr[], self: Expr) => (Expr | null)[];

interface FnDef {
  arity: number;
  /** Value in float64: the reference. */
  f64: (...xs: number[]) => number;
  partials: Partials;
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** erf to float64 accuracy: its Taylor series near 0, a continued fraction for erfc further out. */
export function erf64(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax;
    let total = ax;
    for (let n = 1; n < 80; n++) {
      term *= (-ax * ax) / n;
      total += term / (2 * n + 1);
    }
    return Math.sign(x) * ((2 / Math.sqrt(Math.PI)) * total);
  }
  if (ax > 6) return Math.sign(x);
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))), evaluated from the tail.
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const sigmoid64 = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
/** NaN-propagating max and min, as PyTorch's maximum and minimum. */
const max64 = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b));
const min64 = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b));
const mask = (c: boolean) => (c ? 1 : 0);
/** pow for a negative base: defined for integer exponents (sign by parity), NaN otherwise, as in C. */
const pow64 = (a: number, b: number) => Math.pow(a, b);

const unary = (f64: (x: number) => number, d: (x: Expr, self: Expr) => Expr | null): FnDef => ({
  arity: 1,
  f64,
  partials: ([x], self) => [d(x, self)],
});
const compare = (f64: (a: number, b: number) => boolean): FnDef => ({
  arity: 2,
  f64: (a, b) => mask(f64(a, b)),
  partials: () => [null, null],
});

export const FUNCTIONS: { readonly [K in FnName]: FnDef } = {
  neg: unary(
    (x) => -x,
    () => num(-1),
  ),
  abs: unary(Math.abs, (x) => call('sign', x)),
  sign: unary(
    (x) => (Number.isNaN(x) ? NaN : Math.sign(x)),
    () => null,
  ),
  exp: unary(Math.exp, (_x, self) => self),
  log: unary(Math.log, (x) => call('reciprocal', x)),
  sqrt: unary(Math.sqrt, (_x, self) => call('div', num(0.5), self)),
  rsqrt: unary(
    (x) => 1 / Math.sqrt(x),
    (x, self) => call('div', times(num(-0.5), self), x),
  ),
  square: unary(
    (x) => x * x,
    (x) => times(num(2), x),
  ),
  reciprocal: unary(
    (x) => 1 / x,
    (_x, self) => call('neg', call('square', self)),
  ),
  sigmoid: unary(sigmoid64, (_x, self) => times(self, call('sub', num(1), self))),
  tanh: unary(Math.tanh, (_x, self) => call('sub', num(1), call('square', self))),
  // PyTorch: relu(NaN) = NaN, and the gradient at 0 is 0.
  relu: unary(
    (x) => (x > 0 || Number.isNaN(x) ? x : 0),
    (x) => call('greater', x, num(0)),
  ),
  relu6: unary(
    (x) => (Number.isNaN(x) ? NaN : Math.min(Math.max(x, 0), 6)),
    (x) => times(call('greater', x, num(0)), call('less', x, num(6))),
  ),
  erf: unary(erf64, (x) => times(num(2 / Math.sqrt(Math.PI)), call('exp', call('neg', call('square', x))))),
  // The exact (erf) GELU, PyTorch's default: x * Phi(x); derivative Phi(x) + x * phi(x).
  gelu: unary(
    (x) => 0.5 * x * (1 + erf64(x * SQRT1_2)),
    (x) =>
      call(
        'add',
        times(num(0.5), call('add', num(1), call('erf', times(num(SQRT1_2), x)))),
        times(x, times(num(INV_SQRT_2PI), call('exp', times(num(-0.5), call('square', x))))),
      ),
  ),
  silu: unary(
    (x) => x * sigmoid64(x),
    (x) => {
      const s = call('sigmoid', x);
      return times(s, call('add', num(1), times(x, call('sub', num(1), s))));
    },
  ),
  // softplus(x) = log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|)) so it never overflows.
  softplus: unary(
    (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
    (x) => call('sigmoid', x),
  ),
  add: { arity: 2, f64: (a, b) => a + b, partials: () => [num(1), num(1)] },
  sub: { arity: 2, f64: (a, b) => a - b, partials: () => [num(1), num(-1)] },
  mul: { arity: 2, f64: (a, b) => a * b, partials: ([a, b]) => [b, a] },
  div: {
    arity: 2,
    f64: (a, b) => a / b,
    partials: ([, b], self) => [call('reciprocal', b), call('neg', call('div', self, b))],
  },
  // d/da = b * a^(b-1) (0 where b = 0, as PyTorch); d/db = a^b * log(a) (0 where a = 0 and b >= 0).
  pow: {
    arity: 2,
    f64: pow64,
    partials: ([a, b], self) => [
      call('where', call('equal', b, num(0)), num(0), times(b, call('pow', a, call('sub', b, num(1))))),
      call(
        'where',
        times(call('equal', a, num(0)), call('greaterEqual', b, num(0))),
        num(0),
        times(self, call('log', a)),
      ),
    ],
  },
  // Gradients as tfjs: ties go to a.
  maximum: {
    arity: 2,
    f64: max64,
    partials: ([a, b]) => [call('greaterEqual', a, b), call('less', a, b)],
  },
  minimum: {
    arity: 2,
    f64: min64,
    partials: ([a, b]) => [call('lessEqual', a, b), call('greater', a, b)],
  },
  greater: compare((a, b) => a > b),
  greaterEqual: compare((a, b) => a >= b),
  less: compare((a, b) => a < b),
  lessEqual: compare((a, b) => a <= b),
  equal: compare((a, b) => a === b),
  notEqual: compare((a, b) => a !== b),
  // where(cond, a, b): a where cond != 0, else b (cond is a mask of 0 and 1, or any float).
  where: {
    arity: 3,
    f64: (c, a, b) => (c !== 0 ? a : b),
    partials: ([c]) => [null, call('notEqual', c, num(0)), call('equal', c, num(0))],
  },
};

/** Throws ArgumentError naming `op` unless `e` is a well-formed tree over inputs 0..inputs-1. */
export function checkExpr(op: string, e: Expr, inputs: number): void {
  const stack: Expr[] = [e];
  let nodes = 0;
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (++nodes > 10_000) throw new ArgumentError(`${op}: expression has more than 10,000 nodes`);
    if (n.kind === 'input') {
      if (!Number.isInteger(n.index) || n.index < 0 || n.index >= inputs)
        throw new ArgumentError(`${op}: expression reads input ${n.index}, but has ${inputs} inputs`);
    } else if (n.kind === 'const') {
      if (typeof n.value !== 'number')
        throw new ArgumentError(`${op}: expression constant must be a number, got ${String(n.value)}`);
    } else if (n.kind === 'call') {
      const def = Object.hasOwn(FUNCTIONS, n.fn) ? FUNCTIONS[n.fn] : undefined;
      if (!def) throw new ArgumentError(`${op}: expression calls unknown function '${String(n.fn)}'`);
      if (!Array.isArray(n.args) || n.args.length !== def.arity)
        throw new ArgumentError(`${op}: '${n.fn}' takes ${def.arity} arguments, got ${n.args?.length}`);
      stack.push(...n.args);
    } else {
      throw new ArgumentError(`${op}: expression node of unknown kind ${JSON.stringify(n)}`);
    }
  }
}

/** Evaluates the tree for one element, in float64, given each input's value. */
export function evalScalar(e: Expr, values: readonly number[]): number {
  if (e.kind === 'input') return values[e.index];
  if (e.kind === 'const') return e.value;
  return FUNCTIONS[e.fn].f64(...e.args.map((a) => evalScalar(a, values)));
}

/** Input indices the tree reads. */
export function inputsOf(e: Expr, into = new Set<number>()): Set<number> {
  if (e.kind === 'input') into.add(e.index);
  else if (e.kind === 'call') for (const a of e.args) inputsOf(a, into);
  return into;
}

/** The tree with input k replaced by `map(k)`. */
export function mapInputs(e: Expr, map: (k: number) => Expr): Expr {
  if (e.kind === 'input') return map(e.index);
  if (e.kind === 'const') return e;
  return { kind: 'call', fn: e.fn, args: e.args.map((a) => mapInputs(a, map)) };
}

/**
 * Reverse mode through the tree: for output gradient `dy` (a tree), the gradient tree of every input, or null
 * where no gradient reaches it. `root` stands for the whole tree's value where partials use it (so the
 * caller can bind the saved output instead of recomputing it).
 */
export function vjp(e: Expr, dy: Expr, root: Expr): (Expr | null)[] {
  const grads: (Expr | null)[] = [];
  const visit = (n: Expr, g: Expr, self: Expr) => {
    if (n.kind === 'input') grads[n.index] = plus(grads[n.index] ?? null, g);
    if (n.kind !== 'call') return;
    const partials = FUNCTIONS[n.fn].partials(n.args, self);
    n.args.forEach((arg, i) => {
      const p = partials[i];
      if (p !== null && !isNum(p, 0)) visit(arg, times(g, p), arg);
    });
  };
  visit(e, dy, root);
  return grads;
}
