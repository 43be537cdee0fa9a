// Helpers shared by op definitions: workgroup counts of one-element-per-invocation kernels, argument checks.
import { ShapeError, fmtShape } from '../errors.js';
import type { TensorSpec } from './types.js';

/** Threads per workgroup for simple one-element-per-invocation kernels. */
export const ELEMENTWISE_WG = 64;

export function workgroupsFor(n: number, perWorkgroup = ELEMENTWISE_WG): number {
  return Math.max(1, Math.ceil(n / perWorkgroup));
}

export function expectFloat(op: string, arg: string, spec: TensorSpec): void {
  if (spec.dtype !== 'float32')
    throw new ShapeError(`${op}: argument '${arg}' must be float32, got ${spec.dtype}`);
}

export function expectRank(op: string, arg: string, spec: TensorSpec, rank: number, layout?: string): void {
  if (spec.shape.length !== rank) {
    throw new ShapeError(
      `${op}: argument '${arg}' must have rank ${rank}${layout ? ` (${layout})` : ''}, got shape ${fmtShape(spec.shape)}`,
    );
  }
}
