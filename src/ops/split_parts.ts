// The parts of a split GEMM (output rows, K) and of a split conv pass (batch), planned with each op's own kernels.
import type { Dispatch } from '../gpu/runtime.js';
import { GpuError } from '../errors.js';
import type { KernelIO, TensorSpec } from './types.js';
import {
  type GemmLayout,
  type PartBinding,
  blockStarts,
  partStride,
  planBatchSplit,
  planGemmSplit,
  planPart,
  splitLimits,
  sumParts,
  wholeIO,
} from './split.js';

/** GEMM sizes of one part, with the stored row lengths of a and b (the whole tensors' when windows of them). */
export interface GemmPartDims {
  m: number;
  n: number;
  k: number;
  lda?: number;
  ldb?: number;
}

/** Throws LimitError when an [M,K]·[K,N] product with these operands cannot be split to fit `limits`. */
export function checkGemmSplit(
  op: string,
  dims: { m: number; n: number; k: number },
  layout: GemmLayout,
  limits: Readonly<Record<string, number>>,
): void {
  planGemmSplit(op, dims.m, dims.n, dims.k, layout, splitLimits(limits));
}

/**
 * The dispatches of io's GEMM (inputs a, b, bias?; output 0), in parts when a tensor is larger than one binding:
 * `plan` plans one part with the op's kernels. With K split, each part writes its partial product to scratch
 * (the bias in the first only) and a sum pass adds them, in order, into the output rows.
 */
export function splitGemm(
  io: KernelIO,
  op: string,
  layout: GemmLayout,
  dims: { m: number; n: number; k: number },
  plan: (sub: KernelIO, part: GemmPartDims) => Dispatch[],
): Dispatch[] {
  const { m, n, k } = dims;
  const lim = splitLimits(io.limits);
  const split = planGemmSplit(op, m, n, k, layout, lim);
  if (!split) return plan(wholeIO(io, op), dims);
  const { transposeA: tA, transposeB: tB } = layout;
  const [a, b, bias] = io.inputs;
  const out = io.outputs[0].buffer;
  const count = Math.ceil(k / split.depth);
  const parts = count > 1 ? io.scratch(count * partStride(split.rows * n, lim.align) * 4) : null;
  const dispatches: Dispatch[] = [];
  for (const m0 of blockStarts(m, split.rows)) {
    const mb = Math.min(split.rows, m - m0);
    const stride = partStride(mb * n, lim.align);
    blockStarts(k, split.depth).forEach((k0, p) => {
      const kb = Math.min(split.depth, k - k0);
      const aPart: PartBinding = {
        buffer: a.buffer,
        spec: { shape: tA ? [kb, mb] : [mb, kb], dtype: 'float32' },
        window: tA ? [k0 * m + m0, (k0 + kb - 1) * m + m0 + mb] : [m0 * k + k0, (m0 + mb - 1) * k + k0 + kb],
      };
      const bPart: PartBinding = {
        buffer: b.buffer,
        spec: { shape: tB ? [n, kb] : [kb, n], dtype: 'float32' },
        window: tB ? [k0, (n - 1) * k + k0 + kb] : [k0 * n, (k0 + kb) * n],
      };
      const outSpec: TensorSpec = { shape: [mb, n], dtype: 'float32' };
      const outPart: PartBinding = parts
        ? { buffer: parts, spec: outSpec, window: [p * stride, p * stride + mb * n] }
        : { buffer: out, spec: outSpec, window: [m0 * n, (m0 + mb) * n] };
      const inputs = bias && p === 0 ? [aPart, bPart, bias] : [aPart, bPart];
      const part = { m: mb, n, k: kb, lda: tA ? m : k, ldb: tB ? k : n };
      dispatches.push(...planPart(io, op, inputs, [outPart], (sub) => plan(sub, part)));
    });
    if (parts) dispatches.push(...sumParts(io, op, parts, count, mb * n, stride, out, m0 * n));
  }
  return dispatches;
}

/** How a conv pass meets its batch: the inputs indexed by batch, and whether output 0 sums over the batch (dw). */
export interface BatchLayout {
  batched: readonly number[];
  names: readonly string[];
  /** Output 0 is a sum over the batch (the filter gradient) rather than batched. */
  sums: boolean;
}

/** Images per part for these specs, or null when no split is needed (see planBatchSplit). */
function batchImages(
  op: string,
  inputs: readonly TensorSpec[],
  output: TensorSpec,
  layout: BatchLayout,
  limits: Readonly<Record<string, number>>,
): number | null {
  const lim = splitLimits(limits);
  const n = inputs[layout.batched[0]].shape[0];
  const named = (s: TensorSpec, name: string) => ({ name, shape: s.shape });
  const perImage = layout.batched.map((i) => named(inputs[i], `argument '${layout.names[i]}'`));
  const whole = inputs.flatMap((s, i) =>
    layout.batched.includes(i) ? [] : [named(s, `argument '${layout.names[i]}'`)],
  );
  if (layout.sums) whole.push(named(output, 'output'));
  else perImage.push(named(output, 'output'));
  const size = output.shape.reduce((x, y) => x * y, 1);
  // Summed parts live side by side in one scratch buffer that the sum pass binds whole.
  const fits = (images: number) =>
    !layout.sums || images >= n || Math.ceil(n / images) * partStride(size, lim.align) <= lim.elements;
  return planBatchSplit(op, n, perImage, whole, lim, fits);
}

/** Throws LimitError when a conv pass on these specs cannot be split by batch to fit `limits`. */
export function checkBatchSplit(
  op: string,
  inputs: readonly TensorSpec[],
  output: TensorSpec,
  layout: BatchLayout,
  limits: Readonly<Record<string, number>>,
): void {
  batchImages(op, inputs, output, layout, limits);
}

/**
 * The dispatches of a conv pass, in parts of the batch when a tensor is larger than one binding: `plan` plans
 * `images` images with the op's kernels. A summed output (dw) gets one partial per part, added in order.
 */
export function splitBatch(
  io: KernelIO,
  op: string,
  layout: BatchLayout,
  plan: (sub: KernelIO, images: number) => Dispatch[],
): Dispatch[] {
  const specs = io.inputs.map((t) => t.spec);
  const output = io.outputs[0];
  const n = specs[layout.batched[0]].shape[0];
  const images = batchImages(op, specs, output.spec, layout, io.limits);
  if (images === null) return plan(wholeIO(io, op), n);
  if (io.epilogue.slice) {
    // The concatStore pass stores slices only where nothing splits (graph/fusion/concat_store.ts).
    throw new GpuError(`${op}: a store into a concat slice cannot be split by batch`);
  }
  const lim = splitLimits(io.limits);
  const size = output.spec.shape.reduce((x, y) => x * y, 1);
  const starts = blockStarts(n, images);
  const stride = partStride(size, lim.align);
  const parts = layout.sums ? io.scratch(starts.length * stride * 4) : null;
  const windowed = (t: KernelIO['inputs'][number], n0: number, nb: number): PartBinding => {
    const image = t.spec.shape.reduce((x, y) => x * y, 1) / n;
    return {
      buffer: t.buffer,
      spec: { shape: [nb, ...t.spec.shape.slice(1)], dtype: t.spec.dtype },
      window: [n0 * image, (n0 + nb) * image],
    };
  };
  const dispatches: Dispatch[] = [];
  starts.forEach((n0, p) => {
    const nb = Math.min(images, n - n0);
    const inputs = io.inputs.map((t, i) => (layout.batched.includes(i) ? windowed(t, n0, nb) : t));
    const out: PartBinding = parts
      ? { buffer: parts, spec: output.spec, window: [p * stride, p * stride + size] }
      : windowed(output, n0, nb);
    dispatches.push(...planPart(io, op, inputs, [out], (sub) => plan(sub, nb)));
  });
  if (parts) dispatches.push(...sumParts(io, op, parts, starts.length, size, stride, output.buffer, 0));
  return dispatches;
}
