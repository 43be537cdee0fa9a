// The ReLU mask on a kernel's load of a gradient: the one generator of the DY region that dy-reading kernels share.
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import type { Dispatch } from '../../gpu/runtime.js';
import type { RefTensor, TensorSpec } from '../types.js';

/** The element type a kernel reads dy as: a WGSL type name or a file's alias (`V`). */
export type MaskType = 'f32' | 'vec4f' | 'V';

/**
 * Kernels that read a gradient dy (conv backprop to input and filter, batch-norm backward) call
 * `load_dy(j: u32) -> T` (j in units of T) instead of `dy[j]`; their files hold the plain load in a `DY` region.
 * This is that region for a kernel fused with the reluBackward before it (the 'reluMask' pass): it binds relu's
 * output y at `binding` (as `maskY`, the buffer appended after the kernel's own) and returns dy[j] where
 * y[j] > 0, else 0: what reluBackward computes, so fused and unfused kernels see the same gradient.
 */
export function reluMaskRegion(type: MaskType, binding: number): Record<string, string> {
  if (!['f32', 'vec4f', 'V'].includes(type)) throw new ArgumentError(`reluMaskRegion: bad type '${type}'`);
  if (!Number.isInteger(binding) || binding < 1)
    throw new ArgumentError(`reluMaskRegion: binding must be an integer >= 1, got ${binding}`);
  return {
    DY: [
      `@group(0) @binding(${binding}) var<storage, read> maskY: array<${type}>;`,
      '',
      `fn load_dy(j: u32) -> ${type} {`,
      `  return select(${type}(0.0), dy[j], maskY[j] > ${type}(0.0));`,
      '}',
    ].join('\n'),
  };
}

/** `d` reading its dy through the mask of relu's output `y`, bound after d's own buffers; `d` itself for null. */
export function withReluMask(d: Dispatch, type: MaskType, y: GPUBuffer | null): Dispatch {
  if (!y) return d;
  const regions = { ...d.regions, ...reluMaskRegion(type, d.buffers.length + 1) };
  return { ...d, regions, buffers: [...d.buffers, y] };
}

/** Attributes of an op that can read its dy through a ReLU mask: set by the 'reluMask' pass, never by users. */
export interface MaskAttrs {
  /** The last input is relu's output y, of dy's shape; the kernel reads dy * (y > 0). */
  reluMask?: boolean;
}

/**
 * Checks the mask input of an op with `own` inputs of its own (dy at `dy`): present exactly when attrs.reluMask,
 * float32, of dy's shape. Returns the op's own inputs.
 */
export function checkMaskInput(
  op: string,
  inputs: readonly TensorSpec[],
  attrs: MaskAttrs,
  own: number,
  dy: number,
): readonly TensorSpec[] {
  const want = attrs.reluMask ? own + 1 : own;
  if (attrs.reluMask !== undefined && typeof attrs.reluMask !== 'boolean')
    throw new ShapeError(`${op}: attribute 'reluMask' must be a boolean, got ${String(attrs.reluMask)}`);
  if (inputs.length !== want)
    throw new ShapeError(
      `${op}: expected ${want} inputs${attrs.reluMask ? ' (with the mask y)' : ''}, got ${inputs.length}`,
    );
  if (attrs.reluMask) {
    const y = inputs[own];
    const d = inputs[dy].shape;
    if (y.dtype !== 'float32' || y.shape.length !== d.length || y.shape.some((v, i) => v !== d[i]))
      throw new ShapeError(
        `${op}: the mask y ${fmtShape(y.shape)} must be float32 of dy's shape ${fmtShape(d)}`,
      );
  }
  return inputs.slice(0, own);
}

/** The float64 reference of the masked gradient: the op's own inputs with dy replaced by dy * (y > 0). */
export function refMasked(
  inputs: readonly RefTensor[],
  attrs: MaskAttrs,
  own: number,
  dy: number,
): RefTensor[] {
  const list = inputs.slice(0, own);
  if (!attrs.reluMask) return list;
  const y = inputs[own].data;
  const g = list[dy];
  list[dy] = { shape: g.shape, data: g.data.map((v, i) => (y[i] > 0 ? v : 0)) };
  return list;
}
