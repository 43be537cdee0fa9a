// The grouped optimizer-update generator: an optimizer's one formula → the WGSL regions of
// shaders/optimizer_update.wgsl for K parameters (bindings, uniform table, per-parameter code, compare chain).
//
// API (all the update ops need):
//   updateRegions(spec, k)           the regions for k parameters (cached per spec and k)
//   updateUniforms(spec, shared, own, sizes)  the uniform table, in the struct's order
//   maxGroupSize(spec, limits)       how many parameters one dispatch may update on this device
// A spec names each parameter's buffers, the scalars the group shares and those each parameter has, and writes
// its formula once, for element `i` of one parameter, through the names the generator gives it: the same text
// serves every k, and k = 1 is the single-parameter kernel.
import { ArgumentError } from '../errors.js';
import type { UniformValue } from '../gpu/runtime.js';

/** A scalar of the uniform table: f32, or u32 for flags. */
export interface UpdateScalar {
  name: string;
  type: 'f32' | 'u32';
}

/** The names a formula writes with: its parameter's buffers, the shared scalars and its own scalars. */
export interface FormulaNames {
  /** One of the spec's `buffers` of this parameter (an `array<f32>` to index with `i`). */
  buf(name: string): string;
  /** One of the spec's `shared` scalars. */
  shared(name: string): string;
  /** One of the spec's `own` scalars of this parameter. */
  own(name: string): string;
}

export interface UpdateKernelSpec {
  /** The op's name, for errors. */
  op: string;
  /** Each parameter's storage buffers in binding order, with their access: the parameter, its gradient, state. */
  buffers: readonly { name: string; access: 'read' | 'read_write' }[];
  /** Scalars every parameter of a group shares (hyper-parameters), first in the uniform table. */
  shared: readonly UpdateScalar[];
  /** Scalars each parameter has for itself (step-dependent ones), after its end offset. */
  own: readonly UpdateScalar[];
  /** WGSL statements that update element `i` (a u32 in scope) of one parameter. */
  formula(names: FormulaNames): string;
}

/** The most parameters one kernel updates, whatever the device allows: keeps the generated WGSL small. */
export const MAX_GROUP = 16;

/** WebGPU's default maxStorageBuffersPerShaderStage, for a limits record that lacks it. */
const DEFAULT_STORAGE_BUFFERS = 8;

/**
 * How many parameters one update kernel may bind: the device's storage buffers per shader stage over the buffers
 * each parameter needs, at least 1, at most MAX_GROUP. (llvmpipe here: 16 per stage, SwiftShader: 12.)
 */
export function maxGroupSize(spec: UpdateKernelSpec, limits: Readonly<Record<string, number>>): number {
  const perStage = limits.maxStorageBuffersPerShaderStage ?? DEFAULT_STORAGE_BUFFERS;
  return Math.max(1, Math.min(MAX_GROUP, Math.floor(perStage / spec.buffers.length)));
}

function pick(spec: UpdateKernelSpec, list: readonly { name: string }[], what: string, name: string): void {
  if (!list.some((f) => f.name === name)) {
    throw new ArgumentError(
      `${spec.op}: the update formula names ${what} '${name}', which the spec lacks (has ${list.map((f) => f.name).join(', ') || 'none'})`,
    );
  }
}

/** The global name of parameter `k`'s buffer or scalar `name`: `p_0`, `stepSize_3`. */
const slotName = (name: string, k: number) => `${name}_${k}`;

/**
 * The formula's statements for parameter `k` of a group of `size`, with every name it uses checked against the
 * spec, and its locals checked against the buffers' global names (a local `m_1` would hide parameter 1's m).
 */
function formulaFor(spec: UpdateKernelSpec, k: number, size: number): string {
  const text = spec.formula({
    buf: (name) => (pick(spec, spec.buffers, 'buffer', name), slotName(name, k)),
    shared: (name) => (pick(spec, spec.shared, 'shared scalar', name), `u.${name}`),
    own: (name) => (pick(spec, spec.own, 'per-parameter scalar', name), `u.${slotName(name, k)}`),
  });
  const globals = new Set<string>();
  for (let s = 0; s < size; s++) for (const b of spec.buffers) globals.add(slotName(b.name, s));
  for (const [, local] of text.matchAll(/\b(?:let|var)\s+([A-Za-z_]\w*)/g)) {
    if (globals.has(local)) {
      throw new ArgumentError(
        `${spec.op}: the update formula's local '${local}' hides a buffer of the group`,
      );
    }
  }
  return text;
}

const cache = new WeakMap<UpdateKernelSpec, Map<number, Record<string, string>>>();

/** The regions of shaders/optimizer_update.wgsl that make it update `k` parameters with `spec`'s formula. */
export function updateRegions(spec: UpdateKernelSpec, k: number): Record<string, string> {
  if (!Number.isInteger(k) || k < 1 || k > MAX_GROUP) {
    throw new ArgumentError(`${spec.op}: a group holds 1 to ${MAX_GROUP} parameters, got ${k}`);
  }
  let bySize = cache.get(spec);
  if (!bySize) cache.set(spec, (bySize = new Map()));
  const hit = bySize.get(k);
  if (hit) return hit;
  const fields = spec.shared.map((f) => `  ${f.name}: ${f.type},`);
  const bindings: string[] = [];
  const updates: string[] = [];
  const slots: string[] = [];
  for (let s = 0; s < k; s++) {
    fields.push(
      `  ${slotName('end', s)}: u32,`,
      ...spec.own.map((f) => `  ${slotName(f.name, s)}: ${f.type},`),
    );
    spec.buffers.forEach((b, j) => {
      const binding = 1 + s * spec.buffers.length + j;
      bindings.push(
        `@group(0) @binding(${binding}) var<storage, ${b.access}> ${slotName(b.name, s)}: array<f32>;`,
      );
    });
    const body = formulaFor(spec, s, k)
      .trim()
      .split('\n')
      .map((line) => `  ${line.trim()}`);
    updates.push(`fn ${slotName('update', s)}(i: u32) {`, ...body, '}');
    const local = s === 0 ? 'i' : `i - u.${slotName('end', s - 1)}`;
    slots.push(
      `  if (i < u.${slotName('end', s)}) {`,
      `    ${slotName('update', s)}(${local});`,
      '    return;',
      '  }',
    );
  }
  const regions = {
    PARAMS: `struct Params {\n${fields.join('\n')}\n}`,
    BINDINGS: bindings.join('\n'),
    UPDATES: updates.join('\n'),
    SLOTS: slots.join('\n'),
  };
  bySize.set(k, regions);
  return regions;
}

function uniform(spec: UpdateKernelSpec, field: UpdateScalar, value: number | undefined): UniformValue {
  if (value === undefined || !Number.isFinite(value)) {
    throw new ArgumentError(`${spec.op}: uniform '${field.name}' must be a finite number, got ${value}`);
  }
  return field.type === 'f32' ? { f32: value } : value;
}

/**
 * The uniform table of a group, in the order of the generated `Params`: the shared scalars, then per parameter its
 * end offset (the running sum of `sizes`) and its own scalars. `own` and `sizes` have one entry per parameter.
 */
export function updateUniforms(
  spec: UpdateKernelSpec,
  shared: Readonly<Record<string, number>>,
  own: readonly Readonly<Record<string, number>>[],
  sizes: readonly number[],
): UniformValue[] {
  if (own.length !== sizes.length) {
    throw new ArgumentError(`${spec.op}: ${own.length} parameters' scalars for ${sizes.length} parameters`);
  }
  const out = spec.shared.map((f) => uniform(spec, f, shared[f.name]));
  let end = 0;
  sizes.forEach((n, s) => {
    end += n;
    out.push(end, ...spec.own.map((f) => uniform(spec, f, own[s][f.name])));
  });
  return out;
}
