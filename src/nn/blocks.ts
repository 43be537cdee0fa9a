// The building blocks of modern CNNs: conv-BN-ReLU, the residual block and the Inception module.
import type { Tensor } from '../graph/tensor.js';
import { add } from '../ops/arithmetic.js';
import { concat } from '../ops/concat.js';
import { maxPool2d } from '../ops/pool.js';
import { relu } from '../ops/relu.js';
import { BatchNorm2d, Conv2d } from './layers.js';
import { Module } from './module.js';

/** Conv (no bias) → batch norm → optional ReLU. Shapes: x [N,H,W,in] → [N,OH,OW,out]. */
export class ConvBN extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  private readonly withRelu: boolean;

  constructor(
    inChannels: number,
    outChannels: number,
    kernel: number,
    options: { stride?: number; seed?: number; relu?: boolean } = {},
  ) {
    super();
    this.withRelu = options.relu ?? true;
    this.conv = this.child(
      'conv',
      new Conv2d(inChannels, outChannels, kernel, {
        stride: options.stride,
        bias: false,
        seed: options.seed,
      }),
    );
    this.bn = this.child('bn', new BatchNorm2d(outChannels));
  }

  forward(x: Tensor): Tensor {
    const y = this.bn.forward(this.conv.forward(x));
    return this.withRelu ? relu(y) : y;
  }
}

/**
 * The basic residual block (He et al.): conv3x3-BN-ReLU-conv3x3-BN plus the shortcut, then ReLU. The shortcut
 * is the identity when shapes match, else a learned 1x1 projection (with batch norm) of the given stride.
 * Shapes: x [N,H,W,in] → [N,ceil(H/stride),ceil(W/stride),out].
 */
export class ResidualBlock extends Module {
  readonly body1: ConvBN;
  readonly body2: ConvBN;
  readonly projection: ConvBN | null;

  constructor(inChannels: number, outChannels: number, options: { stride?: number; seed?: number } = {}) {
    super();
    const stride = options.stride ?? 1;
    const seed = options.seed ?? 0;
    this.body1 = this.child('body1', new ConvBN(inChannels, outChannels, 3, { stride, seed }));
    this.body2 = this.child(
      'body2',
      new ConvBN(outChannels, outChannels, 3, { seed: seed + 1, relu: false }),
    );
    this.projection =
      stride !== 1 || inChannels !== outChannels
        ? this.child(
            'projection',
            new ConvBN(inChannels, outChannels, 1, { stride, seed: seed + 2, relu: false }),
          )
        : null;
  }

  forward(x: Tensor): Tensor {
    const shortcut = this.projection ? this.projection.forward(x) : x;
    return relu(add(this.body2.forward(this.body1.forward(x)), shortcut));
  }
}

/** Branch widths of an Inception module. */
export interface InceptionWidths {
  b1: number;
  b3Reduce: number;
  b3: number;
  b5Reduce: number;
  b5: number;
  poolProj: number;
}

/**
 * The Inception module (Szegedy et al.): 1x1, 1x1→3x3, 1x1→5x5 and 3x3 max-pool→1x1 branches in parallel,
 * concatenated along channels; the 1x1 bottlenecks cut the cost of the wide convolutions.
 * Shapes: x [N,H,W,in] → [N,H,W,b1+b3+b5+poolProj].
 */
export class InceptionBlock extends Module {
  readonly branch1: ConvBN;
  readonly branch3: [ConvBN, ConvBN];
  readonly branch5: [ConvBN, ConvBN];
  readonly branchPool: ConvBN;
  readonly outChannels: number;

  constructor(inChannels: number, w: InceptionWidths, options: { seed?: number } = {}) {
    super();
    const seed = options.seed ?? 0;
    this.branch1 = this.child('branch1', new ConvBN(inChannels, w.b1, 1, { seed }));
    this.branch3 = [
      this.child('branch3a', new ConvBN(inChannels, w.b3Reduce, 1, { seed: seed + 1 })),
      this.child('branch3b', new ConvBN(w.b3Reduce, w.b3, 3, { seed: seed + 2 })),
    ];
    this.branch5 = [
      this.child('branch5a', new ConvBN(inChannels, w.b5Reduce, 1, { seed: seed + 3 })),
      this.child('branch5b', new ConvBN(w.b5Reduce, w.b5, 5, { seed: seed + 4 })),
    ];
    this.branchPool = this.child('branchPool', new ConvBN(inChannels, w.poolProj, 1, { seed: seed + 5 }));
    this.outChannels = w.b1 + w.b3 + w.b5 + w.poolProj;
  }

  forward(x: Tensor): Tensor {
    return concat(
      [
        this.branch1.forward(x),
        this.branch3[1].forward(this.branch3[0].forward(x)),
        this.branch5[1].forward(this.branch5[0].forward(x)),
        this.branchPool.forward(maxPool2d(x, { size: 3, stride: 1, padding: 'same' })),
      ],
      -1,
    );
  }
}
