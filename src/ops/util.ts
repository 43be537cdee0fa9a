// Helpers shared by op definitions: elementwise dispatch sizes, argument checks.
import { ShapeError, fmtShape } from '../errors.js';
import type { Dispatch, UniformValue } from '../gpu/runtime.js';
import type { ShaderName } from '../gpu/shaders.js';
import { elementLanes } from './lanes.js';
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

/**
 * One dispatch of a flat elementwise kernel over `n` elements: vec4 lanes when n is a multiple of 4 (the
 * shader's `V` alias), the element count in V units as the first uniform, then `extra`.
 */
export function elementwiseDispatch(
  shader: ShaderName,
  buffers: GPUBuffer[],
  n: number,
  extra: UniformValue[] = [],
): Dispatch {
  const { groups, regions } = elementLanes(n);
  return {
    shader,
    constants: { WG: ELEMENTWISE_WG },
    regions,
    uniforms: [groups, ...extra],
    buffers,
    workgroups: workgroupsFor(groups),
  };
}
