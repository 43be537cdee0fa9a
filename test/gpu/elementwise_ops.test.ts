// GPU numerics of the generated elementwise kernels: every unary, binary, comparison and where op vs the float64
// reference (broadcast shapes, vec4 and scalar paths, strided views), PyTorch NaN semantics, and gradcheck.
import { describe, expect, it } from 'vitest';
import {
  abs,
  add,
  clip,
  div,
  elementwise,
  elu,
  equal,
  erf,
  exp,
  expr,
  gelu,
  gradcheck,
  greater,
  greaterEqual,
  leakyRelu,
  less,
  lessEqual,
  log,
  maximum,
  minimum,
  mul,
  neg,
  notEqual,
  pow,
  reciprocal,
  relu,
  relu6,
  rsqrt,
  sigmoid,
  sign,
  silu,
  softplus,
  sqrt,
  square,
  sub,
  sum,
  tanh,
  tensor,
  where,
  type Tensor,
} from '../../src/index.js';
import { expectClose, expectMatchesReference, seeded, useGpu } from '../helpers.js';

useGpu();
const tol = { atol: 1e-5, rtol: 1e-5 };

/** Seeded values in [-lo..hi) scaled by `spread`. */
function input(shape: number[], seed: number, spread = 3, offset = 0): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(
    seeded(n, seed).map((v) => v * spread + offset),
    shape,
  );
}

const unaries: [string, (x: Tensor) => Tensor, number][] = [
  ['neg', neg, 0],
  ['abs', abs, 0],
  ['sign', sign, 0],
  ['exp', exp, 0],
  ['log', log, 3.5],
  ['sqrt', sqrt, 3.5],
  ['rsqrt', rsqrt, 3.5],
  ['square', square, 0],
  ['reciprocal', reciprocal, 3.5],
  ['sigmoid', sigmoid, 0],
  ['tanh', tanh, 0],
  ['relu', relu, 0],
  ['relu6', (x) => relu6(mul(x, 3)), 0],
  ['erf', erf, 0],
  ['gelu', gelu, 0],
  ['silu', silu, 0],
  ['softplus', softplus, 0],
  ['leakyRelu', (x) => leakyRelu(x, 0.1), 0],
  ['elu', (x) => elu(x, 0.7), 0],
  ['clip', (x) => clip(x, -1, 2), 0],
];

describe('unary ops vs the float64 reference', () => {
  for (const shape of [
    [3, 17],
    [4, 8],
  ]) {
    for (const [name, f, offset] of unaries) {
      it(`${name} ${JSON.stringify(shape)}`, async () => {
        await expectMatchesReference([f(input(shape, 1, 3, offset))], { atol: 2e-6, rtol: 2e-5 }, name);
      });
    }
  }

  it('propagates NaN as PyTorch (relu, relu6, clip, maximum, minimum) and handles edge values', async () => {
    const x = tensor([NaN, -1, 0, 2, Infinity, -Infinity, NaN, 7], [8]);
    const got = await Promise.all(
      [relu(x), relu6(x), clip(x, -0.5, 0.5), maximum(x, 1), minimum(x, 1), log(x), sqrt(x), tanh(x)].map(
        (t) => t.data(),
      ),
    );
    const show = (a: Float32Array) => Array.from(a, (v) => (Number.isNaN(v) ? 'NaN' : v));
    expect(show(got[0])).toEqual(['NaN', 0, 0, 2, Infinity, 0, 'NaN', 7]);
    expect(show(got[1])).toEqual(['NaN', 0, 0, 2, 6, 0, 'NaN', 6]);
    expect(show(got[2])).toEqual(['NaN', -0.5, 0, 0.5, 0.5, -0.5, 'NaN', 0.5]);
    expect(show(got[3])).toEqual(['NaN', 1, 1, 2, Infinity, 1, 'NaN', 7]);
    expect(show(got[4])).toEqual(['NaN', -1, 0, 1, 1, -Infinity, 'NaN', 1]);
    expect(show(got[5]).slice(0, 3)).toEqual(['NaN', 'NaN', -Infinity]);
    expectClose(got[5].slice(3, 4), [Math.log(2)], tol, 'log');
    expect(got[5][4]).toBe(Infinity);
    expect(show(got[6]).slice(0, 3)).toEqual(['NaN', 'NaN', 0]);
    expect(show(got[7]).slice(4, 6)).toEqual([1, -1]);
  });
});

describe('binary ops with NumPy broadcasting', () => {
  const pairs: [number[], number[]][] = [
    [[7], [7]],
    [
      [2, 1, 5],
      [3, 1],
    ],
    [
      [4, 1],
      [1, 8],
    ],
    [[3, 5, 8], [8]],
    [
      [3, 5, 8],
      [5, 1],
    ],
    [
      [2, 3, 4, 4],
      [1, 3, 1, 4],
    ],
    [[5, 1, 3], []],
    [[], [6]],
  ];
  for (const [a, b] of pairs) {
    it(`${JSON.stringify(a)} with ${JSON.stringify(b)}`, async () => {
      const x = input(a, 2);
      const y = input(b, 3);
      const pos = input(a, 4, 1, 2);
      await expectMatchesReference(
        [
          add(x, y),
          sub(x, y),
          mul(x, y),
          div(x, add(abs(y), 0.5)),
          maximum(x, y),
          minimum(x, y),
          pow(pos, y),
        ],
        { atol: 1e-5, rtol: 2e-5 },
      );
    });
  }

  it('takes numbers on either side', async () => {
    const x = input([3, 4], 5);
    await expectMatchesReference([sub(2, x), div(x, 4), pow(x, 2), pow(x, 3), pow(2, x), maximum(0, x)], tol);
    // A negative base with an integer exponent keeps its sign by parity; a fractional exponent gives NaN.
    const got = await pow(tensor([-2, -2, -8, 0, 0]), tensor([3, 2, 1 / 3, 0, -1])).data();
    expect(Array.from(got)).toEqual([-8, 4, NaN, 1, Infinity]);
  });

  it('rejects shapes that do not broadcast and arguments that are not tensors', () => {
    expect(() => add(input([2, 3], 1), input([2], 2))).toThrow(
      /add: shapes 'a' \[2,3\], 'b' \[2\] do not broadcast/,
    );
    expect(() => add(1, 2 as unknown as Tensor)).toThrow(/at least one argument must be a Tensor/);
    expect(() => mul(input([2], 1), 'x' as unknown as Tensor)).toThrow(
      /mul: argument 'b' must be a Tensor or a number/,
    );
  });
});

describe('comparisons and where', () => {
  it('masks and selects with broadcasting', async () => {
    const a = input([4, 6], 6);
    const b = input([6], 7);
    const outs = [
      greater(a, b),
      greaterEqual(a, 0),
      less(a, b),
      lessEqual(b, a),
      equal(a, a),
      notEqual(a, b),
    ];
    await expectMatchesReference([...outs, where(greater(a, b), a, b), where(less(a, 0), 0, a)], tol);
    const nan = tensor([NaN, 1]);
    expect(Array.from(await equal(nan, nan).data())).toEqual([0, 1]);
    expect(Array.from(await notEqual(nan, nan).data())).toEqual([1, 0]);
  });
});

describe('the generic elementwise op', () => {
  it('computes a whole tree in one kernel over broadcast inputs', async () => {
    const { call, input: arg, num } = expr;
    // sigmoid(a * b + c) * 2 - where(a > 0, b, c)
    const tree = call(
      'sub',
      call('mul', call('sigmoid', call('add', call('mul', arg(0), arg(1)), arg(2))), num(2)),
      call('where', call('greater', arg(0), num(0)), arg(1), arg(2)),
    );
    const a = input([3, 1, 8], 8);
    const b = input([5, 8], 9);
    const c = input([3, 5, 1], 10);
    await expectMatchesReference([elementwise(tree, [a, b, c])], tol);
    expect(() => elementwise(call('add', arg(0), arg(3)), [a, b])).toThrow(/reads input 3, but has 2 inputs/);
    expect(() => elementwise({ kind: 'call', fn: 'nope' as 'add', args: [] }, [a])).toThrow(
      /unknown function 'nope'/,
    );
  });
});

describe('gradients against finite differences', () => {
  const smooth: [string, (x: Tensor) => Tensor, number][] = unaries.filter(
    ([n]) => !['sign', 'relu6', 'clip'].includes(n),
  );
  for (const [name, f, offset] of smooth) {
    it(name, async () => {
      const x = input([3, 5], 11, 1, offset);
      const result = await gradcheck((t) => f(t), [x], { atol: 1e-3, rtol: 1e-2 });
      expect(result.mismatches).toEqual([]);
    });
  }

  it('binary ops with broadcasting, number operands and where', async () => {
    const a = input([3, 4], 12);
    // Offsets keep a and b apart by more than the finite-difference step (no ties at maximum/minimum).
    const b = input([4], 13, 3, 0.37);
    const pos = input([3, 4], 14, 1, 2);
    const fns: [string, Tensor[], (...xs: Tensor[]) => Tensor][] = [
      ['add', [a, b], (x, y) => add(x, y)],
      ['sub', [a, b], (x, y) => sub(y, x)],
      ['mul', [a, b], (x, y) => mul(x, y)],
      ['div', [a, pos], (x, p) => div(x, p)],
      ['pow', [pos, b], (p, y) => pow(p, y)],
      ['pow number', [a], (x) => pow(x, 3)],
      ['maximum', [a, b], (x, y) => maximum(x, y)],
      ['minimum', [a, b], (x, y) => minimum(x, mul(y, 2))],
      ['where', [a, b], (x, y) => where(greater(x, y), mul(x, x), y)],
      ['clip', [a], (x) => clip(x, -0.5, 0.5)],
      ['relu6', [a], (x) => relu6(mul(x, 8))],
    ];
    for (const [name, inputs, f] of fns) {
      const result = await gradcheck(f, inputs, { atol: 1e-3, rtol: 1e-2 });
      expect(result.mismatches, name).toEqual([]);
    }
  });

  it('sums a broadcast operand’s gradient over non-adjacent axes', async () => {
    const a = input([2, 3, 4, 5], 15);
    const b = input([3, 1, 5], 16);
    const result = await gradcheck((x, y) => sum(mul(x, y)), [a, b]);
    expect(result.mismatches).toEqual([]);
  });
});
