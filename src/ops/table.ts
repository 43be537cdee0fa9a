// The table of every op and backward pass: its type lists them all, so a missing definition fails tsc.
import { addOp, mulOp, subOp } from './arithmetic.js';
import { fillOp } from './fill.js';
import { broadcastOp, meanOp, sumOp } from './reduce.js';
import { reluBackwardOp, reluOp } from './relu.js';
import { reshapeOp } from './reshape.js';
import { scaleOp } from './scale.js';
import type { OpDef } from './types.js';

export type OpName =
  | 'fill'
  | 'add'
  | 'sub'
  | 'mul'
  | 'scale'
  | 'relu'
  | 'reluBackward'
  | 'sum'
  | 'mean'
  | 'broadcast'
  | 'reshape';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const opTable: { readonly [K in OpName]: OpDef<any> } = {
  fill: fillOp,
  add: addOp,
  sub: subOp,
  mul: mulOp,
  scale: scaleOp,
  relu: reluOp,
  reluBackward: reluBackwardOp,
  sum: sumOp,
  mean: meanOp,
  broadcast: broadcastOp,
  reshape: reshapeOp,
};
