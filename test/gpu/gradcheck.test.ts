// gradcheck on a small classifier (matmul + add + relu + softmaxCrossEntropy), and proof that it can fail.
import { describe, expect, it } from 'vitest';
import {
  add,
  gradcheck,
  matmul,
  relu,
  scale,
  softmaxCrossEntropy,
  sum,
  tensor,
  type OpDef,
  type Tensor,
} from '../../src/index.js';
import { apply } from '../../src/graph/record.js';
import { broadcastView, elementwiseKernel } from '../../src/ops/elementwise/codegen.js';
import { call, input, num } from '../../src/ops/elementwise/expr.js';
import { seeded, useGpu } from '../helpers.js';

useGpu();

const leaf = (shape: number[], seed: number) =>
  tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );

/** Test-only op: y = 2x on the device (a generated kernel), with a deliberately wrong gradient 3·dy. */
const wrongDoubleOp: OpDef = {
  name: 'wrongDouble',
  check: ([x]) => [x],
  forward: (io) => [
    elementwiseKernel(
      call('mul', input(0), num(2)),
      [
        {
          buffer: io.inputs[0].buffer,
          view: broadcastView(io.inputs[0].spec.shape, io.inputs[0].spec.shape),
        },
      ],
      { buffer: io.outputs[0].buffer, shape: io.outputs[0].spec.shape },
    ),
  ],
  backward: [({ dys }) => scale(dys[0]!, 3)],
  cost: () => ({ flops: 0, bytes: 0 }),
  reference: ([x]) => [{ shape: x.shape, data: x.data.map((v) => 2 * v) }],
};
const wrongDouble = (x: Tensor) => apply(wrongDoubleOp, [x], {});

describe('gradcheck', () => {
  const x = leaf([6, 5], 1);
  const w = leaf([5, 4], 2);
  const b = leaf([4], 3);
  // The last row carries the ignore index: it adds nothing, and the mean is over the other five.
  const labels = tensor([0, 3, 1, 2, 3, 9], [6], { dtype: 'int32' });

  it('passes for matmul + add + relu + softmaxCrossEntropy', async () => {
    const result = await gradcheck(
      (p, q, r) => softmaxCrossEntropy(relu(add(matmul(p, q), r)), labels, { ignoreIndex: 9 }),
      [x, w, b],
      {
        atol: 1e-4,
        rtol: 1e-2,
      },
    );
    expect(result.mismatches).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.checked).toBe(30 + 20 + 4);
  });

  it('fails when one backward rule is wrong', async () => {
    const result = await gradcheck((p, q) => sum(relu(wrongDouble(matmul(p, q)))), [x, w]);
    expect(result.ok).toBe(false);
    // The wrong rule scales every gradient by 3/2: the analytic side is 1.5 times the numeric one.
    const m = result.mismatches.find((e) => Math.abs(e.numeric) > 1e-2)!;
    expect(m.analytic / m.numeric).toBeCloseTo(1.5, 3);
  });
});
