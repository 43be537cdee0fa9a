// dropout: zeroes elements with probability `rate` and scales the rest by 1 / (1 - rate), saving the mask
// (output 1) so the backward pass is dx = dy * mask.
import { ArgumentError } from '../errors.js';
import { record } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { checkOptionKeys } from '../options.js';
import { refDropout } from '../reference/dropout.js';
import { elementwise } from './elementwise/op.js';
import { call, input } from './elementwise/expr.js';
import { sizeOf, type OpDef } from './types.js';
import { ELEMENTWISE_WG, expectFloat, workgroupsFor } from './util.js';

interface DropoutAttrs {
  rate: number;
  seed: number;
}

export const dropoutOp: OpDef<DropoutAttrs> = {
  name: 'dropout',
  check([x], { rate, seed }) {
    expectFloat('dropout', 'x', x);
    if (typeof rate !== 'number' || !(rate >= 0 && rate < 1))
      throw new ArgumentError(`dropout: 'rate' must be a number in [0, 1), got ${String(rate)}`);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
      throw new ArgumentError(`dropout: 'seed' must be an integer in [0, 2^32), got ${String(seed)}`);
    return [x, x];
  },
  // Both feed only the uniforms: a fresh seed per call (and a new rate) replays the step's plan.
  uniformAttrs: ['rate', 'seed'],
  forward(io, { rate, seed }) {
    const n = sizeOf(io.inputs[0].spec.shape);
    return [
      {
        shader: 'dropout',
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [n, seed, { f32: rate }, { f32: 1 / (1 - rate) }],
        buffers: [io.inputs[0].buffer, io.outputs[0].buffer, io.outputs[1].buffer],
        workgroups: workgroupsFor(n),
      },
    ];
  },
  backward: [({ outputs, dys }) => elementwise(call('mul', input(0), input(1)), [dys[0]!, outputs[1]])],
  cost: ([x]) => ({ flops: 4 * sizeOf(x.shape), bytes: 12 * sizeOf(x.shape) }),
  reference: ([x], { rate, seed }) => refDropout(x, rate, seed),
};

export interface DropoutOptions {
  /** Seed of the mask (an integer in [0, 2^32)); without it each call draws a fresh one. */
  seed?: number;
}

/**
 * Shapes: x any → same shape. Training-time dropout (inverted: kept elements are scaled by 1 / (1 - rate), so
 * inference needs nothing). The same seed gives the same mask.
 */
export function dropout(x: Tensor, rate: number, options: DropoutOptions = {}): Tensor {
  checkOptionKeys('dropout', options, ['seed']);
  const seed = options.seed ?? Math.floor(Math.random() * 0x100000000);
  return record(dropoutOp, [x], { rate, seed }, ['x'])[0];
}
