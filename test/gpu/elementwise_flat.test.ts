// GPU numerics of the generator's flat kernels (every input at the output's own index: FLAT_PER_INVOCATION outputs
// per invocation) vs the float64 reference: sizes around the vec4 and workgroup edges, NaN, numbers, fused chains.
import { describe, expect, it } from 'vitest';
import {
  add,
  div,
  exp,
  explain,
  greater,
  maximum,
  minimum,
  mul,
  relu,
  scale,
  sub,
  tensor,
  tidy,
  where,
} from '../../src/index.js';
import { ELEMENTWISE_WG } from '../../src/ops/util.js';
import { broadcastView, elementwiseKernel, FLAT_PER_INVOCATION } from '../../src/ops/elementwise/codegen.js';
import { call, input as exprInput } from '../../src/ops/elementwise/expr.js';
import { expectMatchesReference, seeded, useGpu } from '../helpers.js';
import { expectFused, leaf } from './fusion_epilogue_helpers.js';

useGpu();
const tol = { atol: 1e-5, rtol: 1e-5 };

// Sizes not a multiple of 4 take the scalar path, the others the vec4 path. An invocation computes 4 outputs a
// grid apart (64 invocations per workgroup): the sizes end inside, at and past one and several workgroups' worth,
// so the last grid step is full, partly empty or nearly empty.
const SIZES = [1, 3, 4, 5, 7, 8, 255, 256, 257, 1023, 1024, 1025, 4095, 4096, 4097, 4100, 8196];

describe('flat kernels (equal shapes)', () => {
  it('plan PER outputs per invocation only when no input needs index math', () => {
    const buffer = {} as GPUBuffer;
    const ab = call('add', exprInput(0), exprInput(1));
    const flat = elementwiseKernel(
      ab,
      [0, 1].map(() => ({ buffer, view: broadcastView([6, 8], [6, 8]) })),
      {
        buffer,
        shape: [6, 8],
      },
    );
    expect(flat.constants).toEqual({ WG: ELEMENTWISE_WG, PER: FLAT_PER_INVOCATION });
    // 48 floats = 12 vec4 in one workgroup.
    expect(flat.workgroups).toBe(1);
    const big = elementwiseKernel(
      ab,
      [0, 1].map(() => ({ buffer, view: broadcastView([4097], [4097]) })),
      {
        buffer,
        shape: [4097],
      },
    );
    expect(big.workgroups).toBe(Math.ceil(4097 / (ELEMENTWISE_WG * FLAT_PER_INVOCATION)));
    const broadcast = elementwiseKernel(
      ab,
      [
        { buffer, view: broadcastView([6, 8], [6, 8]) },
        { buffer, view: broadcastView([8], [6, 8]) },
      ],
      { buffer, shape: [6, 8] },
    );
    expect(broadcast.constants).toEqual({ WG: ELEMENTWISE_WG, PER: 1 });
  });

  for (const n of SIZES) {
    it(`binary ops, comparisons and where at size ${n}`, async () => {
      const a = leaf([n], 10 + n);
      const b = leaf([n], 20 + n);
      const outs = [
        add(a, b),
        sub(a, b),
        div(a, add(b, 2)),
        maximum(a, b),
        greater(a, b),
        where(greater(a, b), a, b),
      ];
      await expectMatchesReference(outs, tol, `size ${n}`);
    });
  }

  it('unary ops, number operands and 4-d shapes (vec4 and scalar lanes)', async () => {
    for (const shape of [
      [2, 5, 7, 64],
      [2, 5, 7, 3],
      [1, 1, 1, 1],
    ]) {
      const x = leaf(shape, 31);
      const y = leaf(shape, 32);
      await expectMatchesReference(
        [exp(x), relu(x), scale(x, -1.5), add(x, 2.5), mul(3, x), sub(1, div(x, 4)), minimum(x, y)],
        tol,
        `shape ${shape}`,
      );
    }
  });

  it('propagates NaN in every lane and every step of an invocation', async () => {
    // NaN in each vec4 lane and at every grid step of an invocation (4100 floats: 1025 vec4, 5 workgroups).
    const n = 4100;
    const values = seeded(n, 41);
    const nanAt = [0, 1, 2, 3, 1029, 2050, 3071, 4099];
    for (const i of nanAt) values[i] = NaN;
    const x = tensor(values, [n]);
    const y = leaf([n], 42);
    const got = await Promise.all([maximum(x, y), minimum(y, x), relu(x), add(x, y)].map((t) => t.data()));
    for (const out of got) {
      for (let i = 0; i < n; i++) expect(Number.isNaN(out[i]), `index ${i}`).toBe(nanAt.includes(i));
    }
  });
});

describe('fused chains over the flat path', () => {
  it('the fused kernel of a chain is a flat one (before the tests below reopen the engine)', async () => {
    const a = leaf([4100], 61);
    const b = leaf([4100], 62);
    const plan = await explain(() => tidy(() => relu(add(mul(a, b), a))));
    expect(plan.kernels.map((k) => k.nodes.map((m) => m.op).join('+'))).toEqual(['mul+add+relu']);
    expect(plan.kernels[0].variant).toContain(`PER=${FLAT_PER_INVOCATION}`);
    expect(plan.kernels[0].workgroups).toBe(Math.ceil(4100 / 4 / (ELEMENTWISE_WG * FLAT_PER_INVOCATION)));
  });

  for (const shape of [[4097], [3, 5, 7], [2, 16, 16, 8], [1025, 4]]) {
    it(`one kernel for a chain over equal shapes ${JSON.stringify(shape)}`, async () => {
      const build = () => {
        const a = leaf(shape, 51);
        const b = leaf(shape, 52);
        const c = leaf(shape, 53);
        return [relu(sub(mul(add(a, b), 2), maximum(c, a)))];
      };
      await expectFused({ elementwise: true }, build, ['add+mul+maximum+sub+relu'], `chain ${shape}`);
    });
  }
});
