// End-to-end workloads of `npm run bench`: training steps and inference of ResNet/Inception, webgrad vs tfjs.
// Free of Node-only imports: the Node entry (bench/suite.ts) and the browser page both call `suiteRows`.
import type * as Jax from '@jax-js/jax';
import type * as Tf from '@tensorflow/tfjs-core';
import type * as Wg from '../src/index.js';
import type { Engines } from './harness.js';
import { jaxTwin, type JaxTwin } from './jax_models.js';
import type { PeerArch } from './peer_arch.js';
import { nnArch } from './peer_arch_nn.js';
import { countTfjsSubmits, tfjsModel, type TfjsModel } from './tfjs_models.js';
import { zooWorkloads, type ZooMode } from './zoo_workloads.js';

const CLASSES = 10;
const LR = 0.01;
const MOMENTUM = 0.9;
/**
 * Equivalence tolerance: |webgrad - tfjs| <= ATOL * max(1, max|tfjs|) + RTOL * |tfjs|, per tensor. Engines that
 * both match a float64 reference agree here to about 1e-6 of a tensor's largest value (loss, gradients and
 * state after two steps), so this is loose enough for f32 summation order and tight enough to catch a wrong
 * epsilon, momentum or padding.
 */
const ATOL = 1e-4;
const RTOL = 1e-3;
/**
 * Gradients are compared as whole tensors: ||webgrad - tfjs||₂ <= GRAD_RTOL * ||tfjs||₂. Elementwise bounds do
 * not fit them: a ReLU input within float32 rounding of zero (1e-7 in a ResNet of 200,000 activations) is
 * masked on one engine and not on the other, and batch norm's backward spreads that one element's gradient
 * over its channel, moving single elements of upstream weight gradients by about 1%; after the first update
 * the two runs start from slightly different weights and more masks can flip, and whole small tensors (a
 * batch-norm gamma of 16 channels) were seen to move by 1.1% in L2 on llvmpipe. 3% still fails a wrong
 * padding, stride, loss or momentum rule, which move gradients by far more.
 */
const GRAD_RTOL = 3e-2;

/** One workload: a model, a batch size, and whether a step is a training step or an inference pass. */
export interface Workload {
  /** Training workloads have `train` in their name (the convention). */
  name: string;
  train: boolean;
  batch: number;
  /** [H, W, C] of one input image. */
  input: [number, number, number];
  /** The goal for speedup = tfjsMs / webgradMs. */
  targetSpeedup: number;
  /** The webgrad model: image batch in, logits out. */
  build(wg: typeof Wg): Wg.Module;
  /** How the peers spell the model (default NN_TWINS: walking webgrad's nn modules). */
  twins?: Twins;
  /**
   * Training steps the equivalence check compares (default 2: the second one also covers the momentum
   * update); the state is compared after them.
   */
  checkSteps?: 1 | 2;
  /**
   * The torchvision model this workload builds (zoo workloads): when its one-step check fails the fixed
   * tolerances and SuiteOptions.oracle is there, PyTorch decides (see TorchOracle).
   */
  torchArch?: string;
}

/** Each engine's largest relative L2 distance to PyTorch float64 per group of checked tensors. */
export interface OracleDistances {
  loss: number;
  gradients: number;
  parameters: number;
}

/** scripts/peer_oracle.py's verdict: PyTorch float32's distances and each engine's, with its pass. */
export type OracleVerdict = { torch32: OracleDistances } & Partial<
  Record<'webgrad' | 'tfjs' | 'jax-js', OracleDistances & { pass: boolean }>
>;

/**
 * PyTorch as the arbiter of an ill-conditioned check (bench/torch_oracle.ts, Node only). The fixed tolerances
 * below cannot tell a bug from float32 rounding where float32 itself cannot pin a quantity down: on ResNet-50 at
 * 64x64, batch 8, PyTorch's own float32 step is up to 3.6% (relative L2) from its float64 step in 21 of 161
 * gradient tensors, because a ReLU whose pre-activation lies below float32's forward error there (up to 1.7e-4
 * on GoogLeNet's inception5a, pre-activations of 2e-5 seen masked in one engine and not in another) moves a
 * channel by a whole element's gradient. The rule: an engine passes when its largest relative L2 distance to
 * PyTorch float64 over all gradients, and over all parameters after the step, is at most PyTorch float32's own
 * largest distance (the group maxima, as the per-tensor spread is lumpy); webgrad must pass too.
 */
export type TorchOracle = (arch: string, tensors: Map<string, Float32Array>) => OracleVerdict;

/** The peers' versions of a workload's model, built from the webgrad model's current state. */
export interface Twins {
  tfjs(wg: typeof Wg, tf: typeof Tf, model: Wg.Module): Promise<TfjsModel>;
  /** The architecture jax-js runs (bench/jax_models.ts). */
  arch(wg: typeof Wg, model: Wg.Module): PeerArch;
}

/** Twins of webgrad nn models (Network, blocks): tfjs by bench/tfjs_models.ts, jax-js by bench/peer_arch_nn.ts. */
export const NN_TWINS: Twins = { tfjs: tfjsModel, arch: nnArch };

/** The engines of a suite run: webgrad and tfjs always, jax-js unless it is switched off (null). */
export interface SuiteEngines extends Engines {
  jax: typeof Jax | null;
}

export interface SuiteOptions {
  /** Batch of the training steps. */
  trainBatch: number;
  /** Batches of the inference passes. */
  inferBatches: number[];
  /** Untimed steps per engine before timing (after the two steps of the equivalence check). */
  warmup: number;
  /** Timed runs per engine, alternating webgrad and tfjs; the median is reported. */
  runs: number;
  /** Each run takes about this long: its step count comes from one warm step (at least 1, at most 200). */
  targetMs: number;
  /** Only workloads whose name matches run. */
  filter?: RegExp | null;
  /** The torchvision zoo workloads (bench/zoo_workloads.ts): ImageNet size, reduced size or none. */
  zoo: ZooMode;
  /** The goal for jaxMs / webgradMs on this adapter (3 on llvmpipe, 1.5 on SwiftShader), or null. */
  jaxTarget: number | null;
  /**
   * Sees every tensor the equivalence check compares, flat, under `<engine>/<what>` (what as the check names it:
   * `step 1 gradient of fc.weight`, `fc.weight after 1 steps`), and for training workloads the starting point
   * under `start/input`, `start/labels` and `start/<state-dict name>`, in webgrad's layouts (NHWC, HWIO,
   * [in, out]): bench/suite.ts --dump writes them for scripts/peer_oracle.py.
   */
  record?: CheckRecorder;
  /** Decides zoo training rows that fail the fixed tolerances (see TorchOracle); without it they fail. */
  oracle?: TorchOracle;
}

/** Receives one checked tensor of a workload (see SuiteOptions.record). */
export type CheckRecorder = (workload: string, key: string, values: ArrayLike<number>) => void;

/** `npm run bench`: every workload at batch 32 (training) and 1 and 32 (inference). */
export const FULL_OPTIONS: Omit<SuiteOptions, 'zoo' | 'jaxTarget'> = {
  trainBatch: 32,
  inferBatches: [1, 32],
  warmup: 2,
  runs: 7,
  targetMs: 1500,
};

/** `npm run bench -- --quick`: the same workloads and batches, fewer and shorter runs. */
export const QUICK_OPTIONS: Omit<SuiteOptions, 'zoo' | 'jaxTarget'> = {
  trainBatch: 32,
  inferBatches: [1, 32],
  warmup: 1,
  runs: 3,
  targetMs: 400,
};

export interface SuiteRow {
  adapter: string;
  workload: string;
  batch: number;
  /** Median ms per step (training step or inference pass of the batch). */
  webgradMs: number;
  tfjsMs: number;
  /** tfjsMs / webgradMs: above 1 means webgrad is faster. */
  speedup: number;
  targetSpeedup: number;
  /** Fastest and slowest run, ms per step. */
  webgradRangeMs: [number, number];
  tfjsRangeMs: [number, number];
  /** batch / median step time. */
  webgradImagesPerSec: number;
  tfjsImagesPerSec: number;
  /** GPU dispatches and queue submits of one step that reads its loss (training) or its logits. */
  webgradDispatches: number;
  tfjsDispatches: number;
  webgradSubmits: number;
  tfjsSubmits: number;
  /**
   * Each engine's GPU buffer allocation after the row (webgrad live + pooled bytes, tfjs
   * numBytesAllocatedInGPU). Both pool freed buffers and never shrink, so this is the high-water mark of
   * the process so far: an upper bound for this row when rows before it needed more.
   */
  webgradPeakBytes: number;
  tfjsPeakBytes: number;
  /** Timed runs per engine and steps per run. */
  runs: number;
  steps: { webgrad: number; tfjs: number };
  /** The equivalence check: largest |webgrad - tfjs| over loss, gradients and state (training) or logits. */
  maxAbsDiff: number;
  /** Where that largest difference is (a loss, gradient, state entry or the logits). */
  maxAbsDiffIn?: string;
  /** Loss of the first check step on both engines (training only). */
  loss?: { webgrad: number; tfjs: number };
  /** Set when the check failed or an engine threw; the row is then not timed. */
  error?: string;
  /** Set when the fixed tolerances failed and PyTorch decided the check (TorchOracle): what failed, and its verdict. */
  oracle?: { failed: string[]; verdict: OracleVerdict };
  /** The jax-js column; null when jax-js was switched off. */
  jax: JaxColumn | null;
}

/** jax-js on the same workload, checked against webgrad's values with the same tolerances. */
export interface JaxColumn {
  ms: number;
  rangeMs: [number, number];
  imagesPerSec: number;
  /** jaxMs / webgradMs: above 1 means webgrad is faster. */
  speedup: number;
  target: number | null;
  steps: number;
  maxAbsDiff: number;
  maxAbsDiffIn?: string;
  loss?: number;
  /** Set when jax-js threw or disagreed; jax-js is then not timed (the webgrad/tfjs row still is). */
  error?: string;
}

/**
 * The workloads: the CLI's default models, one residual block and one Inception module of them, then the
 * torchvision zoo models at the size `options.zoo` asks for.
 */
export function workloads(options: SuiteOptions): Workload[] {
  const B = options.trainBatch;
  // A block alone yields a feature map; a pooled dense head turns it into logits for the loss.
  const headed = (wg: typeof Wg, block: Wg.Module, features: number, input: [number, number, number]) =>
    new wg.Network(
      { ...wg.nn.RESNET_DEFAULTS, inputShape: input, classes: CLASSES },
      new wg.nn.Sequential(block),
      features,
    );
  const list: Workload[] = [
    {
      // A downsampling stage's first block: 16 → 32 channels, stride 2, 1x1 projection shortcut.
      name: `resnet-block train b${B}`,
      train: true,
      batch: B,
      input: [28, 28, 16],
      targetSpeedup: 2,
      build: (wg) => headed(wg, new wg.nn.ResidualBlock(16, 32, { stride: 2, seed: 1 }), 32, [28, 28, 16]),
    },
    {
      // The default Inception's first module, on the 14x14x32 map it sees after the stem and max pool.
      name: `inception-module train b${B}`,
      train: true,
      batch: B,
      input: [14, 14, 32],
      targetSpeedup: 2,
      build: (wg) => {
        const block = new wg.nn.InceptionBlock(32, wg.nn.INCEPTION_DEFAULTS.stages[0][0], { seed: 1 });
        return headed(wg, block, block.outChannels, [14, 14, 32]);
      },
    },
    {
      name: `resnet train b${B}`,
      train: true,
      batch: B,
      input: [28, 28, 1],
      targetSpeedup: 2,
      build: (wg) => wg.resnet(),
    },
    {
      name: `inception train b${B}`,
      train: true,
      batch: B,
      input: [28, 28, 1],
      targetSpeedup: 2,
      build: (wg) => wg.inception(),
    },
    mobileNetBlockWorkload(B, headed),
  ];
  for (const kind of ['resnet', 'inception'] as const) {
    for (const b of options.inferBatches) {
      list.push({
        name: `${kind} infer b${b}`,
        train: false,
        batch: b,
        input: [28, 28, 1],
        targetSpeedup: b === 1 ? 1 : 1.5,
        build: (wg) => (kind === 'resnet' ? wg.resnet() : wg.inception()),
      });
    }
  }
  list.push(...zooWorkloads(options.zoo, CLASSES));
  return options.filter ? list.filter((w) => options.filter!.test(w.name)) : list;
}

/**
 * A MobileNet v1 block (depthwise 3x3 + BN + ReLU6, pointwise 1x1 + BN + ReLU), 32 → 64 channels on a 28x28
 * map, under the pooled dense head: the depthwise kernels in a training step.
 */
function mobileNetBlockWorkload(
  B: number,
  headed: (wg: typeof Wg, block: Wg.Module, features: number, input: [number, number, number]) => Wg.Network,
): Workload {
  const input: [number, number, number] = [28, 28, 32];
  return {
    name: `mobilenet-block train b${B}`,
    train: true,
    batch: B,
    input,
    targetSpeedup: 2,
    build: (wg) => {
      const { nn } = wg;
      const block = new nn.Sequential(
        new nn.DepthwiseConv2d(32, 3, { bias: false, seed: 1 }),
        new nn.BatchNorm2d(32),
        new nn.ReLU6(),
        new nn.Conv2d(32, 64, 1, { bias: false, seed: 2 }),
        new nn.BatchNorm2d(64),
        new nn.ReLU(),
      );
      return headed(wg, block, 64, input);
    },
  };
}

/** Largest |got - ref| and the first element outside the tolerance, if any; `peer` names `ref` in the message. */
function compare(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  peer: string,
): { maxAbsDiff: number; bad: string } {
  if (got.length !== ref.length)
    return { maxAbsDiff: Infinity, bad: `lengths ${got.length} vs ${ref.length}` };
  let scale = 0;
  for (let i = 0; i < ref.length; i++) scale = Math.max(scale, Math.abs(ref[i]));
  let maxAbsDiff = 0;
  let bad = '';
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    if (!(d <= ATOL * Math.max(1, scale) + RTOL * Math.abs(ref[i])) && !bad) {
      bad = `[${i}] webgrad ${got[i]}, ${peer} ${ref[i]}`;
    }
    if (!(d <= maxAbsDiff)) maxAbsDiff = d;
  }
  return { maxAbsDiff, bad };
}

/** Relative L2 distance ||got - ref|| / ||ref|| (0 for two zero tensors). */
function relativeL2(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < ref.length; i++) {
    diff += (got[i] - ref[i]) ** 2;
    norm += ref[i] ** 2;
  }
  return diff === 0 ? 0 : Math.sqrt(diff / norm);
}

/** Collects comparisons of webgrad's tensors with one peer's; the first mismatch becomes the error. */
class Check {
  maxAbsDiff = 0;
  error = '';

  /** The tensor with the largest difference. */
  worst = '';

  constructor(
    private readonly peer: string,
    private readonly record?: (key: string, values: ArrayLike<number>) => void,
  ) {}

  /** Values are checked element by element; gradients (`gradient` true) as whole tensors, see GRAD_RTOL. */
  add(what: string, got: ArrayLike<number>, ref: ArrayLike<number>, gradient = false): void {
    this.record?.(`webgrad/${what}`, got);
    this.record?.(`${this.peer}/${what}`, ref);
    const c = compare(got, ref, this.peer);
    if (gradient && got.length === ref.length) {
      const rel = relativeL2(got, ref);
      c.bad = rel <= GRAD_RTOL ? '' : `relative L2 distance ${rel.toExponential(2)} > ${GRAD_RTOL}`;
    }
    if (!(c.maxAbsDiff <= this.maxAbsDiff)) {
      this.maxAbsDiff = c.maxAbsDiff;
      this.worst = what;
    }
    if (c.bad && !this.error)
      this.error = `${what} differs (max |diff| ${c.maxAbsDiff.toExponential(2)}): ${c.bad}`;
  }
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A workload's jax-js half and the check of its values against webgrad's. */
interface JaxSide {
  twin: JaxTwin | null;
  check: Check;
  /** Loss of the first check step (training only). */
  loss?: number;
  /** jax-js threw or disagreed: it is then left out of the timing. */
  error?: string;
}

/** Runs `f` on the jax-js half unless it is off or has failed; a throw becomes the half's error. */
async function onJax(side: JaxSide | null, f: (twin: JaxTwin, c: Check) => Promise<void>): Promise<void> {
  if (!side?.twin || side.error) return;
  try {
    await f(side.twin, side.check);
  } catch (e) {
    side.error = errorMessage(e);
  }
}

/** The engines' halves of one workload, ready to check and time. */
interface Pair {
  /** Checks tfjs against webgrad into `c`, jax-js (when on) into its own check. */
  check(c: Check): Promise<{ webgrad: number; tfjs: number } | undefined>;
  /** Runs `k` steps on one engine, then waits for the last step's output. */
  webgrad(k: number): Promise<void>;
  tfjs(k: number): Promise<void>;
  /** null when jax-js is off. */
  jax: JaxSide | null;
  dispose(): void;
}

/** The seeded batch (webgrad's Rng): images in [-1, 1) and labels in [0, CLASSES). */
function batchData(wg: typeof Wg, w: Workload): { x: Float32Array; labels: Int32Array } {
  const rng = new wg.Rng(7);
  const x = Float32Array.from(
    { length: w.batch * w.input[0] * w.input[1] * w.input[2] },
    () => rng.next() * 2 - 1,
  );
  const labels = Int32Array.from({ length: w.batch }, () => rng.int(CLASSES));
  return { x, labels };
}

async function preparePair(
  engines: SuiteEngines,
  w: Workload,
  record: ((key: string, values: ArrayLike<number>) => void) | undefined,
): Promise<Pair> {
  const { wg, tf } = engines;
  const twins = w.twins ?? NN_TWINS;
  const model = w.build(wg);
  if (!w.train) model.eval();
  const twin: TfjsModel = await twins.tfjs(wg, tf, model);
  const { x, labels } = batchData(wg, w);
  const shape = [w.batch, ...w.input];
  if (record && w.train) {
    record('start/input', x);
    record('start/labels', labels);
    for (const [name, t] of Object.entries(model.stateDict())) record(`start/${name}`, await t.data());
  }
  let jax: JaxSide | null = null;
  if (engines.jax) {
    jax = { twin: null, check: new Check('jax-js', record) };
    try {
      jax.twin = await jaxTwin(
        engines.jax,
        model,
        twins.arch(wg, model),
        { x, shape, labels },
        { train: w.train, classes: CLASSES, lr: LR, momentum: MOMENTUM },
      );
    } catch (e) {
      jax.error = errorMessage(e);
    }
  }
  const wx = wg.tensor(x, shape);
  const wy = wg.tensor(labels, [w.batch], { dtype: 'int32' });
  const tx = tf.tensor(x, shape);
  const ty = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES), 'float32'));
  const disposeData = () => {
    [wx, wy, tx, ty].forEach((t) => t.dispose());
    jax?.twin?.dispose();
  };
  return w.train
    ? trainingPair(engines, model, twin, jax, w.checkSteps ?? 2, { wx, wy, tx, ty }, disposeData)
    : inferencePair(engines, model, twin, jax, { wx, tx }, disposeData);
}

function trainingPair(
  engines: Engines,
  model: Wg.Module,
  twin: TfjsModel,
  jax: JaxSide | null,
  checkSteps: number,
  d: { wx: Wg.Tensor; wy: Wg.Tensor; tx: Tf.Tensor; ty: Tf.Tensor },
  disposeData: () => void,
): Pair {
  const { wg, tf } = engines;
  const named = model.namedParameters();
  const opt = new wg.SGD(
    named.map(([, p]) => p),
    { lr: LR, momentum: MOMENTUM },
  );
  const tfOpt = tf.train.momentum(LR, MOMENTUM);
  /** Forward, loss and backward, as webgrad's fit() records them; the gradients land in `p.grad`. */
  const wgLoss = () =>
    wg.tidy(() => {
      const loss = wg.softmaxCrossEntropy(model.forward(d.wx), d.wy);
      loss.backward();
      return loss;
    });
  const tfLoss = () => tf.losses.softmaxCrossEntropy(d.ty, twin.forward(d.tx, true)) as Tf.Scalar;
  return {
    async check(c) {
      let first: { webgrad: number; tfjs: number } | undefined;
      // checkSteps steps, two by default: the second one also covers the first update (momentum starts there).
      for (let step = 1; step <= checkSteps; step++) {
        const loss = wgLoss();
        const wl = await loss.data();
        loss.dispose();
        const wgGrads: Float32Array[] = [];
        for (const [, p] of named) wgGrads.push(await p.grad!.data());
        const { value, grads } = tf.variableGrads(tfLoss, twin.trainable);
        const tl = (await value.data()) as Float32Array;
        value.dispose();
        first ??= { webgrad: wl[0], tfjs: tl[0] };
        c.add(`step ${step} loss`, wl, tl);
        for (let i = 0; i < named.length; i++) {
          const g = grads[twin.trainable[i].name];
          c.add(
            `step ${step} gradient of ${named[i][0]}`,
            wgGrads[i],
            (await g.data()) as Float32Array,
            true,
          );
        }
        await onJax(jax, async (t, jc) => {
          const r = await t.checkStep();
          jax!.loss ??= r.loss[0];
          jc.add(`step ${step} loss`, wl, r.loss);
          named.forEach(([name], i) =>
            jc.add(`step ${step} gradient of ${name}`, wgGrads[i], r.grads.get(name) ?? [], true),
          );
        });
        opt.step();
        opt.zeroGrad();
        tfOpt.applyGradients(twin.trainable.map((v) => ({ name: v.name, tensor: grads[v.name] })));
        Object.values(grads).forEach((g) => g.dispose());
      }
      // Updated parameters and running statistics after the two steps.
      const state = new Map<string, Float32Array>();
      for (const [name, t] of Object.entries(model.stateDict())) state.set(name, await t.data());
      for (const [name, values] of state) {
        c.add(
          `${name} after ${checkSteps} steps`,
          values,
          (await twin.variables.get(name)!.data()) as Float32Array,
        );
      }
      await onJax(jax, async (t, jc) => {
        const peer = await t.state();
        for (const [name, values] of state)
          jc.add(`${name} after ${checkSteps} steps`, values, peer.get(name) ?? []);
      });
      return first;
    },
    async webgrad(k) {
      let read: Promise<Float32Array> | null = null;
      for (let i = 0; i < k; i++) {
        const loss = wgLoss();
        // Read with the step's own submit, as fit() does.
        if (i === k - 1) read = loss.dataOnFlush();
        opt.step();
        opt.zeroGrad();
        loss.dispose();
      }
      await read;
    },
    async tfjs(k) {
      let cost: Tf.Scalar | null = null;
      for (let i = 0; i < k; i++) {
        cost?.dispose();
        cost = tf.tidy(() => tfOpt.minimize(tfLoss, true, twin.trainable)!);
      }
      await cost!.data();
      cost!.dispose();
    },
    jax,
    dispose() {
      // The optimizer's state buffers are its own; once it is dropped they go too.
      Object.values(opt.stateDict()).forEach((t) => t.dispose());
      tfOpt.dispose();
      model.dispose();
      twin.dispose();
      disposeData();
    },
  };
}

function inferencePair(
  engines: Engines,
  model: Wg.Module,
  twin: TfjsModel,
  jax: JaxSide | null,
  d: { wx: Wg.Tensor; tx: Tf.Tensor },
  disposeData: () => void,
): Pair {
  const { wg, tf } = engines;
  return {
    async check(c) {
      const out = wg.tidy(() => model.forward(d.wx));
      const ref = tf.tidy(() => twin.forward(d.tx, false));
      const got = await out.data();
      c.add('logits', got, (await ref.data()) as Float32Array);
      out.dispose();
      ref.dispose();
      await onJax(jax, async (t, jc) => jc.add('logits', got, await t.logits()));
      return undefined;
    },
    async webgrad(k) {
      let out: Wg.Tensor | null = null;
      for (let i = 0; i < k; i++) {
        // Disposing the previous output after its submit only returns its buffer for later reuse.
        out?.dispose();
        out = wg.tidy(() => model.forward(d.wx));
        if (i < k - 1) wg.flush();
      }
      await out!.data();
      out!.dispose();
    },
    async tfjs(k) {
      let out: Tf.Tensor | null = null;
      for (let i = 0; i < k; i++) {
        out?.dispose();
        out = tf.tidy(() => twin.forward(d.tx, false));
      }
      await out!.data();
      out!.dispose();
    },
    jax,
    dispose() {
      model.dispose();
      twin.dispose();
      disposeData();
    },
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function msPerStep(run: (k: number) => Promise<void>, k: number): Promise<number> {
  const t0 = performance.now();
  await run(k);
  return (performance.now() - t0) / k;
}

/** Steps that fill a run of about `targetMs`, from one warm step (at least 1, at most 200). */
function stepsPerRun(options: SuiteOptions, once: number): number {
  return Math.max(1, Math.min(200, Math.round(options.targetMs / Math.max(once, 1e-3))));
}

/** The jax-js column of a row once its half has been checked and (unless it failed) timed. */
function jaxColumn(
  side: JaxSide,
  w: Workload,
  options: SuiteOptions,
  times: number[],
  steps: number,
): JaxColumn {
  const ms = times.length > 0 ? median(times) : NaN;
  return {
    ms,
    rangeMs: times.length > 0 ? [Math.min(...times), Math.max(...times)] : [NaN, NaN],
    imagesPerSec: (1000 * w.batch) / ms,
    speedup: NaN,
    target: options.jaxTarget,
    steps,
    maxAbsDiff: side.check.maxAbsDiff,
    maxAbsDiffIn: side.check.worst || undefined,
    loss: side.loss,
    error: side.error,
  };
}

/**
 * PyTorch's decision on a zoo row that failed the fixed tolerances (TorchOracle): the failures of engines that
 * pass are cleared; a failing loss is never arbitrated (it is well-conditioned), and if webgrad itself fails
 * against PyTorch the row's error says so.
 */
function arbitrate(
  row: SuiteRow,
  check: Check,
  jax: JaxSide | null,
  tensors: Map<string, Float32Array>,
  w: Workload,
  oracle: TorchOracle,
): void {
  const checks: [Check, 'tfjs' | 'jax-js'][] = [[check, 'tfjs']];
  if (jax && !jax.error) checks.push([jax.check, 'jax-js']);
  const failed = checks.filter(([c]) => c.error && !c.error.includes(' loss differs'));
  if (failed.length === 0) return;
  const verdict = oracle(w.torchArch!, tensors);
  row.oracle = { failed: failed.map(([c, peer]) => `${peer}: ${c.error}`), verdict };
  const far = (who: 'webgrad' | 'tfjs' | 'jax-js') => {
    const v = verdict[who]!;
    return (
      `${who} differs from PyTorch float64 by more than PyTorch float32 does (largest relative L2: gradients ` +
      `${v.gradients.toExponential(2)} vs ${verdict.torch32.gradients.toExponential(2)}, parameters ` +
      `${v.parameters.toExponential(2)} vs ${verdict.torch32.parameters.toExponential(2)})`
    );
  };
  if (!verdict.webgrad?.pass) {
    check.error = far('webgrad');
    return;
  }
  for (const [c, peer] of failed) c.error = verdict[peer]?.pass ? '' : far(peer);
}

/** Checks, then times one workload on every engine; failures are reported in the row, not thrown. */
export async function runWorkload(
  engines: SuiteEngines,
  adapter: string,
  w: Workload,
  options: SuiteOptions,
): Promise<SuiteRow> {
  const { wg, tf } = engines;
  const tfjsSubmits = countTfjsSubmits(tf);
  const row: SuiteRow = {
    adapter,
    workload: w.name,
    batch: w.batch,
    webgradMs: NaN,
    tfjsMs: NaN,
    speedup: NaN,
    targetSpeedup: w.targetSpeedup,
    webgradRangeMs: [NaN, NaN],
    tfjsRangeMs: [NaN, NaN],
    webgradImagesPerSec: NaN,
    tfjsImagesPerSec: NaN,
    webgradDispatches: NaN,
    tfjsDispatches: NaN,
    webgradSubmits: NaN,
    tfjsSubmits: NaN,
    webgradPeakBytes: NaN,
    tfjsPeakBytes: NaN,
    runs: 0,
    steps: { webgrad: 0, tfjs: 0 },
    maxAbsDiff: NaN,
    jax: null,
  };
  let pair: Pair | null = null;
  const jaxTimes: number[] = [];
  let jaxSteps = 0;
  try {
    const { record, oracle } = options;
    const arbitrated = oracle && w.train && w.torchArch ? new Map<string, Float32Array>() : null;
    const recordRow =
      record || arbitrated
        ? (key: string, values: ArrayLike<number>) => {
            record?.(w.name, key, values);
            arbitrated?.set(key, Float32Array.from(values));
          }
        : undefined;
    pair = await preparePair(engines, w, recordRow);
    const p = pair;
    const check = new Check('tfjs', recordRow);
    row.loss = await p.check(check);
    row.maxAbsDiff = check.maxAbsDiff;
    row.maxAbsDiffIn = check.worst;
    if (arbitrated && (check.error || p.jax?.check.error))
      arbitrate(row, check, p.jax, arbitrated, w, oracle!);
    if (p.jax && !p.jax.error && p.jax.check.error) p.jax.error = p.jax.check.error;
    if (check.error) {
      row.error = check.error;
      return row;
    }
    // One warm step per engine, counted: its dispatches and submits, and how many steps fill a run.
    await p.webgrad(1);
    await p.tfjs(1);
    await onJax(p.jax, (t) => t.run(1));
    const wgBefore = wg.stats();
    const wgOnce = await msPerStep((k) => p.webgrad(k), 1);
    const wgAfter = wg.stats();
    row.webgradDispatches = wgAfter.dispatches - wgBefore.dispatches;
    row.webgradSubmits = wgAfter.submits - wgBefore.submits;
    const [tfDispatches, tfSubmits] = [engines.tfjsDispatches(), tfjsSubmits()];
    const tfOnce = await msPerStep((k) => p.tfjs(k), 1);
    row.tfjsDispatches = engines.tfjsDispatches() - tfDispatches;
    row.tfjsSubmits = tfjsSubmits() - tfSubmits;
    await onJax(p.jax, async (t) => {
      jaxSteps = stepsPerRun(options, await msPerStep((k) => t.run(k), 1));
    });
    if (options.warmup > 0) {
      await p.webgrad(options.warmup);
      // Shapes met for the first time are tuned in the background: time the kernels the tuner chose.
      await engines.wg.tuned();
      await p.tfjs(options.warmup);
      await onJax(p.jax, (t) => t.run(options.warmup));
    }
    row.steps = { webgrad: stepsPerRun(options, wgOnce), tfjs: stepsPerRun(options, tfOnce) };
    const wgTimes: number[] = [];
    const tfTimes: number[] = [];
    // Alternating runs: a load change on a shared machine hits every engine alike.
    for (let r = 0; r < options.runs; r++) {
      wgTimes.push(await msPerStep((k) => p.webgrad(k), row.steps.webgrad));
      tfTimes.push(await msPerStep((k) => p.tfjs(k), row.steps.tfjs));
      await onJax(p.jax, async (t) => {
        jaxTimes.push(await msPerStep((k) => t.run(k), jaxSteps));
      });
    }
    row.runs = options.runs;
    row.webgradMs = median(wgTimes);
    row.tfjsMs = median(tfTimes);
    row.webgradRangeMs = [Math.min(...wgTimes), Math.max(...wgTimes)];
    row.tfjsRangeMs = [Math.min(...tfTimes), Math.max(...tfTimes)];
    row.speedup = row.tfjsMs / row.webgradMs;
    row.webgradImagesPerSec = (1000 * w.batch) / row.webgradMs;
    row.tfjsImagesPerSec = (1000 * w.batch) / row.tfjsMs;
    const s = wg.stats();
    row.webgradPeakBytes = s.liveBytes + s.pooledBytes;
    row.tfjsPeakBytes = (tf.memory() as { numBytesAllocatedInGPU?: number }).numBytesAllocatedInGPU ?? NaN;
  } catch (e) {
    row.error = errorMessage(e);
  } finally {
    if (pair?.jax) {
      const timed = pair.jax.error ? [] : jaxTimes;
      row.jax = jaxColumn(pair.jax, w, options, timed, jaxSteps);
      row.jax.speedup = row.jax.ms / row.webgradMs;
    } else if (engines.jax) {
      row.jax = jaxColumn({ check: new Check('jax-js'), twin: null }, w, options, [], 0);
      row.jax.error = row.error ?? 'not run';
    }
    pair?.dispose();
  }
  return row;
}

/**
 * Runs every workload (see `workloads`) on every engine and returns one row each; `onRow` sees each row as
 * it completes. `engines.tfjsDispatches` is bench/harness.ts's counter; the submit counter is hooked here.
 */
export async function suiteRows(
  engines: SuiteEngines,
  adapter: string,
  options: SuiteOptions,
  onRow?: (row: SuiteRow) => void,
): Promise<SuiteRow[]> {
  const rows: SuiteRow[] = [];
  for (const w of workloads(options)) {
    const row = await runWorkload(engines, adapter, w, options);
    onRow?.(row);
    rows.push(row);
  }
  return rows;
}

function fixed(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '-';
}

function mb(bytes: number): string {
  return fixed(bytes / 2 ** 20, 1);
}

/** One line per row: the measurement as the console shows it while the suite runs. */
export function rowLine(r: SuiteRow): string {
  if (r.error) return `${r.workload}: ${r.error}`;
  const jax = !r.jax
    ? ''
    : r.jax.error
      ? `; jax-js: ${r.jax.error}`
      : `; jax-js ${fixed(r.jax.ms, 2)} ms (${fixed(r.jax.speedup, 2)}x)`;
  return (
    `${r.workload}: webgrad ${fixed(r.webgradMs, 2)} ms, tfjs ${fixed(r.tfjsMs, 2)} ms ` +
    `(${fixed(r.speedup, 2)}x, target ${r.targetSpeedup}x); dispatches ${r.webgradDispatches} / ${r.tfjsDispatches}` +
    jax
  );
}

/** The jax-js table: webgrad's time beside jax-js's on the same workloads (rows with a jax-js column). */
function jaxTable(rows: readonly SuiteRow[]): string[] {
  const withJax = rows.filter((r) => r.jax);
  if (withJax.length === 0) return [];
  const lines = [
    '',
    'jax-js (`@jax-js/jax`, WebGPU, jit-compiled steps; batch norm composed from mean and arithmetic), on the',
    'same adapter, checked against webgrad with the same tolerances; jax-js / webgrad = jax-js ms / webgrad ms.',
    '',
    '| workload | webgrad ms | jax-js ms | jax-js / webgrad | target | images/s wg / jax-js | check max abs diff |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of withJax) {
    const j = r.jax!;
    const target =
      j.target === null
        ? '-'
        : `${j.target}x ${j.error || r.error ? '-' : j.speedup >= j.target ? 'met' : 'not met'}`;
    lines.push(
      `| ${r.workload} | ${fixed(r.webgradMs, 2)} | ${fixed(j.ms, 2)} [${fixed(j.rangeMs[0], 1)}-${fixed(j.rangeMs[1], 1)}] | ` +
        `${fixed(j.speedup, 2)}x | ${target} | ${fixed(r.webgradImagesPerSec, 0)} / ${fixed(j.imagesPerSec, 0)} | ` +
        `${Number.isFinite(j.maxAbsDiff) ? j.maxAbsDiff.toExponential(1) : '-'} |`,
    );
  }
  const failed = withJax.filter((r) => r.jax!.error && !r.error);
  if (failed.length > 0) {
    lines.push('', 'jax-js not timed:');
    for (const r of failed) lines.push(`- ${r.workload}: ${r.jax!.error}`);
  }
  return lines;
}

/** The results as a markdown table, titled with the adapter and date. */
export function suiteTable(adapter: string, date: string, rows: readonly SuiteRow[]): string {
  const lines = [
    `Adapter: ${adapter}. Date: ${date}.`,
    'Median ms per step over timed runs (fastest-slowest in brackets); speedup = tfjs / webgrad. Dispatches',
    'and submits: one step including the read of its loss or logits. Peak MB: GPU buffers allocated so far.',
    '',
    '| workload | webgrad ms | tfjs ms | speedup | target | images/s wg / tfjs | dispatches wg / tfjs | submits wg / tfjs | peak MB wg / tfjs | check max abs diff |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const met = r.speedup >= r.targetSpeedup ? 'met' : 'not met';
    lines.push(
      `| ${r.workload} | ${fixed(r.webgradMs, 2)} [${fixed(r.webgradRangeMs[0], 1)}-${fixed(r.webgradRangeMs[1], 1)}] | ` +
        `${fixed(r.tfjsMs, 2)} [${fixed(r.tfjsRangeMs[0], 1)}-${fixed(r.tfjsRangeMs[1], 1)}] | ` +
        `${fixed(r.speedup, 2)}x | ${r.targetSpeedup}x ${r.error ? '-' : met} | ` +
        `${fixed(r.webgradImagesPerSec, 0)} / ${fixed(r.tfjsImagesPerSec, 0)} | ` +
        `${fixed(r.webgradDispatches, 0)} / ${fixed(r.tfjsDispatches, 0)} | ${fixed(r.webgradSubmits, 0)} / ${fixed(r.tfjsSubmits, 0)} | ` +
        `${mb(r.webgradPeakBytes)} / ${mb(r.tfjsPeakBytes)} | ${r.maxAbsDiff.toExponential(1)} |`,
    );
  }
  const failed = rows.filter((r) => r.error);
  if (failed.length > 0) {
    lines.push('', 'Not timed:');
    for (const r of failed) lines.push(`- ${r.workload}: ${r.error}`);
  }
  lines.push(...jaxTable(rows));
  return lines.join('\n');
}
