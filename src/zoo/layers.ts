// Layers under torchvision's parameter names: BatchNorm2d with weight/bias/running_mean/running_var, conv helpers.
import { ones, zeros } from '../graph/create.js';
import type { Tensor } from '../graph/tensor.js';
import { batchNorm } from '../ops/batchnorm.js';
import { Conv2d } from '../nn/layers.js';
import { Module } from '../nn/module.js';

/**
 * torch.nn.BatchNorm2d: `weight` (scale), `bias` (shift), `running_mean`, `running_var`; momentum 0.1 in
 * PyTorch's sense (0.9 of the old value kept), and running_var updated with the unbiased batch variance
 * (times N*H*W / (N*H*W - 1)) as PyTorch does, so statistics trained here export as PyTorch's would be. Training
 * on one value per channel is a ShapeError, as it is an error in PyTorch. Frozen, it runs in inference mode
 * whatever the model's mode.
 * (`num_batches_tracked` is not kept: loaders read and drop it, exporters write it.)
 * Shapes: x [N,H,W,C] → same.
 */
export class TorchBatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;

  constructor(
    readonly channels: number,
    readonly epsilon: number,
  ) {
    super();
    this.weight = this.param('weight', ones([channels]));
    this.bias = this.param('bias', zeros([channels]));
    this.runningMean = this.buffer('running_mean', zeros([channels]));
    this.runningVar = this.buffer('running_var', ones([channels]));
  }

  forward(x: Tensor): Tensor {
    return batchNorm(x, {
      gamma: this.weight,
      beta: this.bias,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      training: this.training && !this.frozen,
      momentum: 0.9,
      epsilon: this.epsilon,
      runningVarCorrection: 1,
    });
  }
}

/** Hands out distinct initializer seeds, so every convolution of a model starts different and reproducible. */
export class Seeds {
  constructor(private next: number) {}
  take(): number {
    return this.next++;
  }
}

/**
 * torch.nn.Conv2d(in, out, k, stride, padding, bias=False) with PyTorch's symmetric padding (never 'same').
 * Shapes: x [N,H,W,in] → [N,OH,OW,out]; weight [k,k,in,out] (HWIO; loaders convert from OIHW).
 */
export function conv(
  seeds: Seeds,
  inChannels: number,
  outChannels: number,
  kernel: number,
  { stride = 1, padding = 0 }: { stride?: number; padding?: number } = {},
): Conv2d {
  return new Conv2d(inChannels, outChannels, kernel, { stride, padding, bias: false, seed: seeds.take() });
}
