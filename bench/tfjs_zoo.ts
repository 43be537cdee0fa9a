// tfjs twins of the zoo models: bench/peer_arch.ts's op set in tfjs (NHWC, HWIO), the weights as tf.variables.
import type * as Tf from '@tensorflow/tfjs-core';
import type * as Wg from '../src/index.js';
import { poolPads, type ConvPadding, type PeerArch, type PeerOps } from './peer_arch.js';
import type { TfjsModel } from './tfjs_models.js';

/** tfjs's conv padding for a peer padding: PyTorch's symmetric count as an explicit NHWC padding. */
function convPad(p: ConvPadding): 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]] {
  return typeof p === 'number'
    ? [
        [0, 0],
        [p, p],
        [p, p],
        [0, 0],
      ]
    : p;
}

/**
 * The peer op set on tfjs tensors. In training mode batch norm uses the batch statistics and assigns the
 * running averages (as tf.layers' BatchNormalization does).
 */
function tfjsOps(tf: typeof Tf, v: (name: string) => Tf.Variable, training: boolean): PeerOps<Tf.Tensor> {
  return {
    conv(x, weight, o) {
      const groups = o.groups ?? 1;
      if (groups !== 1) {
        // tfjs has depthwise convolution only (groups = in channels): the [K, K, 1, C*M] filter read as [K, K, C, M].
        const [k, kw, , out] = v(weight).shape;
        const channels = x.shape[3]!;
        if (groups !== channels)
          throw new Error(`tfjs_zoo: a conv of ${groups} groups over ${channels} channels has no tfjs op`);
        const filter = tf.reshape(v(weight), [k, kw, channels, out / channels]) as Tf.Tensor4D;
        const y = tf.depthwiseConv2d(
          x as Tf.Tensor4D,
          filter,
          o.stride,
          convPad(o.padding),
          'NHWC',
          o.dilation ?? 1,
        );
        return o.bias ? tf.add(y, v(o.bias)) : y;
      }
      const y = tf.conv2d(
        x as Tf.Tensor4D,
        v(weight) as Tf.Tensor4D,
        o.stride,
        convPad(o.padding),
        'NHWC',
        o.dilation ?? 1,
      );
      return o.bias ? tf.add(y, v(o.bias)) : y;
    },
    batchNorm(x, n, epsilon, momentum, runningVarCorrection) {
      const [gamma, beta, mean, variance] = [n.gamma, n.beta, n.mean, n.variance].map(v);
      if (!training) return tf.batchNorm(x, mean, variance, beta, gamma, epsilon);
      // tf.moments' variance is the biased one (divided by N*H*W), as webgrad's; the running variance may take
      // it rescaled to rows - runningVarCorrection.
      const m = tf.moments(x, [0, 1, 2]);
      const rows = x.size / m.mean.size;
      const scale = rows / (rows - runningVarCorrection);
      mean.assign(tf.add(tf.mul(mean, momentum), tf.mul(m.mean, 1 - momentum)));
      variance.assign(tf.add(tf.mul(variance, momentum), tf.mul(m.variance, scale * (1 - momentum))));
      return tf.batchNorm(x, m.mean, m.variance, beta, gamma, epsilon);
    },
    relu: (x) => tf.relu(x),
    relu6: (x) => tf.relu6(x),
    add: (a, b) => tf.add(a, b),
    maxPool(x, size, stride, padding) {
      if (typeof padding === 'string') return tf.maxPool(x as Tf.Tensor4D, size, stride, padding);
      // PyTorch's padding and ceil mode: pad with -inf, then a 'valid' pool.
      const [, h, w] = x.shape;
      const padded = tf.pad(
        x,
        [[0, 0], poolPads(h, size, stride, padding), poolPads(w, size, stride, padding), [0, 0]],
        -Infinity,
      );
      return tf.maxPool(padded as Tf.Tensor4D, size, stride, 'valid');
    },
    concat: (xs) => tf.concat(xs, 3),
    globalAvgPool: (x) => tf.mean(x, [1, 2]),
    dense(x, weight, bias) {
      const y = tf.matMul(x as Tf.Tensor2D, v(weight) as Tf.Tensor2D);
      return bias ? tf.add(y, v(bias)) : y;
    },
    dup: (x) => x,
  };
}

/**
 * The tfjs twin of a webgrad module written as `arch`: variables hold the module's current state (read with
 * `await t.data()`), trainable in the order of its `namedParameters()`.
 */
export async function tfjsPeer(tf: typeof Tf, module: Wg.Module, arch: PeerArch): Promise<TfjsModel> {
  const trainableNames = module.namedParameters().map(([n]) => n);
  const trainableSet = new Set(trainableNames);
  const variables = new Map<string, Tf.Variable>();
  for (const [name, t] of Object.entries(module.stateDict())) {
    const values = await t.data();
    variables.set(
      name,
      tf.tidy(() => tf.variable(tf.tensor(values, [...t.shape]), trainableSet.has(name))),
    );
  }
  const v = (name: string): Tf.Variable => {
    const found = variables.get(name);
    if (!found) throw new Error(`tfjs_zoo: the model has no state-dict entry '${name}'`);
    return found;
  };
  return {
    variables,
    trainable: trainableNames.map(v),
    trainableNames,
    forward: (x, training) => arch(tfjsOps(tf, v, training), x),
    dispose: () => variables.forEach((t) => t.dispose()),
  };
}
