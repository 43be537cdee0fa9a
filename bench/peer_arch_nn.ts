// A webgrad nn model (Network, blocks, layers) as a PeerArch: the same structure, parameters by state-dict name.
import type * as Wg from '../src/index.js';
import type { ConvPadding, PeerArch, PeerOps, PoolPadding } from './peer_arch.js';

/** Reads a field TypeScript marks private: a module's options (stride, epsilon, ...) the peer graph must mirror. */
function hidden<T>(m: object, field: string): T | undefined {
  return (m as Record<string, unknown>)[field] as T | undefined;
}

/** A webgrad padding the peer op set can express ('same', 'valid' or one symmetric count). */
function convPadding(p: Wg.Padding | undefined): ConvPadding {
  if (p === undefined || p === 'same' || p === 'valid' || typeof p === 'number') return p ?? 'same';
  throw new Error(`peer_arch_nn: padding ${JSON.stringify(p)} is not mirrored`);
}

/**
 * The peer architecture of `module` (a Network, Sequential, ResidualBlock, InceptionBlock, ConvBN, Conv2d,
 * DepthwiseConv2d, BatchNorm2d, Dense, MaxPool2d, GlobalAvgPool, ReLU or ReLU6), reading its options as webgrad's forward does. `wg`
 * supplies the module classes (src/ in Node, dist/ on the browser page).
 */
export function nnArch(wg: typeof Wg, module: Wg.Module): PeerArch {
  const names = new Map<Wg.Tensor, string>();
  for (const [name, t] of Object.entries(module.stateDict())) names.set(t, name);
  const name = (t: Wg.Tensor): string => {
    const found = names.get(t);
    if (found === undefined) throw new Error('peer_arch_nn: a module tensor is missing from its state dict');
    return found;
  };
  const { nn } = wg;
  return <T>(ops: PeerOps<T>, input: T): T => {
    const forward = (m: Wg.Module, x: T): T => {
      if (m instanceof wg.Network) return forward(m.head, ops.globalAvgPool(forward(m.trunk, x)));
      if (m instanceof nn.Sequential) return m.layers.reduce((h, l) => forward(l, h), x);
      if (m instanceof nn.ConvBN) {
        const y = forward(m.bn, forward(m.conv, x));
        return hidden<boolean>(m, 'withRelu') === false ? y : ops.relu(y);
      }
      if (m instanceof nn.ResidualBlock) {
        const shortcut = ops.dup(x);
        const body = forward(m.body2, forward(m.body1, x));
        return ops.relu(ops.add(body, m.projection ? forward(m.projection, shortcut) : shortcut));
      }
      if (m instanceof nn.InceptionBlock) {
        const [x2, x3, x4] = [ops.dup(x), ops.dup(x), ops.dup(x)];
        return ops.concat([
          forward(m.branch1, x),
          forward(m.branch3[1], forward(m.branch3[0], x2)),
          forward(m.branch5[1], forward(m.branch5[0], x3)),
          forward(m.branchPool, ops.maxPool(x4, 3, 1, 'same')),
        ]);
      }
      if (m instanceof nn.Conv2d) {
        const o = hidden<Wg.nn.Conv2dOptions>(m, 'options') ?? {};
        return ops.conv(x, name(m.weight), {
          stride: o.stride ?? 1,
          padding: convPadding(o.padding),
          dilation: o.dilation ?? 1,
          bias: m.bias ? name(m.bias) : undefined,
        });
      }
      if (m instanceof nn.DepthwiseConv2d) {
        const o = hidden<Wg.nn.DepthwiseConv2dOptions>(m, 'options') ?? {};
        return ops.conv(x, name(m.weight), {
          stride: o.stride ?? 1,
          padding: convPadding(o.padding),
          groups: m.channels,
          bias: m.bias ? name(m.bias) : undefined,
        });
      }
      if (m instanceof nn.BatchNorm2d) {
        const o = hidden<Wg.nn.BatchNormOptions>(m, 'options') ?? {};
        const tensors = { gamma: m.gamma, beta: m.beta, mean: m.runningMean, variance: m.runningVar };
        const bn = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, name(t)]));
        // The same defaults as webgrad's BatchNorm2d layer and batchNorm op (Keras's biased running variance).
        return ops.batchNorm(
          x,
          bn as Record<keyof typeof tensors, string>,
          o.epsilon ?? 1e-3,
          o.momentum ?? 0.9,
          0,
        );
      }
      if (m instanceof nn.Dense) return ops.dense(x, name(m.weight), m.bias ? name(m.bias) : undefined);
      if (m instanceof nn.MaxPool2d) {
        const o = hidden<Wg.nn.PoolOptions>(m, 'options') ?? {};
        const padding: PoolPadding = o.padding ?? 'valid';
        return ops.maxPool(x, m.size, o.stride ?? m.size, padding);
      }
      if (m instanceof nn.GlobalAvgPool) return ops.globalAvgPool(x);
      if (m instanceof nn.ReLU) return ops.relu(x);
      if (m instanceof nn.ReLU6) return ops.relu6(x);
      throw new Error(`peer_arch_nn: no peer twin for ${m.constructor.name}`);
    };
    return forward(module, input);
  };
}
