// GPU numerics for matmul and dense: every kernel variant vs the float64 reference over edge-case shapes.
import { describe, expect, it, type TestContext } from 'vitest';
import {
  ArgumentError,
  dense,
  flush,
  info,
  matmul,
  mean,
  stats,
  tensor,
  type MatmulKernel,
  type Tensor,
} from '../../src/index.js';
import { record } from '../../src/graph/record.js';
import { MATMUL_KERNELS, gemmCandidates, matmulOp, planGemm } from '../../src/ops/matmul.js';
import { WGTILE_CANDIDATES, type WgTile } from '../../src/ops/wgtile.js';
import type { KernelIO } from '../../src/ops/types.js';
import { expectMatchesReference, requireFeature, seeded, useGpu } from '../helpers.js';

useGpu();

function input(shape: number[], seed: number, requiresGrad = false): Tensor {
  return tensor(seeded(shape[0] * shape[1], seed), shape, { requiresGrad });
}

/** Stored shapes of a and b for op(a) [M,K] and op(b) [K,N]. */
function operands(m: number, k: number, n: number, tA: boolean, tB: boolean, requiresGrad = false) {
  return [
    input(tA ? [k, m] : [m, k], m * 131 + k, requiresGrad),
    input(tB ? [n, k] : [k, n], n * 17 + k, requiresGrad),
  ];
}

// atol covers f32 rounding of K products of values in [-1, 1).
const tolFor = (k: number) => ({ atol: 2e-6 * Math.max(1, Math.sqrt(k)) * 4, rtol: 1e-5 });

const shapes: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 1],
  [3, 5, 7],
  [4, 8, 12],
  [13, 33, 6],
  [37, 70, 41],
  [64, 129, 20],
];

/** The subgroup kernel runs only where the adapter has the feature: elsewhere its cases are skipped, visibly. */
function needsFeature(ctx: TestContext, kernel: MatmulKernel): void {
  if (kernel === 'subgroup') requireFeature(ctx, 'subgroups');
}

describe.each<MatmulKernel>(MATMUL_KERNELS)('matmul, %s kernel', (kernel) => {
  for (const [m, k, n] of shapes) {
    it(`M=${m} K=${k} N=${n}, every transpose combination`, async (ctx) => {
      needsFeature(ctx, kernel);
      const outs: Tensor[] = [];
      for (const tA of [false, true])
        for (const tB of [false, true]) {
          const [a, b] = operands(m, k, n, tA, tB);
          outs.push(matmul(a, b, { transposeA: tA, transposeB: tB, kernel }));
        }
      await expectMatchesReference(outs, tolFor(k), `${m}x${k}x${n}`);
    });
  }

  it('dense fuses the bias (scalar and vec4 paths)', async (ctx) => {
    needsFeature(ctx, kernel);
    const outs = [
      [5, 9, 7],
      [6, 10, 8],
    ].map(([m, k, n]) => dense(input([m, k], 1), input([k, n], 2), tensor(seeded(n, 3), [n]), { kernel }));
    await expectMatchesReference(outs, tolFor(10), 'dense');
  });

  it('backward: gradients of both operands and the bias match the reference', async (ctx) => {
    needsFeature(ctx, kernel);
    for (const [tA, tB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      const [a, b] = operands(6, 9, 5, tA, tB, true);
      const loss = mean(matmul(a, b, { transposeA: tA, transposeB: tB, kernel }));
      loss.backward();
      await expectMatchesReference([a.grad!, b.grad!], tolFor(9), `grads tA=${tA} tB=${tB}`);
    }
    const x = input([7, 11], 4, true);
    const w = input([11, 8], 5, true);
    const bias = tensor(seeded(8, 6), [8], { requiresGrad: true });
    mean(dense(x, w, bias, { kernel })).backward();
    await expectMatchesReference([x.grad!, w.grad!, bias.grad!], tolFor(11), 'dense grads');
  });
});

/** op(a)·op(b) through planGemm with one kernel and tile (the tuner's candidates, not only the default). */
function matmulWith(
  a: Tensor,
  b: Tensor,
  tA: boolean,
  tB: boolean,
  kernel: MatmulKernel,
  tile: WgTile,
): Tensor {
  const [m, k] = tA ? [a.shape[1], a.shape[0]] : a.shape;
  const n = tB ? b.shape[0] : b.shape[1];
  const attrs = { transposeA: tA, transposeB: tB };
  const op = { ...matmulOp, forward: (io: KernelIO) => planGemm(io, attrs, { m, n, k }, { kernel, tile }) };
  return record(op, [a, b], attrs)[0];
}

describe('matmul, subgroup kernel', () => {
  // Ragged edges of every candidate tile (64x64, 128x64, 32x32 blocks) and K not a multiple of the 8- or 16-deep
  // slabs or of any lane group size, so partial lane groups and zero-filled slabs are both exercised.
  const ragged: [number, number, number][] = [
    [65, 17, 67],
    [130, 35, 129],
    [31, 3, 33],
  ];
  // TX = 5 divides by no subgroup size: the kernel's survey takes one-lane groups there (its other path).
  const oddTile: WgTile = { tx: 5, ty: 4, rm: 3, rn: 2, kt: 3 };
  for (const tile of [...WGTILE_CANDIDATES, oddTile]) {
    it(`tile ${JSON.stringify(tile)}: ragged shapes, every transpose combination`, async (ctx) => {
      requireFeature(ctx, 'subgroups');
      for (const [m, k, n] of ragged) {
        const outs: Tensor[] = [];
        for (const tA of [false, true])
          for (const tB of [false, true]) {
            const [a, b] = operands(m, k, n, tA, tB);
            outs.push(matmulWith(a, b, tA, tB, 'subgroup', tile));
          }
        await expectMatchesReference(outs, tolFor(k), `${m}x${k}x${n}`);
      }
    });
  }

  it('is a tuner candidate exactly where the adapter has the subgroups feature', () => {
    const has = info().features.includes('subgroups');
    const subgroup = gemmCandidates(info().limits).filter((c) => c.kernel === 'subgroup');
    expect(subgroup.length > 0).toBe(has);
  });

  it('forcing it without the subgroups feature throws ArgumentError naming the option', (ctx) => {
    if (info().features.includes('subgroups')) {
      console.log(`skipped: ${ctx.task.name}: the adapter has the 'subgroups' feature`);
      ctx.skip("the adapter has the 'subgroups' feature");
    }
    const [a, b] = operands(4, 4, 4, false, false);
    expect(() => matmul(a, b, { kernel: 'subgroup' })).toThrow(ArgumentError);
    expect(() => matmul(a, b, { kernel: 'subgroup' })).toThrow(
      "matmul: option 'kernel' 'subgroup' needs a device with the 'subgroups' feature, which this adapter lacks",
    );
    expect(() => dense(a, b, tensor(seeded(4, 1), [4]), { kernel: 'subgroup' })).toThrow(
      /dense: option 'kernel'/,
    );
  });
});

describe('matmul on large grids', () => {
  // K = N = 1 keeps the buffers under llvmpipe's 128 MiB binding limit while passing 65,535 workgroups.
  // Rows per workgroup: 4 per invocation times 64 invocations (register), 32 per tile (tiled).
  it.each<[MatmulKernel, number]>([
    ['register', 256],
    ['tiled', 32],
  ])(
    '%s kernel past 65,535 workgroups (%i rows each) spreads them over x and y',
    async (kernel, rowsPerGroup) => {
      const m = rowsPerGroup * 65_600 + 3;
      const a = tensor(seeded(m, 7), [m, 1]);
      const out = matmul(a, tensor([-1.5], [1, 1]), { kernel });
      const [got, av] = await Promise.all([out.data(), a.data()]);
      // Each output is one exact f32 product, so rows on both sides of the x/y split compare exactly.
      for (const r of [0, 1, 65_535 * rowsPerGroup, m - 4, m - 1])
        expect(got[r]).toBe(Math.fround(-1.5 * av[r]));
    },
  );

  it('wgtile kernel past 65,535 workgroups (a 1x1 tile of one invocation each) spreads them over x and y', async () => {
    const m = 65_600 + 3;
    const a = tensor(seeded(m, 8), [m, 1]);
    const tile = { tx: 1, ty: 1, rm: 1, rn: 1, kt: 1 };
    const op = {
      ...matmulOp,
      forward: (io: KernelIO) => planGemm(io, {}, { m, n: 1, k: 1 }, { kernel: 'wgtile', tile }),
    };
    const [out] = record(op, [a, tensor([-1.5], [1, 1])], {});
    const [got, av] = await Promise.all([out.data(), a.data()]);
    for (const r of [0, 1, 65_534, 65_535, 65_536, m - 1]) expect(got[r]).toBe(Math.fround(-1.5 * av[r]));
  });
});

it('uses one dispatch per matmul and per dense layer', async () => {
  const x = input([8, 16], 8);
  const w = input([16, 4], 9);
  const b = tensor(seeded(4, 10), [4]);
  flush();
  const before = stats().dispatches;
  await dense(x, w, b).data();
  expect(stats().dispatches - before).toBe(1);
});
