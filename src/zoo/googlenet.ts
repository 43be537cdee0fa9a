// torchvision's GoogLeNet (Inception v1) without auxiliary heads: its module tree, ceil-mode pools, BN eps 1e-3,
// the dropout before fc.
import type { Tensor } from '../graph/tensor.js';
import { Sequential, type Conv2d } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { concat } from '../ops/concat.js';
import { maxPool2d } from '../ops/pool.js';
import { relu } from '../ops/relu.js';
import { Seeds, TorchBatchNorm2d, conv } from './layers.js';
import { GOOGLENET_DROPOUT, ZooModel, zooConfig, type Stage, type ZooOptions } from './model.js';

/** torchvision's BasicConv2d: conv (no bias) → BatchNorm2d(eps=0.001) → ReLU. Keys `conv.*`, `bn.*`. */
class BasicConv2d extends Module {
  private readonly conv: Conv2d;
  private readonly bn: TorchBatchNorm2d;

  constructor(
    seeds: Seeds,
    inChannels: number,
    outChannels: number,
    kernel: number,
    padding = 0,
    stride = 1,
  ) {
    super();
    this.conv = this.child('conv', conv(seeds, inChannels, outChannels, kernel, { stride, padding }));
    this.bn = this.child('bn', new TorchBatchNorm2d(outChannels, 0.001));
  }

  forward(x: Tensor): Tensor {
    return relu(this.bn.forward(this.conv.forward(x)));
  }
}

/** The 3x3 stride-1 ceil-mode max pool ahead of branch4 (a module so branch4's conv is `branch4.1`). */
class BranchPool extends Module {
  forward(x: Tensor): Tensor {
    return maxPool2d(x, { size: 3, stride: 1, padding: 1, ceilMode: true });
  }
}

/**
 * torchvision's Inception block: branch1 1x1; branch2 1x1 → 3x3; branch3 1x1 → 3x3 (torchvision uses 3x3 here,
 * not the paper's 5x5, and so do we, to match its weights); branch4 max pool → 1x1; concatenated on channels.
 * Shapes: x [N,H,W,in] → [N,H,W,ch1+ch3+ch5+proj].
 */
class Inception extends Module {
  private readonly branches: Module[];

  constructor(
    seeds: Seeds,
    inC: number,
    ch1: number,
    ch3r: number,
    ch3: number,
    ch5r: number,
    ch5: number,
    proj: number,
  ) {
    super();
    this.branches = [
      this.child('branch1', new BasicConv2d(seeds, inC, ch1, 1)),
      this.child(
        'branch2',
        new Sequential(new BasicConv2d(seeds, inC, ch3r, 1), new BasicConv2d(seeds, ch3r, ch3, 3, 1)),
      ),
      this.child(
        'branch3',
        new Sequential(new BasicConv2d(seeds, inC, ch5r, 1), new BasicConv2d(seeds, ch5r, ch5, 3, 1)),
      ),
      this.child('branch4', new Sequential(new BranchPool(), new BasicConv2d(seeds, inC, proj, 1))),
    ];
  }

  forward(x: Tensor): Tensor {
    return concat(
      this.branches.map((b) => b.forward(x)),
      -1,
    );
  }
}

/** [name, in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj] as in torchvision's GoogLeNet. */
const BLOCKS: [string, number, number, number, number, number, number, number][] = [
  ['inception3a', 192, 64, 96, 128, 16, 32, 32],
  ['inception3b', 256, 128, 128, 192, 32, 96, 64],
  ['inception4a', 480, 192, 96, 208, 16, 48, 64],
  ['inception4b', 512, 160, 112, 224, 24, 64, 64],
  ['inception4c', 512, 128, 128, 256, 24, 64, 64],
  ['inception4d', 512, 112, 144, 288, 32, 64, 64],
  ['inception4e', 528, 256, 160, 320, 32, 128, 128],
  ['inception5a', 832, 256, 160, 320, 32, 128, 128],
  ['inception5b', 832, 384, 192, 384, 48, 128, 128],
];

/** Which max pool follows a block (torchvision's maxpool3 after 3b, maxpool4 after 4e; 2x2 for maxpool4). */
const POOL_AFTER: Record<string, [string, number]> = {
  inception3b: ['maxpool3', 3],
  inception4e: ['maxpool4', 2],
};

/**
 * torchvision.models.GoogLeNet (aux_logits=False: the two auxiliary heads are not built; transform_input=False),
 * with its `dropout` (options.dropout, default 0.2 as torchvision's) between avgpool and fc: nn.Dropout seeded
 * from the config's seed, applied in training mode only (eval logits are unchanged by it; a feature cache runs
 * the trunk in eval mode and stops at avgpool, so it never sees it, while a head trained on cached features
 * does, as in PyTorch).
 * Shapes: x [N,H,W,3] → [N,classes]; 1024 pooled features.
 */
export class GoogLeNet extends ZooModel {
  private readonly stems: BasicConv2d[];
  private readonly blocks: [string, Inception][];

  constructor(options: ZooOptions) {
    const config = zooConfig('googlenet', options);
    super(config, 1024);
    const seeds = new Seeds(config.seed * 10_000);
    this.stems = [
      this.child('conv1', new BasicConv2d(seeds, config.inputShape[2], 64, 7, 3, 2)),
      this.child('conv2', new BasicConv2d(seeds, 64, 64, 1)),
      this.child('conv3', new BasicConv2d(seeds, 64, 192, 3, 1)),
    ];
    this.blocks = BLOCKS.map(([name, ...w]) => [
      name,
      this.child(name, new Inception(seeds, w[0], w[1], w[2], w[3], w[4], w[5], w[6])),
    ]);
    this.addHead(config.dropout ?? GOOGLENET_DROPOUT);
  }

  trunkStages(): Stage[] {
    const pool = (size: number) => (x: Tensor) => maxPool2d(x, { size, stride: 2, ceilMode: true });
    const [conv1, conv2, conv3] = this.stems;
    const stages: Stage[] = [
      { name: 'conv1', prefixes: ['conv1'], run: (x) => conv1.forward(x) },
      { name: 'maxpool1', prefixes: [], run: pool(3) },
      { name: 'conv2', prefixes: ['conv2'], run: (x) => conv2.forward(x) },
      { name: 'conv3', prefixes: ['conv3'], run: (x) => conv3.forward(x) },
      { name: 'maxpool2', prefixes: [], run: pool(3) },
    ];
    for (const [name, block] of this.blocks) {
      stages.push({ name, prefixes: [name], run: (x) => block.forward(x) });
      const after = POOL_AFTER[name];
      if (after) stages.push({ name: after[0], prefixes: [], run: pool(after[1]) });
    }
    return stages;
  }
}

/** torchvision.models.googlenet (no auxiliary heads). Shapes: x [N,H,W,3] → [N,classes]. */
export function googlenet(options: ZooOptions): GoogLeNet {
  return new GoogLeNet(options);
}
