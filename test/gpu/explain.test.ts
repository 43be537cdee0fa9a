// wg.explain: the plan of a forward and of a training step, without running anything; WEBGRAD_DEBUG output.
import { describe, expect, it, vi } from 'vitest';
import {
  Adam,
  DisposedError,
  SGD,
  add,
  batchNorm,
  conv2d,
  explain,
  init,
  release,
  type FusionOptions,
  mean,
  nn,
  ones,
  opTable,
  randn,
  relu,
  resnet,
  softmaxCrossEntropy,
  stats,
  tensor,
  tidy,
  zeros,
  type Tensor,
} from '../../src/index.js';
import { setDebugLevel } from '../../src/graph/plan_text.js';
import { useGpu } from '../helpers.js';

useGpu();

/** conv → batch norm (inference) → relu → add → relu: foldBatchNorm folds the batch norm, the epilogue pass both relus. */
function block(training: boolean) {
  const x = randn([2, 6, 5, 3], { seed: 1 });
  const w = randn([3, 3, 3, 4], { seed: 2, requiresGrad: true });
  const bn = {
    gamma: ones([4], { requiresGrad: true }),
    beta: zeros([4], { requiresGrad: true }),
    runningMean: zeros([4]),
    runningVar: ones([4]),
  };
  // In a tidy scope the intermediates are disposed before the flush, so nothing else holds them.
  const inner = (): Tensor => {
    const h = relu(batchNorm(conv2d(x, w, { padding: 'same' }), { ...bn, training }));
    return relu(add(h, h));
  };
  const forward = (): Tensor => tidy(inner);
  /** Forward and backward in one scope; returns the loss. */
  const lossAndGrads = (): Tensor =>
    tidy(() => {
      const loss = mean(inner());
      loss.backward();
      return loss;
    });
  return { x, w, bn, forward, lossAndGrads };
}

describe('explain', () => {
  it('returns every kernel with the nodes it covers, FLOPs and bytes, and runs nothing', async () => {
    const { forward } = block(false);
    await forward().data(); // uploads the leaves, warms the pipelines
    const before = stats();
    const plan = await explain(() => forward());
    const after = stats();
    expect(after.submits).toBe(before.submits);
    expect(after.dispatches).toBe(before.dispatches);
    const ops = plan.kernels.map((k) => k.nodes.map((n) => n.op).join('+'));
    // The batch norm is folded into the conv (its folded filter cached by the first run), the ReLU stored by it.
    expect(ops).toEqual(['conv2d+batchNormInference+relu', 'add+relu']);
    // The conv's ReLU is an epilogue; add+relu, a chain of two elementwise ops, the elementwise pass's kernel.
    expect(plan.fusions.map((f) => f.pass)).toEqual(['foldBatchNorm', 'elementwise', 'epilogue']);
    expect(plan.passes).toEqual([
      'foldBatchNorm',
      'reluMask',
      'epilogue',
      'elementwise',
      'concatStore',
      'batchNormSingle',
      'groupedUpdate',
    ]);
    const conv = plan.kernels[0];
    // Conv FLOPs from the op's cost rule: 2 * N*OH*OW*Cout * KH*KW*Cin.
    const convCost = opTable.conv2d.cost(
      [
        { shape: [2, 6, 5, 3], dtype: 'float32' },
        { shape: [3, 3, 3, 4], dtype: 'float32' },
      ],
      { stride: [1, 1], padding: 'same', dilation: [1, 1] },
    );
    expect(convCost.flops).toBe(2 * 2 * 6 * 5 * 4 * 3 * 3 * 3);
    // A fused kernel counts the cost rules of every node it covers: the batch norm's 4 and the ReLU's 1 per value.
    expect(conv.flops).toBe(convCost.flops + 5 * 2 * 6 * 5 * 4);
    // Reads x (2*6*5*3 floats), the folded w (3*3*3*4) and bias (4), writes y (2*6*5*4).
    expect(conv.bytesRead).toBe(4 * (2 * 6 * 5 * 3 + 3 * 3 * 3 * 4 + 4));
    expect(conv.bytesWritten).toBe(4 * 2 * 6 * 5 * 4);
    expect(conv.workgroups).toBeGreaterThan(0);
    expect(plan.dispatches).toBe(2);
    expect(plan.peakBytes).toBeGreaterThanOrEqual(plan.memory.startBytes);
    expect(plan.text).toContain('conv2d_fwd_scalar');
    expect(plan.text).toMatch(/2 kernels for 5 nodes/);
    expect(plan.kernels[0].wgsl).toBeUndefined();
  });

  it('leaves nothing of fn pending: its values cannot be read, a later flush runs only new work', async () => {
    const { forward } = block(false);
    let y: Tensor | null = null;
    await explain(() => {
      y = forward();
    });
    await expect(y!.data()).rejects.toThrow(DisposedError);
    await expect(y!.data()).rejects.toThrow(/planned by explain\(\) and never computed/);
    const before = stats();
    const z = forward();
    expect((await z.data()).length).toBe(2 * 6 * 5 * 4);
    expect(stats().dispatches - before.dispatches).toBe(3);
  });

  it('plans a training step with its optimizer update and changes no parameter', async () => {
    const { w, bn, lossAndGrads } = block(true);
    const opt = new SGD([w, bn.gamma, bn.beta], { lr: 0.1 });
    const w0 = await w.data();
    const rm0 = await bn.runningMean.data();
    const plan = await explain(async () => {
      lossAndGrads();
      await opt.step();
      opt.zeroGrad();
    });
    expect(plan.flushes.length).toBe(1);
    const shaders = plan.kernels.map((k) => k.shader);
    expect(shaders).toContain('optimizer_update');
    expect(shaders.some((s) => s.startsWith('conv2d_bpf'))).toBe(true);
    expect(shaders.some((s) => s.startsWith('conv2d_bpi'))).toBe(false); // x needs no gradient
    expect(plan.nodes).toBeGreaterThan(plan.fusions.length);
    expect(Array.from(await w.data())).toEqual(Array.from(w0));
    expect(Array.from(await bn.runningMean.data())).toEqual(Array.from(rm0));
    // The step still runs for real afterwards and changes w.
    lossAndGrads();
    await opt.step();
    opt.zeroGrad();
    expect(Array.from(await w.data())).not.toEqual(Array.from(w0));
  });

  it('includes the WGSL of each kernel on request and refuses bad options', async () => {
    const { forward } = block(false);
    const plan = await explain(() => forward(), { wgsl: true });
    // A fresh block: kernel 0 folds its batch norm, kernel 1 the conv with its generated epilogue (ops/epilogue.ts).
    expect(plan.kernels[0].wgsl).toContain('fn main');
    expect(plan.kernels[1].wgsl).toContain('fn epilogue(acc: f32');
    expect(plan.text).toContain('--- kernel 0: batch_norm_fold');
    await expect(explain(() => forward(), { wgsl: 1 } as never)).rejects.toThrow(
      /option 'wgsl' must be a boolean/,
    );
    await expect(explain(() => forward(), { wsgl: true } as never)).rejects.toThrow(/unknown option 'wsgl'/);
  });

  it('WEBGRAD_DEBUG prints a line per flush at level 1 and the kernel table at level 2', async () => {
    const { forward } = block(false);
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((s: string) => void lines.push(s));
    try {
      setDebugLevel(1);
      await forward().data();
      setDebugLevel(2);
      await forward().data();
    } finally {
      setDebugLevel(0);
      spy.mockRestore();
    }
    expect(lines.length).toBe(2);
    expect(lines[0]).toMatch(/^\[webgrad\] flush: 3 kernels for 5 nodes/);
    expect(lines[1]).toContain('shader');
    expect(lines[1]).toContain('batchNormInference#');
  });

  it('switches fusion passes one by one: false is all off, true and {} all on', async () => {
    const kernels = async (fusion: FusionOptions) => {
      release();
      await init({ poisonBuffers: true, fusion });
      const plan = await explain(() => block(false).forward());
      return plan.kernels.map((k) => k.nodes.map((n) => n.op).join('+'));
    };
    const unfused = ['conv2d', 'batchNormInference', 'relu', 'add', 'relu'];
    // A fresh block: its folded filter is computed in this flush (batchNormFold), then cached.
    const fused = ['batchNormFold', 'conv2d+batchNormInference+relu', 'add+relu'];
    try {
      const off = { epilogue: false, foldBatchNorm: false, elementwise: false, reluMask: false };
      expect(await kernels(off)).toEqual(unfused);
      expect(await kernels(false)).toEqual(unfused);
      expect(await kernels({ foldBatchNorm: false })).toEqual(['conv2d+batchNormInference+relu', 'add+relu']);
      // Without epilogues the first ReLU joins the elementwise chain (its output is read by the add alone).
      expect(await kernels({ epilogue: false })).toEqual([
        'batchNormFold',
        'conv2d+batchNormInference',
        'relu+add+relu',
      ]);
      expect(await kernels({ epilogue: false, foldBatchNorm: false })).toEqual([
        'conv2d',
        'batchNormInference',
        'relu+add+relu',
      ]);
      expect(await kernels({ elementwise: false })).toEqual(fused);
      expect(await kernels({ epilogue: true })).toEqual(fused);
      expect(await kernels({})).toEqual(fused);
      expect(await kernels(true)).toEqual(fused);
      await expect(init({ fusion: { epilogue: false } })).rejects.toThrow(/already open with other fusion/);
      await expect(init({ fusion: { epilogue: true } })).resolves.toBeDefined();
      release();
      await expect(init({ fusion: { epilog: true } as never })).rejects.toThrow(
        /init: option 'fusion': unknown option 'epilog' \(known: foldBatchNorm, reluMask, epilogue, elementwise/,
      );
      await expect(init({ fusion: { epilogue: 1 } as never })).rejects.toThrow(
        /fusion pass 'epilogue' must be a boolean/,
      );
    } finally {
      release();
      await init({ poisonBuffers: true });
    }
  });
});

describe('explain leaves the host state as it was', () => {
  /** Two Adam steps of a small ResNet from seed 1; with `explainFirst`, a backward and a whole step explained before. */
  async function twoSteps(explainFirst: boolean): Promise<Float32Array[]> {
    const model = resnet({ inputShape: [8, 8, 1], classes: 3, seed: 1, widths: [4, 8, 8] });
    const opt = new Adam(model.parameters(), { lr: 0.01 });
    const x = tensor(
      new Float32Array(2 * 64).map((_, i) => Math.sin(i)),
      [2, 8, 8, 1],
    );
    const y = tensor(new Int32Array([0, 2]), [2], { dtype: 'int32' });
    const backward = () => tidy(() => softmaxCrossEntropy(model.forward(x), y).backward());
    const step = () => {
      backward();
      opt.step();
      opt.zeroGrad();
    };
    if (explainFirst) {
      await explain(backward); // leaves .grad set, as a real backward would
      await explain(step);
    }
    step();
    step();
    const out = await Promise.all(model.parameters().map((p) => p.data()));
    model.dispose();
    for (const t of [x, y]) t.dispose();
    return out;
  }

  it('gradients, optimizer step counts and state: explained steps change none of them', async () => {
    const plain = await twoSteps(false);
    const explained = await twoSteps(true);
    // Before the undo log, the explained backward's never-computed gradient and Adam's advanced step count
    // silently changed the next real steps.
    expect(explained.map((p) => Array.from(p))).toEqual(plain.map((p) => Array.from(p)));
  }, 60_000);

  it('a real gradient held before explain() is still readable after it, with its values', async () => {
    const w = randn([4, 3], { seed: 2 });
    w.requiresGrad = true;
    tidy(() => mean(relu(w)).backward());
    const before = Array.from(await w.grad!.data());
    await explain(() => tidy(() => mean(relu(w)).backward()));
    await explain(() => new nn.Dropout(0.5, 3).zeroGrad());
    expect(Array.from(await w.grad!.data())).toEqual(before);
    w.dispose();
  });

  it("a seeded Dropout's call count: the first real call after explain() draws the first mask", async () => {
    const x = ones([64]);
    const fresh = new nn.Dropout(0.5, 7);
    const expected = await fresh.forward(x).data();
    const drop = new nn.Dropout(0.5, 7);
    await explain(() => drop.forward(x));
    expect(Array.from(await drop.forward(x).data())).toEqual(Array.from(expected));
    x.dispose();
  });
});
