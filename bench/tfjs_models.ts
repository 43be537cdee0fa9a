// tfjs twins of webgrad modules: the same weights as tf.variables and the same ops, written as a tfjs user would.
import type * as Tf from '@tensorflow/tfjs-core';
import type * as Wg from '../src/index.js';

/** A webgrad module rebuilt in tfjs: its state as variables and a forward pass over the same structure. */
export interface TfjsModel {
  /** Every state-dict entry (parameters and batch-norm running statistics) by its webgrad name. */
  readonly variables: ReadonlyMap<string, Tf.Variable>;
  /** The trainable variables, in the order of the webgrad module's `namedParameters()`. */
  readonly trainable: Tf.Variable[];
  /** Their webgrad names, index for index with `trainable`. */
  readonly trainableNames: string[];
  /**
   * Logits of a batch. In training mode batch norm uses the batch statistics and assigns the running
   * averages (as tf.layers' BatchNormalization does); in inference mode it uses the running averages.
   * Shapes: x [N,H,W,C] → [N,classes] for a Network (a block's own output shape otherwise).
   */
  forward(x: Tf.Tensor, training: boolean): Tf.Tensor;
  dispose(): void;
}

/** Reads a field TypeScript marks private: a module's options (stride, epsilon, ...) the tfjs graph must mirror. */
function hidden<T>(m: object, field: string): T | undefined {
  return (m as Record<string, unknown>)[field] as T | undefined;
}

/** tfjs's name for a webgrad 'same' / 'valid' padding; explicit paddings are not used by the models. */
function padding(p: Wg.Padding | undefined, where: string): 'same' | 'valid' {
  if (p === undefined || p === 'same' || p === 'valid') return p ?? 'same';
  throw new Error(`tfjs_models: ${where} has explicit padding ${JSON.stringify(p)}, which is not mirrored`);
}

/**
 * Builds the tfjs twin of `module` (a Network, Sequential, ResidualBlock, InceptionBlock, ConvBN or a basic
 * layer, DepthwiseConv2d and ReLU6 included) with variables holding the module's current values, read with `await t.data()`. `wg` supplies the
 * module classes, so this works with webgrad from src/ (Node) or from dist/ (the browser page).
 */
export async function tfjsModel(wg: typeof Wg, tf: typeof Tf, module: Wg.Module): Promise<TfjsModel> {
  const trainableSet = new Set(module.namedParameters().map(([, t]) => t));
  const variables = new Map<string, Tf.Variable>();
  const byTensor = new Map<Wg.Tensor, Tf.Variable>();
  for (const [name, t] of Object.entries(module.stateDict())) {
    const values = await t.data();
    const v = tf.tidy(() => tf.variable(tf.tensor(values, [...t.shape]), trainableSet.has(t)));
    variables.set(name, v);
    byTensor.set(t, v);
  }
  const trainableNames = module.namedParameters().map(([n]) => n);
  const trainable = trainableNames.map((n) => variables.get(n)!);
  const v = (t: Wg.Tensor): Tf.Variable => {
    const found = byTensor.get(t);
    if (!found) throw new Error('tfjs_models: a module tensor is missing from its state dict');
    return found;
  };
  const { nn } = wg;

  function conv(m: Wg.nn.Conv2d, x: Tf.Tensor): Tf.Tensor {
    const o = hidden<Wg.nn.Conv2dOptions>(m, 'options') ?? {};
    const y = tf.conv2d(
      x as Tf.Tensor4D,
      v(m.weight) as Tf.Tensor4D,
      o.stride ?? 1,
      padding(o.padding, 'Conv2d'),
      'NHWC',
      o.dilation ?? 1,
    );
    return m.bias ? tf.add(y, v(m.bias)) : y;
  }

  /** webgrad's depthwise weight [K,K,1,C*M] is tfjs's [K,K,C,M], the same memory. */
  function depthwise(m: Wg.nn.DepthwiseConv2d, x: Tf.Tensor): Tf.Tensor {
    const o = hidden<Wg.nn.DepthwiseConv2dOptions>(m, 'options') ?? {};
    const [kh, kw, , out] = m.weight.shape;
    const w = tf.reshape(v(m.weight), [kh, kw, m.channels, out / m.channels]);
    const y = tf.depthwiseConv2d(
      x as Tf.Tensor4D,
      w as Tf.Tensor4D,
      o.stride ?? 1,
      padding(o.padding, 'DepthwiseConv2d'),
    );
    return m.bias ? tf.add(y, v(m.bias)) : y;
  }

  function batchNorm(m: Wg.nn.BatchNorm2d, x: Tf.Tensor, training: boolean): Tf.Tensor {
    const o = hidden<Wg.nn.BatchNormOptions>(m, 'options') ?? {};
    // The same defaults as webgrad's BatchNorm2d layer and batchNorm op.
    const momentum = o.momentum ?? 0.9;
    const epsilon = o.epsilon ?? 1e-3;
    const [gamma, beta, runningMean, runningVar] = [m.gamma, m.beta, m.runningMean, m.runningVar].map(v);
    if (!training) return tf.batchNorm(x, runningMean, runningVar, beta, gamma, epsilon);
    const axes = x.shape.map((_, i) => i).slice(0, -1);
    // tf.moments' variance is the biased one (divided by N*H*W), as webgrad's.
    const { mean, variance } = tf.moments(x, axes);
    runningMean.assign(tf.add(tf.mul(runningMean, momentum), tf.mul(mean, 1 - momentum)));
    runningVar.assign(tf.add(tf.mul(runningVar, momentum), tf.mul(variance, 1 - momentum)));
    return tf.batchNorm(x, mean, variance, beta, gamma, epsilon);
  }

  function maxPool(m: Wg.nn.MaxPool2d, x: Tf.Tensor): Tf.Tensor {
    const o = hidden<Wg.nn.PoolOptions>(m, 'options') ?? {};
    return tf.maxPool(x as Tf.Tensor4D, m.size, o.stride ?? m.size, o.padding ?? 'valid');
  }

  function forward(m: Wg.Module, x: Tf.Tensor, training: boolean): Tf.Tensor {
    const f = (child: Wg.Module, h: Tf.Tensor) => forward(child, h, training);
    if (m instanceof wg.Network) return f(m.head, tf.mean(f(m.trunk, x), [1, 2]));
    if (m instanceof nn.Sequential) return m.layers.reduce((h, l) => f(l, h), x);
    if (m instanceof nn.ConvBN) {
      const y = batchNorm(m.bn, conv(m.conv, x), training);
      return hidden<boolean>(m, 'withRelu') === false ? y : tf.relu(y);
    }
    if (m instanceof nn.ResidualBlock) {
      const shortcut = m.projection ? f(m.projection, x) : x;
      return tf.relu(tf.add(f(m.body2, f(m.body1, x)), shortcut));
    }
    if (m instanceof nn.InceptionBlock) {
      return tf.concat(
        [
          f(m.branch1, x),
          f(m.branch3[1], f(m.branch3[0], x)),
          f(m.branch5[1], f(m.branch5[0], x)),
          f(m.branchPool, tf.maxPool(x as Tf.Tensor4D, 3, 1, 'same')),
        ],
        3,
      );
    }
    if (m instanceof nn.Conv2d) return conv(m, x);
    if (m instanceof nn.DepthwiseConv2d) return depthwise(m, x);
    if (m instanceof nn.BatchNorm2d) return batchNorm(m, x, training);
    if (m instanceof nn.Dense) {
      const y = tf.matMul(x as Tf.Tensor2D, v(m.weight) as Tf.Tensor2D);
      return m.bias ? tf.add(y, v(m.bias)) : y;
    }
    if (m instanceof nn.MaxPool2d) return maxPool(m, x);
    if (m instanceof nn.GlobalAvgPool) return tf.mean(x, [1, 2]);
    if (m instanceof nn.ReLU) return tf.relu(x);
    if (m instanceof nn.ReLU6) return tf.relu6(x);
    if (m instanceof nn.Flatten) return tf.reshape(x, [x.shape[0], -1]);
    throw new Error(`tfjs_models: no tfjs twin for ${m.constructor.name}`);
  }

  return {
    variables,
    trainable,
    trainableNames,
    forward: (x, training) => forward(module, x, training),
    dispose: () => variables.forEach((t) => t.dispose()),
  };
}

/** The part of tfjs-backend-webgpu's WebGPUBackend that the submit counter hooks. */
interface SubmittingBackend {
  submitQueue(): void;
}

const submitCounters = new WeakMap<object, () => number>();

/** Counts the command-buffer submits of tfjs's current (WebGPU) backend; hooks it once, later calls share the count. */
export function countTfjsSubmits(tf: typeof Tf): () => number {
  const backend = tf.backend() as unknown as SubmittingBackend;
  const existing = submitCounters.get(backend);
  if (existing) return existing;
  let count = 0;
  const submit = backend.submitQueue.bind(backend);
  backend.submitQueue = () => {
    count++;
    submit();
  };
  const counter = () => count;
  submitCounters.set(backend, counter);
  return counter;
}
