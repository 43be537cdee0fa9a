// Producer epilogues: the one generator of the WGSL a kernel applies to each value before storing it (bias,
// batch-norm apply, residual add, ReLU, in that order) and of the buffers it binds for them.
import { ArgumentError } from '../errors.js';
import type { KernelIO } from './types.js';

/** Batch-norm apply with fixed statistics (inference): y = (v - mean) * gamma / sqrt(variance + epsilon) + beta. */
export interface BatchNormEpilogue {
  gamma: GPUBuffer;
  beta: GPUBuffer;
  mean: GPUBuffer;
  variance: GPUBuffer;
  epsilon: number;
}

/**
 * Where a producer stores output 0 when the 'concatStore' pass (graph/fusion/concat_store.ts) made it write its
 * channel slice of a concat output straight away: value i of the producer's [..., channels] output goes to
 * `(i / channels) * total + offset + i % channels` of the output buffer, a [..., total] tensor. All in floats.
 */
export interface StoreSlice {
  /** The producer's own channels (its output's last extent). */
  channels: number;
  /** Channels before the slice in the wider tensor. */
  offset: number;
  /** The wider tensor's channels (its row stride). */
  total: number;
}

/**
 * What the scheduler fused into a producer's store of output 0 (see graph/fusion/epilogue.ts), applied after the
 * producer's own bias, in this order: batch-norm apply, the residual add (a tensor of output 0's shape), ReLU;
 * then, with `slice`, where each value is stored (a producer offers that with OpDef.storesSlice).
 */
export interface Epilogue {
  bn: BatchNormEpilogue | null;
  residual: GPUBuffer | null;
  relu: boolean;
  slice?: StoreSlice | null;
}

/**
 * The ops a producer can run in its store ('bn': batchNormInference, 'add': a same-shape add, 'relu'), always in
 * this order. A producer lists those it offers (`OpDef.epilogues`); an op that can be run so says which it is
 * (`OpDef.asEpilogue`).
 */
export const EPILOGUE_KINDS = ['bn', 'add', 'relu'] as const;
export type EpilogueKind = (typeof EPILOGUE_KINDS)[number];

export const NO_EPILOGUE: Epilogue = Object.freeze({ bn: null, residual: null, relu: false });

/** The element type of the stored values: a WGSL type name ('f32', 'vec4f' or the alias 'V', whose file also aliases VU). */
export type EpilogueType = 'f32' | 'vec4f' | 'V';

/** Storage buffers the epilogue binds besides the output: bias, the four statistics, the residual. */
export function epilogueBindings(bias: boolean, e: Epilogue): number {
  return (bias ? 1 : 0) + (e.bn ? 4 : 0) + (e.residual ? 1 : 0);
}

/** A key that tells epilogues apart in caches (replay): which steps, and the epsilon. */
export function epilogueKey(e: Epilogue): string {
  const slice = e.slice ? `@${e.slice.offset}/${e.slice.channels}/${e.slice.total}` : '';
  return `${e.bn ? `bn${e.bn.epsilon}` : ''}${e.residual ? '+add' : ''}${e.relu ? '+relu' : ''}${slice}`;
}

/**
 * The regions of a producer shader: BINDINGS declares, from binding `first` on, the epilogue's read-only
 * buffers and then the output `out` (read_write); EPILOGUE defines `fn epilogue(acc: T, i: u32, c: u32) -> T`,
 * where `i` indexes the output (and the residual) and `c` the channel (bias and statistics), both in units of T.
 * The shader calls `out[i] = epilogue(value, i, c)`; with `e.slice`, a third region OUT_AT defines
 * `fn outAt(i: u32) -> u32`, where value i is stored, and the shader calls `out[outAt(i)] = epilogue(value, i, c)`
 * (a shader without that region cannot store a slice: shaderCode throws).
 */
export function epilogueRegions(
  type: EpilogueType,
  first: number,
  bias: boolean,
  e: Epilogue,
  out = 'out',
): Record<string, string> {
  if (e.bn && !(Number.isFinite(e.bn.epsilon) && e.bn.epsilon > 0)) {
    throw new ArgumentError(`epilogue: batch-norm epsilon must be a positive number, got ${e.bn.epsilon}`);
  }
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(out)) throw new ArgumentError(`epilogue: bad output name '${out}'`);
  const reads: string[] = [];
  const steps: string[] = [];
  if (bias) {
    reads.push('epBias');
    steps.push('v += epBias[c];');
  }
  if (e.bn) {
    reads.push('epMean', 'epGamma', 'epVar', 'epBeta');
    // The expression batch_norm_apply.wgsl evaluates, so fused and unfused results agree.
    steps.push(
      `v = (v - epMean[c]) * (epGamma[c] * inverseSqrt(epVar[c] + ${e.bn.epsilon.toExponential()})) + epBeta[c];`,
    );
  }
  if (e.residual) {
    reads.push('epResidual');
    steps.push('v += epResidual[i];');
  }
  if (e.relu) {
    // NaN stays NaN, as in PyTorch and the unfused relu: tested on the bits, so no compiler may assume NaN away
    // ('V' files alias VU to V's unsigned twin).
    const u = type === 'f32' ? 'u32' : type === 'vec4f' ? 'vec4u' : 'VU';
    steps.push(
      `v = select(max(v, ${type}(0.0)), v, (bitcast<${u}>(v) & ${u}(0x7fffffffu)) > ${u}(0x7f800000u));`,
    );
  }
  const lines = reads.map(
    (name, k) => `@group(0) @binding(${first + k}) var<storage, read> ${name}: array<${type}>;`,
  );
  lines.push(`@group(0) @binding(${first + reads.length}) var<storage, read_write> ${out}: array<${type}>;`);
  const body = ['  var v = acc;', ...steps.map((s) => `  ${s}`), '  return v;'];
  const regions: Record<string, string> = {
    BINDINGS: lines.join('\n'),
    EPILOGUE: [`fn epilogue(acc: ${type}, i: u32, c: u32) -> ${type} {`, ...body, '}'].join('\n'),
  };
  if (e.slice) regions.OUT_AT = outAtRegion(type, e.slice);
  return regions;
}

/** The OUT_AT region of a slice store, in units of `type` (f32 or vec4f: every size a multiple of the lanes). */
function outAtRegion(type: EpilogueType, slice: StoreSlice): string {
  if (type === 'V') throw new ArgumentError(`epilogue: a slice store needs a known element type, got 'V'`);
  const lanes = type === 'vec4f' ? 4 : 1;
  const { channels, offset, total } = slice;
  const sizes = [channels, offset, total];
  if (sizes.some((v) => !Number.isInteger(v) || v < 0 || v % lanes !== 0) || channels === 0) {
    throw new ArgumentError(
      `epilogue: a slice store of ${channels} channels at ${offset} of ${total} needs multiples of ${lanes} for ${type}`,
    );
  }
  if (offset + channels > total) {
    throw new ArgumentError(
      `epilogue: slice [${offset}, ${offset + channels}) lies outside ${total} channels`,
    );
  }
  const [c, o, t] = sizes.map((v) => `${v / lanes}u`);
  return [`fn outAt(i: u32) -> u32 {`, `  return (i / ${c}) * ${t} + ${o} + i % ${c};`, '}'].join('\n');
}

/** The buffers bound for `epilogueRegions`, in its order: bias, the statistics, the residual, then the output. */
export function epilogueBuffers(bias: GPUBuffer | null, e: Epilogue, out: GPUBuffer): GPUBuffer[] {
  const list: GPUBuffer[] = [];
  if (bias) list.push(bias);
  if (e.bn) list.push(e.bn.mean, e.bn.gamma, e.bn.variance, e.bn.beta);
  if (e.residual) list.push(e.residual);
  list.push(out);
  return list;
}

/**
 * The epilogue side of a producer whose inputs are (x, w[, bias]) and whose shader binds x, w, then the
 * epilogue's buffers from binding 3 (conv2d forward, matmul, dense): the buffers to bind, and the regions for an
 * element type (undefined when nothing is fused and there is no bias: the shader's identity default).
 */
export function producerEpilogue(io: KernelIO): {
  buffers: GPUBuffer[];
  regions: (type: EpilogueType) => Record<string, string> | undefined;
} {
  const bias = io.inputs.length === 3 ? io.inputs[2].buffer : null;
  const e = io.epilogue;
  const fused = bias !== null || e.bn !== null || e.residual !== null || e.relu || Boolean(e.slice);
  return {
    buffers: [io.inputs[0].buffer, io.inputs[1].buffer, ...epilogueBuffers(bias, e, io.outputs[0].buffer)],
    regions: (type) => (fused ? epilogueRegions(type, 3, bias !== null, e) : undefined),
  };
}
