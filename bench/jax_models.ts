// jax-js twins of the bench models, written as a jax-js user would: NCHW/OIHW arrays, pure functions over a
// parameter tree, jit(valueAndGrad(loss)) and an SGD-momentum update inside one jitted training step.
// jax-js 0.1.25 has no batch norm op: it is composed from mean, square, sqrt and broadcasting arithmetic.
import type * as Jax from '@jax-js/jax';
import type * as Wg from '../src/index.js';
import { poolPads, type ConvPadding, type PeerArch, type PeerOps } from './peer_arch.js';

type JaxArray = Jax.numpy.Array;
type Tree = Record<string, JaxArray>;

/** lax.convGeneralDilated's padding for a peer padding ('SAME' puts the odd pixel after, as TensorFlow). */
function convPad(p: ConvPadding): 'SAME' | 'VALID' | [number, number][] {
  if (p === 'same') return 'SAME';
  if (p === 'valid') return 'VALID';
  return [
    [p, p],
    [p, p],
  ];
}

/**
 * The peer op set on NCHW jax-js arrays. `params` and `stats` are consumed as they are read (each entry is used
 * once); in training mode the updated running statistics go to `newStats`.
 */
function jaxOps(
  jax: typeof Jax,
  params: Tree,
  stats: Tree,
  training: boolean,
  newStats: Tree,
): PeerOps<JaxArray> {
  const { numpy: np, lax, nn } = jax;
  const take = (tree: Tree, name: string): JaxArray => {
    const found = tree[name];
    if (!found) throw new Error(`jax_models: the model has no state-dict entry '${name}'`);
    return found;
  };
  const p = (name: string) => take(params, name);
  const channel = (a: JaxArray) => a.reshape([1, -1, 1, 1]);
  return {
    conv(x, weight, o) {
      const d = o.dilation ?? 1;
      // A grouped conv's OIHW filter is [out, in / groups, K, K], as feature_group_count wants it.
      const y = lax.convGeneralDilated(x, p(weight), [o.stride, o.stride], convPad(o.padding), {
        rhsDilation: [d, d],
        featureGroupCount: o.groups ?? 1,
      });
      return o.bias ? y.add(channel(p(o.bias))) : y;
    },
    batchNorm(x, n, epsilon, momentum, runningVarCorrection) {
      const gamma = channel(p(n.gamma));
      const beta = channel(p(n.beta));
      if (!training) {
        const scale = gamma.mul(np.reciprocal(np.sqrt(channel(take(stats, n.variance)).add(epsilon))));
        return x
          .sub(channel(take(stats, n.mean)))
          .mul(scale)
          .add(beta);
      }
      const [batch, , h, w] = x.shape;
      const rows = batch * h * w;
      const mean = np.mean(x.ref, [0, 2, 3], { keepdims: true });
      const centered = x.sub(mean.ref);
      // The biased batch variance (divided by N*H*W), as webgrad's and tf.moments'.
      const variance = np.mean(np.square(centered.ref), [0, 2, 3], { keepdims: true });
      const move = (old: JaxArray, value: JaxArray, scale: number) =>
        old.mul(momentum).add(value.reshape([-1]).mul(scale * (1 - momentum)));
      newStats[n.mean] = move(take(stats, n.mean), mean, 1);
      // The running variance may take the batch variance rescaled to rows - runningVarCorrection.
      newStats[n.variance] = move(
        take(stats, n.variance),
        variance.ref,
        rows / (rows - runningVarCorrection),
      );
      return centered.mul(gamma.mul(np.reciprocal(np.sqrt(variance.add(epsilon))))).add(beta);
    },
    relu: (x) => nn.relu(x),
    relu6: (x) => nn.relu6(x),
    add: (a, b) => a.add(b),
    maxPool(x, size, stride, padding) {
      const [, , h, w] = x.shape;
      const width: [number, number][] = [
        [0, 0],
        [0, 0],
        poolPads(h, size, stride, padding),
        poolPads(w, size, stride, padding),
      ];
      // np.pad pads with zeros: the padding is set to -inf, which a max never picks.
      const padded = width.some(([a, b]) => a + b > 0)
        ? np.where(np.pad(np.ones(x.shape), width).greater(0), np.pad(x, width), -Infinity)
        : x;
      return lax.reduceWindow(padded, (window) => np.max(window), [size, size], [stride, stride]);
    },
    concat: (xs) => np.concatenate(xs, 1),
    globalAvgPool: (x) => np.mean(x, [2, 3]),
    dense(x, weight, bias) {
      const y = np.matmul(x, p(weight));
      return bias ? y.add(p(bias)) : y;
    },
    dup: (x) => x.ref,
  };
}

/** HWIO filters (4-D state entries) become OIHW for jax-js; everything else keeps its layout. */
const TO_JAX = [3, 2, 0, 1];
const FROM_JAX = [2, 3, 1, 0];
/** NHWC images become NCHW. */
const NCHW = [0, 3, 1, 2];

/** A 4-D array's data with its axes permuted on the host (out axis i is input axis perm[i]); returns the new shape too. */
function permute4(
  data: ArrayLike<number>,
  shape: readonly number[],
  perm: readonly number[],
): { data: Float32Array<ArrayBuffer>; shape: number[] } {
  const outShape = perm.map((a) => shape[a]);
  const strides = [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1];
  const [s0, s1, s2, s3] = perm.map((a) => strides[a]);
  const out = new Float32Array(data.length);
  let o = 0;
  for (let i = 0; i < outShape[0]; i++)
    for (let j = 0; j < outShape[1]; j++)
      for (let k = 0; k < outShape[2]; k++)
        for (let l = 0; l < outShape[3]; l++) out[o++] = data[i * s0 + j * s1 + k * s2 + l * s3];
  return { data: out, shape: outShape };
}

/** A state-dict entry as webgrad lays it out, from its jax-js array (consumed). */
async function webgradLayout(a: JaxArray): Promise<Float32Array> {
  return (await (a.ndim === 4 ? a.transpose(FROM_JAX) : a).data()) as Float32Array;
}

export interface JaxTwinOptions {
  train: boolean;
  classes: number;
  lr: number;
  momentum: number;
}

/** A workload's jax-js half: its own parameters, optimizer state and input batch on jax-js's WebGPU device. */
export interface JaxTwin {
  /** Training: the loss and gradients (webgrad names and layouts) at the current parameters, then one update. */
  checkStep(): Promise<{ loss: Float32Array; grads: Map<string, Float32Array> }>;
  /** Inference: the logits of the batch. */
  logits(): Promise<Float32Array>;
  /** Every state-dict entry now, by webgrad name, in webgrad's layout. */
  state(): Promise<Map<string, Float32Array>>;
  /** `k` training steps or inference passes, each dispatched without waiting; then waits for the last. */
  run(k: number): Promise<void>;
  dispose(): void;
}

/**
 * The jax-js twin of `module` written as `arch`, starting from the module's current state, on the batch
 * (`x` NHWC of `shape`, `labels` class indices). Call `jax.init('webgpu')` and `jax.defaultDevice('webgpu')` first.
 */
export async function jaxTwin(
  jax: typeof Jax,
  module: Wg.Module,
  arch: PeerArch,
  batch: { x: Float32Array; shape: readonly number[]; labels: Int32Array },
  options: JaxTwinOptions,
): Promise<JaxTwin> {
  const { numpy: np, nn, tree } = jax;
  const trainable = new Set(module.namedParameters().map(([n]) => n));
  let params: Tree = {};
  let stats: Tree = {};
  for (const [name, t] of Object.entries(module.stateDict())) {
    const values = await t.data();
    const host =
      t.shape.length === 4
        ? permute4(values, t.shape, TO_JAX)
        : { data: Float32Array.from(values), shape: [...t.shape] };
    const value = np.array(host.data).reshape(host.shape);
    if (trainable.has(name)) params[name] = value;
    else stats[name] = value;
  }
  let velocity: Tree = tree.map((a: JaxArray) => np.zerosLike(a), tree.ref(params));
  const n = batch.shape[0];
  const nchw = permute4(batch.x, batch.shape, NCHW);
  const x = np.array(nchw.data).reshape(nchw.shape);
  const onehot = new Float32Array(n * options.classes);
  batch.labels.forEach((label, i) => (onehot[i * options.classes + label] = 1));
  const y = np.array(onehot).reshape([n, options.classes]);
  await jax.blockUntilReady([params, stats, velocity, x, y]);

  /** Mean softmax cross-entropy, with the new running statistics as the auxiliary output. */
  const lossFn = (ps: Tree, ss: Tree, xs: JaxArray, ys: JaxArray): [JaxArray, Tree] => {
    const updated: Tree = {};
    const logits = arch(jaxOps(jax, ps, ss, true, updated), xs);
    const loss = ys.mul(nn.logSoftmax(logits, -1)).sum(-1).mean().neg();
    return [loss, updated];
  };
  /** PyTorch's SGD with momentum (dampening 0), as webgrad's SGD and tf.train.momentum: v = m v + g; p -= lr v. */
  const sgd = (ps: Tree, vs: Tree, gs: Tree): [Tree, Tree] => {
    const v2: Tree = {};
    const p2: Tree = {};
    for (const k of Object.keys(ps)) {
      v2[k] = vs[k].mul(options.momentum).add(gs[k]);
      p2[k] = ps[k].sub(v2[k].ref.mul(options.lr));
    }
    return [p2, v2];
  };
  const gradStep = jax.jit((ps: Tree, ss: Tree, xs: JaxArray, ys: JaxArray) =>
    jax.valueAndGrad(lossFn, { hasAux: true })(ps, ss, xs, ys),
  );
  const update = jax.jit(sgd);
  const trainStep = jax.jit((ps: Tree, vs: Tree, ss: Tree, xs: JaxArray, ys: JaxArray) => {
    const [[loss, ss2], gs] = jax.valueAndGrad(lossFn, { hasAux: true })(tree.ref(ps), ss, xs, ys);
    const [ps2, vs2] = sgd(ps, vs, gs);
    return [loss, ps2, vs2, ss2] as [JaxArray, Tree, Tree, Tree];
  });
  const infer = jax.jit((ps: Tree, ss: Tree, xs: JaxArray) => arch(jaxOps(jax, ps, ss, false, {}), xs));

  return {
    async checkStep() {
      const [[loss, newStats], grads] = gradStep(tree.ref(params), stats, x.ref, y.ref) as [
        [JaxArray, Tree],
        Tree,
      ];
      stats = newStats;
      const read = new Map<string, Float32Array>();
      for (const [k, g] of Object.entries(grads)) read.set(k, await webgradLayout(g.ref));
      [params, velocity] = update(params, velocity, grads) as [Tree, Tree];
      return { loss: (await loss.data()) as Float32Array, grads: read };
    },
    async logits() {
      return (await infer(tree.ref(params), tree.ref(stats), x.ref).data()) as Float32Array;
    },
    async state() {
      const out = new Map<string, Float32Array>();
      for (const [k, a] of Object.entries({ ...params, ...stats })) out.set(k, await webgradLayout(a.ref));
      return out;
    },
    async run(k) {
      // jax-js dispatches lazily (an array's work is submitted when it is read or waited for, and dropped if
      // it is disposed unread), so each step is waited for; the wait on step i - 1 overlaps step i's submit,
      // keeping one step in flight as webgrad and tfjs do.
      let inFlight: Promise<void> | null = null;
      for (let i = 0; i < k; i++) {
        let out: JaxArray;
        if (options.train) {
          [out, params, velocity, stats] = trainStep(params, velocity, stats, x.ref, y.ref) as [
            JaxArray,
            Tree,
            Tree,
            Tree,
          ];
        } else {
          out = infer(tree.ref(params), tree.ref(stats), x.ref);
        }
        const done = out.blockUntilReady().then((a) => a.dispose());
        await inFlight;
        inFlight = done;
      }
      await inFlight;
    },
    dispose() {
      tree.dispose([params, stats, velocity, x, y]);
      for (const f of [gradStep, update, trainStep, infer]) f.dispose();
    },
  };
}

/**
 * Loads jax-js and makes WebGPU its default device (it finds the adapter through `navigator.gpu`: the page's,
 * or in Node the Dawn shim of bench/tfjs_webgpu.ts). Returns jax-js and its device's adapter description.
 */
export async function openJax(): Promise<{ jax: typeof Jax; adapter: string }> {
  const jax = await import('@jax-js/jax');
  if (!(await jax.init('webgpu')).includes('webgpu'))
    throw new Error('jax-js: the webgpu device failed to initialize (no adapter through navigator.gpu)');
  jax.defaultDevice('webgpu');
  const info = jax.getWebGPUDevice().adapterInfo;
  return { jax, adapter: info?.description || info?.device || info?.vendor || '(unnamed adapter)' };
}
