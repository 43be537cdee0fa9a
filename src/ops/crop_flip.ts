// cropFlip: views (crops of the zero-padded image, optionally mirrored) of an NHWC batch as one larger batch.
import { ShapeError, fmtShape } from '../errors.js';
import type { Dispatch } from '../gpu/runtime.js';
import { apply } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import {
  refCropFlip,
  refCropFlipBackward,
  type CropFlipAttrs,
  type CropView,
} from '../reference/crop_flip.js';
import { sizeOf, type OpDef, type TensorSpec } from './types.js';
import { ELEMENTWISE_WG, expectFloat, expectRank, workgroupsFor } from './util.js';

export type { CropFlipAttrs, CropView };

interface CropFlipBackwardAttrs extends CropFlipAttrs {
  /** [N, H, W, C] of the forward input. */
  inShape: readonly number[];
}

const isCount = (v: unknown, min: number) => Number.isInteger(v) && (v as number) >= min;

/** Validates the attributes against an input of shape [N, H, W, C]; returns the output shape. */
function checkAttrs(op: string, inShape: readonly number[], a: CropFlipAttrs): number[] {
  const [n, h, w, c] = inShape;
  if (!isCount(a.pad, 0)) throw new ShapeError(`${op}: argument 'pad' must be an integer >= 0, got ${a.pad}`);
  if (!Array.isArray(a.size) || a.size.length !== 2 || !a.size.every((d) => isCount(d, 1))) {
    throw new ShapeError(`${op}: argument 'size' must be [OH, OW] of integers >= 1, got ${String(a.size)}`);
  }
  const [oh, ow] = a.size;
  const ph = h + 2 * a.pad;
  const pw = w + 2 * a.pad;
  if (oh > ph || ow > pw) {
    throw new ShapeError(
      `${op}: argument 'size' ${oh}x${ow} is larger than the ${h}x${w} image padded by ${a.pad} (${ph}x${pw})`,
    );
  }
  if (!Array.isArray(a.views) || a.views.length === 0) {
    throw new ShapeError(`${op}: argument 'views' must be a non-empty array of { top, left, flip }`);
  }
  a.views.forEach((v, i) => {
    const ok = isCount(v?.top, 0) && isCount(v?.left, 0) && typeof v?.flip === 'boolean';
    if (!ok || v.top + oh > ph || v.left + ow > pw) {
      throw new ShapeError(
        `${op}: argument 'views[${i}]' ${JSON.stringify(v)} must be integers top in [0, ${ph - oh}], left in [0, ${pw - ow}] and a boolean flip`,
      );
    }
  });
  return [a.views.length * n, oh, ow, c];
}

/** Where view v reads: x row = rowStart + oy, x column = colStart + colStep * ox (see crop_flip.wgsl). */
function viewOrigin(view: CropView, w: number, pad: number): [number, number, number] {
  const rowStart = view.top - pad;
  return view.flip ? [rowStart, w + pad - 1 - view.left, -1] : [rowStart, view.left - pad, 1];
}

/** One dispatch per view: each writes (or, backward, adds) its own block, so no view needs a table. */
function viewDispatches(
  shader: 'crop_flip' | 'crop_flip_backward',
  inShape: readonly number[],
  a: CropFlipAttrs,
  buffers: GPUBuffer[],
  elements: number,
): Dispatch[] {
  const [n, h, w, c] = inShape;
  if (elements === 0) return [];
  return a.views.map((view, v) => {
    const [rowStart, colStart, colStep] = viewOrigin(view, w, a.pad);
    const uniforms = [n, h, w, c, a.size[0], a.size[1], v, { i32: rowStart }, { i32: colStart }];
    uniforms.push({ i32: colStep });
    if (shader === 'crop_flip_backward') uniforms.push(v > 0 ? 1 : 0);
    return {
      shader,
      constants: { WG: ELEMENTWISE_WG },
      uniforms,
      buffers,
      workgroups: workgroupsFor(elements),
    };
  });
}

function checkInput(op: string, x: TensorSpec, a: CropFlipAttrs): TensorSpec {
  expectFloat(op, 'x', x);
  expectRank(op, 'x', x, 4, 'NHWC');
  return { shape: checkAttrs(op, x.shape, a), dtype: 'float32' };
}

export const cropFlipOp: OpDef<CropFlipAttrs> = {
  name: 'cropFlip',
  check: ([x], a) => [checkInput('cropFlip', x, a)],
  forward(io, a) {
    const inShape = io.inputs[0].spec.shape;
    const block = inShape[0] * a.size[0] * a.size[1] * inShape[3];
    return viewDispatches('crop_flip', inShape, a, [io.inputs[0].buffer, io.outputs[0].buffer], block);
  },
  backward: [({ inputs: [x], dys, attrs }) => cropFlipBackward(dys[0]!, attrs, x.shape)],
  cost: ([x], a) => ({
    flops: 0,
    bytes: 8 * a.views.length * x.shape[0] * a.size[0] * a.size[1] * x.shape[3],
  }),
  reference: ([x], a) => [refCropFlip(x, a)],
};

export const cropFlipBackwardOp: OpDef<CropFlipBackwardAttrs> = {
  name: 'cropFlipBackward',
  check([dy], a) {
    const expected = checkInput('cropFlipBackward', { shape: a.inShape, dtype: 'float32' }, a).shape;
    expectFloat('cropFlipBackward', 'dy', dy);
    if (dy.shape.length !== 4 || dy.shape.some((d, i) => d !== expected[i])) {
      throw new ShapeError(
        `cropFlipBackward: argument 'dy' must be ${fmtShape(expected)}, got ${fmtShape(dy.shape)}`,
      );
    }
    return [{ shape: a.inShape, dtype: 'float32' }];
  },
  forward(io, a) {
    const buffers = [io.inputs[0].buffer, io.outputs[0].buffer];
    return viewDispatches('crop_flip_backward', a.inShape, a, buffers, sizeOf(a.inShape));
  },
  backward: null,
  cost: ([dy], a) => ({ flops: sizeOf(dy.shape), bytes: 4 * sizeOf(dy.shape) + 8 * sizeOf(a.inShape) }),
  reference: ([dy], a) => [refCropFlipBackward(dy, a, a.inShape)],
};

/**
 * Views of every image of a batch, as one larger batch: view (top, left, flip) is the `size` crop at (top,
 * left) of the image zero-padded by `pad` on every side, mirrored left-right before cropping when `flip` (so
 * (top, left) are coordinates in the mirrored image, as torchvision's ten_crop takes its second five crops).
 * Made on the GPU, one dispatch per view; the gradient adds each crop back where it was read.
 * Shapes: x [N,H,W,C] → [V*N, OH, OW, C], view-major: rows v*N .. v*N+N-1 are view v of images 0 .. N-1.
 */
export function cropFlip(
  x: Tensor,
  views: readonly CropView[],
  options: { size: readonly [number, number]; pad?: number },
): Tensor {
  // Copied, so a caller changing its array later cannot change a recorded node.
  const copied = Array.isArray(views)
    ? views.map((v) => ({ top: v?.top, left: v?.left, flip: v?.flip }))
    : views;
  const size = Array.isArray(options?.size) ? ([...options.size] as [number, number]) : options?.size;
  const attrs: CropFlipAttrs = { views: copied, size, pad: options?.pad ?? 0 };
  return apply(cropFlipOp, [x], attrs, ['x']);
}

/** The backward pass of cropFlip. Shapes: dy [V*N, OH, OW, C] → [N, H, W, C] (`inShape`). */
export function cropFlipBackward(dy: Tensor, attrs: CropFlipAttrs, inShape: readonly number[]): Tensor {
  return apply(cropFlipBackwardOp, [dy], { ...attrs, inShape: [...inShape] }, ['dy']);
}
