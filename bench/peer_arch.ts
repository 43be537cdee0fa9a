// The peers' side of the bench models: an engine-neutral op set and torchvision's ResNet-18/50 and GoogLeNet on it.
// Written from torchvision's source (module names, strides, paddings, ceil-mode pools, BN eps), not from webgrad's
// src/zoo, so a peer twin is an independent spelling of the architecture; tfjs (bench/tfjs_zoo.ts) and jax-js
// (bench/jax_models.ts) each implement the op set in their own layout and style.

/** Convolution padding: TensorFlow's 'same' / 'valid', or PyTorch's symmetric pixel count. */
export type ConvPadding = 'same' | 'valid' | number;

/** Pool padding: TensorFlow's 'same' / 'valid', or PyTorch's symmetric padding with its ceil mode. */
export type PoolPadding = 'same' | 'valid' | { pad: number; ceil: boolean };

/** State-dict names of one batch norm's tensors. */
export interface BatchNormNames {
  gamma: string;
  beta: string;
  mean: string;
  variance: string;
}

/**
 * What a peer model is written in. Parameters are named by the webgrad state-dict key they were copied from;
 * tensors are whatever the engine uses (NHWC for tfjs, NCHW for jax-js). Every op consumes its inputs once:
 * a value used twice is passed through `dup` first (jax-js counts references; tfjs needs nothing).
 */
export interface PeerOps<T> {
  /**
   * Convolution with an HWIO filter `[K, K, in / groups, out]` (groups = in: depthwise, output channel
   * c * multiplier + m reads input channel c).
   */
  conv(
    x: T,
    weight: string,
    o: { stride: number; padding: ConvPadding; dilation?: number; groups?: number; bias?: string },
  ): T;
  /**
   * Batch norm over every axis but the channels. Training: batch mean and biased variance, and the running
   * statistics move to `momentum * old + (1 - momentum) * batch` (webgrad's convention), the variance's batch
   * value divided by rows - runningVarCorrection instead of rows (wg.batchNorm's option: 0 Keras, 1 PyTorch);
   * inference: the running statistics.
   */
  batchNorm(x: T, names: BatchNormNames, epsilon: number, momentum: number, runningVarCorrection: number): T;
  relu(x: T): T;
  /** min(max(x, 0), 6). */
  relu6(x: T): T;
  add(a: T, b: T): T;
  maxPool(x: T, size: number, stride: number, padding: PoolPadding): T;
  /** Concatenation on the channel axis. */
  concat(xs: T[]): T;
  /** Mean over the spatial axes: [N, C]. */
  globalAvgPool(x: T): T;
  /** x [N, in] times the [in, out] weight, plus the bias when named. */
  dense(x: T, weight: string, bias?: string): T;
  /** A second use of `x`. */
  dup(x: T): T;
}

/** A model written once for every peer: image batch in, logits out. */
export type PeerArch = <T>(ops: PeerOps<T>, x: T) => T;

/**
 * [before, after] padding of one spatial axis of a pool, so that a 'valid' pool over the padded input gives
 * the output size of `padding`: TensorFlow's 'same' (odd pixel after), or PyTorch's symmetric padding, where
 * ceil mode adds windows on the far side as long as each starts inside the input or its left padding.
 */
export function poolPads(size: number, k: number, stride: number, padding: PoolPadding): [number, number] {
  if (padding === 'valid') return [0, 0];
  if (padding === 'same') {
    const out = Math.ceil(size / stride);
    const total = Math.max((out - 1) * stride + k - size, 0);
    return [total >> 1, total - (total >> 1)];
  }
  const { pad, ceil } = padding;
  const span = size + 2 * pad - k;
  let out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  if (ceil && (out - 1) * stride >= size + pad) out--;
  return [pad, Math.max((out - 1) * stride + k - size - pad, 0)];
}

/** torchvision's BatchNorm2d under a prefix (`layer1.0.bn1`): weight, bias, running_mean, running_var. */
function torchBn(prefix: string): BatchNormNames {
  return {
    gamma: `${prefix}.weight`,
    beta: `${prefix}.bias`,
    mean: `${prefix}.running_mean`,
    variance: `${prefix}.running_var`,
  };
}

/** PyTorch's momentum 0.1 (new-value weight) as webgrad's old-value weight. */
const TORCH_BN_MOMENTUM = 0.9;
/** PyTorch's running variance takes the unbiased batch variance (src/zoo/layers.ts TorchBatchNorm2d). */
const TORCH_BN_CORRECTION = 1;

/** torchvision.models.ResNet with BasicBlock (expansion 1) or Bottleneck (expansion 4, stride on the 3x3). */
function resnetArch(block: 'basic' | 'bottleneck', counts: readonly number[]): PeerArch {
  const eps = 1e-5;
  const expansion = block === 'basic' ? 1 : 4;
  return <T>(ops: PeerOps<T>, input: T): T => {
    const convBn = (x: T, conv: string, bn: string, stride: number, padding: number) =>
      ops.batchNorm(
        ops.conv(x, `${conv}.weight`, { stride, padding }),
        torchBn(bn),
        eps,
        TORCH_BN_MOMENTUM,
        TORCH_BN_CORRECTION,
      );
    let x = ops.relu(convBn(input, 'conv1', 'bn1', 2, 3));
    x = ops.maxPool(x, 3, 2, { pad: 1, ceil: false });
    let inplanes = 64;
    [64, 128, 256, 512].forEach((planes, i) => {
      for (let b = 0; b < counts[i]; b++) {
        const p = `layer${i + 1}.${b}`;
        const stride = b === 0 && i > 0 ? 2 : 1;
        const projected = b === 0 && (stride !== 1 || inplanes !== planes * expansion);
        const shortcut = ops.dup(x);
        let out: T;
        if (block === 'basic') {
          out = ops.relu(convBn(x, `${p}.conv1`, `${p}.bn1`, stride, 1));
          out = convBn(out, `${p}.conv2`, `${p}.bn2`, 1, 1);
        } else {
          out = ops.relu(convBn(x, `${p}.conv1`, `${p}.bn1`, 1, 0));
          out = ops.relu(convBn(out, `${p}.conv2`, `${p}.bn2`, stride, 1));
          out = convBn(out, `${p}.conv3`, `${p}.bn3`, 1, 0);
        }
        const identity = projected
          ? convBn(shortcut, `${p}.downsample.0`, `${p}.downsample.1`, stride, 0)
          : shortcut;
        x = ops.relu(ops.add(out, identity));
        inplanes = planes * expansion;
      }
    });
    return ops.dense(ops.globalAvgPool(x), 'fc.weight', 'fc.bias');
  };
}

/** torchvision's GoogLeNet blocks in order (their widths come with the copied weights). */
const INCEPTIONS = ['3a', '3b', '4a', '4b', '4c', '4d', '4e', '5a', '5b'].map((s) => `inception${s}`);

/**
 * torchvision.models.GoogLeNet (aux_logits=False, transform_input=False; no dropout: the bench builds
 * src/zoo's GoogLeNet with `dropout: 0`, bench/zoo_workloads.ts): BasicConv2d = conv (no bias) + BN(eps 1e-3)
 * + ReLU; ceil-mode max pools; torchvision's 3x3 (not 5x5) in the third branch.
 */
const googlenetArch: PeerArch = <T>(ops: PeerOps<T>, input: T): T => {
  const basic = (x: T, name: string, stride: number, padding: number) =>
    ops.relu(
      ops.batchNorm(
        ops.conv(x, `${name}.conv.weight`, { stride, padding }),
        torchBn(`${name}.bn`),
        1e-3,
        TORCH_BN_MOMENTUM,
        TORCH_BN_CORRECTION,
      ),
    );
  const pool = (x: T, k: number, stride: number, pad = 0) => ops.maxPool(x, k, stride, { pad, ceil: true });
  let x = pool(basic(input, 'conv1', 2, 3), 3, 2);
  x = pool(basic(basic(x, 'conv2', 1, 0), 'conv3', 1, 1), 3, 2);
  for (const name of INCEPTIONS) {
    const b = (branch: string) => `${name}.${branch}`;
    const x2 = ops.dup(x);
    const x3 = ops.dup(x);
    const x4 = ops.dup(x);
    x = ops.concat([
      basic(x, b('branch1'), 1, 0),
      basic(basic(x2, b('branch2.0'), 1, 0), b('branch2.1'), 1, 1),
      basic(basic(x3, b('branch3.0'), 1, 0), b('branch3.1'), 1, 1),
      basic(pool(x4, 3, 1, 1), b('branch4.1'), 1, 0),
    ]);
    if (name === 'inception3b') x = pool(x, 3, 2);
    if (name === 'inception4e') x = pool(x, 2, 2);
  }
  return ops.dense(ops.globalAvgPool(x), 'fc.weight', 'fc.bias');
};

/** The zoo architectures the bench runs, by webgrad's `wg.zoo` builder name. */
export const PEER_ZOO = {
  resnet18: resnetArch('basic', [2, 2, 2, 2]),
  resnet50: resnetArch('bottleneck', [3, 4, 6, 3]),
  googlenet: googlenetArch,
} as const;
