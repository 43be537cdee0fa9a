// torchvision's ResNet-18/34/50: module tree, channel counts, strides, symmetric paddings and BN eps 1e-5 as its source.
import type { Tensor } from '../graph/tensor.js';
import { Sequential } from '../nn/layers.js';
import type { Conv2d } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { add } from '../ops/arithmetic.js';
import { maxPool2d } from '../ops/pool.js';
import { relu } from '../ops/relu.js';
import { Seeds, TorchBatchNorm2d, conv } from './layers.js';
import { ZooModel, zooConfig, type Stage, type ZooArch, type ZooOptions } from './model.js';

const EPS = 1e-5;

/** torchvision.models.resnet.BasicBlock. Shapes: x [N,H,W,in] → [N,H/stride,W/stride,planes]. */
class BasicBlock extends Module {
  static readonly expansion = 1;
  private readonly conv1: Conv2d;
  private readonly bn1: TorchBatchNorm2d;
  private readonly conv2: Conv2d;
  private readonly bn2: TorchBatchNorm2d;
  private readonly downsample: Sequential | null;

  constructor(seeds: Seeds, inplanes: number, planes: number, stride: number, downsample: Sequential | null) {
    super();
    this.conv1 = this.child('conv1', conv(seeds, inplanes, planes, 3, { stride, padding: 1 }));
    this.bn1 = this.child('bn1', new TorchBatchNorm2d(planes, EPS));
    this.conv2 = this.child('conv2', conv(seeds, planes, planes, 3, { padding: 1 }));
    this.bn2 = this.child('bn2', new TorchBatchNorm2d(planes, EPS));
    this.downsample = downsample && this.child('downsample', downsample);
  }

  forward(x: Tensor): Tensor {
    const out = this.bn2.forward(this.conv2.forward(relu(this.bn1.forward(this.conv1.forward(x)))));
    return relu(add(out, this.downsample ? this.downsample.forward(x) : x));
  }
}

/** torchvision.models.resnet.Bottleneck (ResNet v1.5: the stride sits on the 3x3). Shapes: → [N,H/s,W/s,4*planes]. */
class Bottleneck extends Module {
  static readonly expansion = 4;
  private readonly conv1: Conv2d;
  private readonly bn1: TorchBatchNorm2d;
  private readonly conv2: Conv2d;
  private readonly bn2: TorchBatchNorm2d;
  private readonly conv3: Conv2d;
  private readonly bn3: TorchBatchNorm2d;
  private readonly downsample: Sequential | null;

  constructor(seeds: Seeds, inplanes: number, planes: number, stride: number, downsample: Sequential | null) {
    super();
    this.conv1 = this.child('conv1', conv(seeds, inplanes, planes, 1));
    this.bn1 = this.child('bn1', new TorchBatchNorm2d(planes, EPS));
    this.conv2 = this.child('conv2', conv(seeds, planes, planes, 3, { stride, padding: 1 }));
    this.bn2 = this.child('bn2', new TorchBatchNorm2d(planes, EPS));
    this.conv3 = this.child('conv3', conv(seeds, planes, planes * 4, 1));
    this.bn3 = this.child('bn3', new TorchBatchNorm2d(planes * 4, EPS));
    this.downsample = downsample && this.child('downsample', downsample);
  }

  forward(x: Tensor): Tensor {
    let out = relu(this.bn1.forward(this.conv1.forward(x)));
    out = relu(this.bn2.forward(this.conv2.forward(out)));
    out = this.bn3.forward(this.conv3.forward(out));
    return relu(add(out, this.downsample ? this.downsample.forward(x) : x));
  }
}

type BlockClass = typeof BasicBlock | typeof Bottleneck;

/** torchvision.models.ResNet: conv1 7x7/2 pad 3, bn1, relu, maxpool 3x3/2 pad 1, layer1-4, avgpool, fc. */
export class ResNet extends ZooModel {
  private readonly conv1: Conv2d;
  private readonly bn1: TorchBatchNorm2d;
  private readonly layers: Sequential[];

  constructor(arch: ZooArch, block: BlockClass, counts: readonly number[], options: ZooOptions) {
    const config = zooConfig(arch, options);
    super(config, 512 * block.expansion);
    const seeds = new Seeds(config.seed * 10_000);
    this.conv1 = this.child('conv1', conv(seeds, config.inputShape[2], 64, 7, { stride: 2, padding: 3 }));
    this.bn1 = this.child('bn1', new TorchBatchNorm2d(64, EPS));
    let inplanes = 64;
    this.layers = [64, 128, 256, 512].map((planes, i) => {
      const stride = i === 0 ? 1 : 2;
      const blocks: Module[] = [];
      for (let b = 0; b < counts[i]; b++) {
        const s = b === 0 ? stride : 1;
        const downsample =
          b === 0 && (s !== 1 || inplanes !== planes * block.expansion)
            ? new Sequential(
                conv(seeds, inplanes, planes * block.expansion, 1, { stride: s }),
                new TorchBatchNorm2d(planes * block.expansion, EPS),
              )
            : null;
        blocks.push(new block(seeds, inplanes, planes, s, downsample));
        inplanes = planes * block.expansion;
      }
      return this.child(`layer${i + 1}`, new Sequential(...blocks));
    });
    this.addHead();
  }

  trunkStages(): Stage[] {
    return [
      {
        name: 'conv1',
        prefixes: ['conv1', 'bn1'],
        run: (x) => relu(this.bn1.forward(this.conv1.forward(x))),
      },
      { name: 'maxpool', prefixes: [], run: (x) => maxPool2d(x, { size: 3, stride: 2, padding: 1 }) },
      ...this.layers.map((l, i) => ({
        name: `layer${i + 1}`,
        prefixes: [`layer${i + 1}`],
        run: (x: Tensor) => l.forward(x),
      })),
    ];
  }
}

/** torchvision.models.resnet18: BasicBlock x [2, 2, 2, 2]. Shapes: x [N,H,W,3] → [N,classes]. */
export function resnet18(options: ZooOptions): ResNet {
  return new ResNet('resnet18', BasicBlock, [2, 2, 2, 2], options);
}

/** torchvision.models.resnet34: BasicBlock x [3, 4, 6, 3]. Shapes: x [N,H,W,3] → [N,classes]. */
export function resnet34(options: ZooOptions): ResNet {
  return new ResNet('resnet34', BasicBlock, [3, 4, 6, 3], options);
}

/** torchvision.models.resnet50: Bottleneck x [3, 4, 6, 3], 2048 features. Shapes: x [N,H,W,3] → [N,classes]. */
export function resnet50(options: ZooOptions): ResNet {
  return new ResNet('resnet50', Bottleneck, [3, 4, 6, 3], options);
}
