// Helpers shared by op definitions: elementwise dispatch sizes, argument checks, axis handling.
import { ShapeError, fmtShape } from '../errors.js';
import type { Dispatch, UniformValue } from '../gpu/runtime.js';
import type { ShaderName } from '../gpu/shaders.js';
import { elementLanes } from './lanes.js';
import { sizeOf, type TensorSpec } from './types.js';

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
 * Normalizes an axis list (negative axes count from the end) and checks the axes are distinct and adjacent.
 * Returns the view [outer, r, inner] that reducing over them needs. `undefined` means all axes.
 */
export function middleAxes(
  op: string,
  shape: readonly number[],
  axis: number | readonly number[] | undefined,
): { axes: number[]; outer: number; r: number; inner: number } {
  const rank = shape.length;
  const raw = axis === undefined ? shape.map((_, i) => i) : typeof axis === 'number' ? [axis] : [...axis];
  const axes = raw.map((a) => (a < 0 ? a + rank : a)).sort((x, y) => x - y);
  axes.forEach((a, i) => {
    if (!Number.isInteger(a) || a < 0 || a >= rank || (i > 0 && a !== axes[i - 1] + 1)) {
      throw new ShapeError(
        `${op}: argument 'axis' must be distinct adjacent axes of shape ${fmtShape(shape)}, got ${JSON.stringify(axis)}`,
      );
    }
  });
  if (axes.length === 0) return { axes, outer: sizeOf(shape), r: 1, inner: 1 };
  return {
    axes,
    outer: sizeOf(shape.slice(0, axes[0])),
    r: sizeOf(shape.slice(axes[0], axes[axes.length - 1] + 1)),
    inner: sizeOf(shape.slice(axes[axes.length - 1] + 1)),
  };
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
