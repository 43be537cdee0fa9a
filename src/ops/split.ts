// Ops on tensors larger than one storage binding: their work in parts, each binding aligned windows of the buffers.
import { LimitError, fmtShape } from '../errors.js';
import { checkBufferBytes, fmtBytes } from '../gpu/limits.js';
import type { BufferRange, Dispatch } from '../gpu/runtime.js';
import { copyRows } from './concat.js';
import type { KernelIO, TensorSpec } from './types.js';
import { ELEMENTWISE_WG, workgroupsFor } from './util.js';

/** What splitting plans against: the most floats one binding holds, and the byte alignment of a window's offset. */
export interface SplitLimits {
  elements: number;
  bytes: number;
  align: number;
  /** The limit that sets `bytes`, for messages. */
  limit: 'maxStorageBufferBindingSize' | 'maxBufferSize';
}

export function splitLimits(limits: Readonly<Record<string, number>>): SplitLimits {
  const binding = limits.maxStorageBufferBindingSize ?? Infinity;
  const buffer = limits.maxBufferSize ?? Infinity;
  const bytes = Math.min(binding, buffer);
  return {
    elements: Math.floor(bytes / 4),
    bytes,
    align: limits.minStorageBufferOffsetAlignment ?? 256,
    limit: binding <= buffer ? 'maxStorageBufferBindingSize' : 'maxBufferSize',
  };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

/** The fewest rows of `rowElements` floats whose bytes are a multiple of `align`: windows start at such rows. */
export function granule(rowElements: number, align: number): number {
  return align / gcd(rowElements * 4, align);
}

/** `n` rounded down to a multiple of `g` (0 when n < g). */
function floorTo(n: number, g: number): number {
  return Math.floor(n / g) * g;
}

/** The LimitError for a tensor that no split fits in one binding. */
export function splitError(
  op: string,
  tensor: string,
  spec: TensorSpec | { shape: readonly number[] },
  lim: SplitLimits,
  why: string,
): LimitError {
  const bytes = spec.shape.reduce((a, b) => a * b, 1) * 4;
  return new LimitError(
    `${op}: ${tensor} ${fmtShape(spec.shape)} needs ${fmtBytes(bytes)}, more than the device's ${lim.limit} of ${fmtBytes(lim.bytes)}, and ${op} cannot split it: ${why}`,
    lim.limit,
    bytes,
  );
}

/** One tensor a part binds: a buffer, the part's view of it, and the window [start, end) in floats, or whole. */
export interface PartBinding {
  buffer: GPUBuffer;
  spec: TensorSpec;
  window?: readonly [number, number];
}

/**
 * A KernelIO over the same device for one part: `inputs` and `outputs` as the part sees them (shapes of the
 * part). Scratch buffers the part asks for must fit one binding, as everything a kernel binds whole.
 */
function partIO(
  io: KernelIO,
  op: string,
  inputs: readonly KernelIO['inputs'][number][],
  outputs: readonly KernelIO['outputs'][number][],
): KernelIO {
  const sub: KernelIO = {
    ...io,
    inputs,
    outputs,
    scratch(bytes) {
      checkBufferBytes(`${op}: a scratch buffer`, bytes, io.limits, true);
      return io.scratch(bytes);
    },
    tune: (req) => io.tune(req, sub),
  };
  return sub;
}

/**
 * Plans one part: `plan` sees a KernelIO whose windowed tensors are stand-ins; their bindings in the dispatches
 * it returns become the real buffers, bound at the windows (whose offsets the caller aligned).
 */
export function planPart(
  io: KernelIO,
  op: string,
  inputs: readonly PartBinding[],
  outputs: readonly PartBinding[],
  plan: (sub: KernelIO) => Dispatch[],
): Dispatch[] {
  // A stand-in per windowed binding, so one buffer bound in two roles (x·xᵀ) keeps two windows.
  const standIns = new Map<GPUBuffer, { buffer: GPUBuffer; range: BufferRange }>();
  const view = (b: PartBinding) => {
    if (!b.window) return { buffer: b.buffer, spec: b.spec };
    const [start, end] = b.window;
    checkBufferBytes(`${op}: a window of a tensor`, (end - start) * 4, io.limits, true);
    const standIn = { label: `${op} window` } as unknown as GPUBuffer;
    standIns.set(standIn, { buffer: b.buffer, range: { offset: start * 4, size: (end - start) * 4 } });
    return { buffer: standIn, spec: b.spec };
  };
  const sub = partIO(io, op, inputs.map(view), outputs.map(view));
  return plan(sub).map((d) => {
    const ranges = d.buffers.map((b, i) => standIns.get(b)?.range ?? d.ranges?.[i]);
    if (!ranges.some((r) => r)) return d;
    return { ...d, buffers: d.buffers.map((b) => standIns.get(b)?.buffer ?? b), ranges };
  });
}

/** A KernelIO for an op that found no split needed: its scratch buffers are still checked against one binding. */
export function wholeIO(io: KernelIO, op: string): KernelIO {
  return partIO(io, op, io.inputs, io.outputs);
}

/** Floats between the starts of two parts' partial results: `len` rounded up to the offset alignment. */
export function partStride(len: number, align: number): number {
  const g = align / 4;
  return Math.ceil(len / g) * g;
}

/**
 * Adds `count` partial results of `len` floats, `stride` apart in `parts`, into `out`'s window starting at float
 * `start` (aligned), in a fixed order: the reduce kernel's sum over the parts, through a staging buffer and a copy
 * when the stride is padded.
 */
export function sumParts(
  io: KernelIO,
  op: string,
  parts: GPUBuffer,
  count: number,
  len: number,
  stride: number,
  out: GPUBuffer,
  start: number,
): Dispatch[] {
  const window: BufferRange = { offset: start * 4, size: len * 4 };
  const sum = (dst: GPUBuffer, ranges?: (BufferRange | undefined)[]): Dispatch => ({
    shader: 'reduce',
    constants: { WG: ELEMENTWISE_WG, OP: 0 },
    uniforms: [1, count, stride, count, 1, { f32: 1 }],
    buffers: [parts, dst],
    ranges,
    workgroups: workgroupsFor(stride),
  });
  if (stride === len) return [sum(out, [undefined, window])];
  checkBufferBytes(`${op}: a scratch buffer`, stride * 4, io.limits, true);
  const staging = io.scratch(stride * 4);
  const copy = copyRows(staging, out, 1, len, { stride: len, offset: 0 }, { stride: len, offset: 0 });
  return [sum(staging), { ...copy, ranges: [undefined, window] }];
}

/** Row and reduction blocks of a split GEMM: `rows` rows of the output per block, `depth` of K per part. */
export interface GemmSplit {
  rows: number;
  depth: number;
}

/** How a GEMM's operands are stored: the transposes and whether a bias [N] is bound. */
export interface GemmLayout {
  transposeA: boolean;
  transposeB: boolean;
  bias: boolean;
  names: readonly [string, string];
}

/**
 * The blocks of an [M,K]·[K,N] product that fit one binding each, or null when the whole one does. Rows of the
 * output split where a's rows (or, transposed, its columns) and the output's rows are windows; K splits where
 * a's (transposed) and b's rows are, the parts' sums added by a second pass. Block starts are aligned.
 * Throws LimitError when nothing fits: b transposed too large (its N rows would need an N split), or one
 * aligned block of output rows too large.
 */
export function planGemmSplit(
  op: string,
  m: number,
  n: number,
  k: number,
  layout: GemmLayout,
  lim: SplitLimits,
): GemmSplit | null {
  const e = lim.elements;
  const { transposeA: tA, transposeB: tB } = layout;
  const aSpec = { shape: tA ? [k, m] : [m, k] };
  const bSpec = { shape: tB ? [n, k] : [k, n] };
  if (m * k <= e && k * n <= e && m * n <= e) return null;
  const word = lim.align / 4;
  if (n > e || (tB && k > e)) {
    const [name, spec] = n > e ? ['output', { shape: [m, n] }] : [`argument '${layout.names[1]}'`, bSpec];
    throw splitError(op, name, spec, lim, 'one row of it is larger than one binding');
  }
  // Rows of the output start aligned in the output, in a (its rows, or transposed its columns).
  const gm = lcm(granule(n, lim.align), tA ? word : granule(k, lim.align));
  // Parts of K start aligned in a (within its rows, or transposed its rows) and in b.
  const gk = lcm(tA ? granule(m, lim.align) : word, tB ? word : granule(n, lim.align));
  const maxParts = Math.ceil(k / gk);
  for (let s = 1; s <= maxParts; s++) {
    const depth = s === 1 ? k : Math.ceil(Math.ceil(k / s) / gk) * gk;
    if (s > 1 && depth >= k) continue;
    const parts = Math.ceil(k / depth);
    if (s > 1 && parts !== s) continue;
    const bWindow = tB ? (n - 1) * k + depth : depth * n;
    if (bWindow > e) continue;
    const aRows = tA ? e - (depth - 1) * m : Math.floor((e - depth) / k) + 1;
    let rows = Math.min(Math.floor(e / n), aRows);
    if (rows >= m) rows = m;
    else rows = floorTo(rows, gm);
    while (rows > 0 && parts > 1 && parts * partStride(rows * n, lim.align) > e) {
      rows = rows === m ? floorTo(m - 1, gm) : rows - gm;
    }
    if (rows > 0) return { rows, depth };
  }
  const [name, spec] =
    m * n > e
      ? ['output', { shape: [m, n] }]
      : m * k > e
        ? [`argument '${layout.names[0]}'`, aSpec]
        : [`argument '${layout.names[1]}'`, bSpec];
  throw splitError(
    op,
    name,
    spec,
    lim,
    `no block of output rows (a multiple of ${gm} for the offset alignment of ${lim.align} bytes) and of K (a multiple of ${gk}) fits; ${layout.names[1]} ${tB ? 'transposed ' : ''}${fmtShape(bSpec.shape)} would need an N split`,
  );
}

/**
 * Images per part of a conv pass over a batch of `n`, or null when every tensor fits whole. `perImage` gives the
 * floats per image of each batched tensor; `whole` the tensors bound whole in every part (filters, bias).
 * Throws LimitError when an aligned group of images, or a whole tensor, does not fit one binding.
 */
export function planBatchSplit(
  op: string,
  n: number,
  perImage: readonly { name: string; shape: readonly number[] }[],
  whole: readonly { name: string; shape: readonly number[] }[],
  lim: SplitLimits,
  extra: (images: number) => boolean = () => true,
): number | null {
  const e = lim.elements;
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  for (const t of whole) {
    if (size(t.shape) > e)
      throw splitError(op, t.name, t, lim, 'it is bound whole by every part of the batch');
  }
  const image = (t: { shape: readonly number[] }) => size(t.shape) / n;
  if (perImage.every((t) => size(t.shape) <= e) && extra(n)) return null;
  const g = perImage.reduce((acc, t) => lcm(acc, granule(image(t), lim.align)), 1);
  const largest = perImage.reduce((a, t) => (image(t) > image(a) ? t : a));
  let images = Math.min(n, floorTo(Math.floor(e / image(largest)), g));
  while (images > 0 && !extra(images)) images -= g;
  if (images < 1) {
    throw splitError(
      op,
      largest.name,
      largest,
      lim,
      `its batch splits into groups of ${g} image(s) (offset alignment ${lim.align} bytes), and one group needs ${fmtBytes(g * image(largest) * 4)}`,
    );
  }
  return images;
}

/** The starts of consecutive blocks of `block` over `total`. */
export function blockStarts(total: number, block: number): number[] {
  const starts: number[] = [];
  for (let s = 0; s < total; s += block) starts.push(s);
  return starts;
}
