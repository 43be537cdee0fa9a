// Grouped in-place optimizer updates: one op node and one dispatch update K parameters, each with its own buffers.
import { ArgumentError, LimitError, ShapeError, fmtShape } from '../errors.js';
import { record } from '../graph/record.js';
import type { Tensor } from '../graph/tensor.js';
import { maxGroupSize, updateRegions, updateUniforms, type UpdateKernelSpec } from './optimizer_kernel.js';
import { sizeOf, type OpDef, type RefTensor, type TensorSpec } from './types.js';
import { ELEMENTWISE_WG, expectFloat, workgroupsFor } from './util.js';

/**
 * One optimizer's update, per parameter: its kernel spec (buffers, scalars, formula), its attribute checks, the
 * uniform values it derives from the attributes, its float64 reference and its cost per element.
 */
export interface OptimizerUpdate<A> {
  name: string;
  spec: UpdateKernelSpec;
  /**
   * Every attribute: each feeds only the uniform table (`shared`, `own`), never the generated code, so replay
   * re-derives the uniforms of a step whose learning rate or step counts changed (OpDef.uniformAttrs).
   */
  uniformAttrs: readonly (keyof A & string)[];
  /** Throws ArgumentError for attributes that do not describe `k` parameters (a per-parameter list's length). */
  checkAttrs(a: A, k: number): void;
  /** The shared scalars of the uniform table (spec.shared), from the attributes. */
  shared(a: A): Record<string, number>;
  /** Parameter `slot`'s own scalars (spec.own). */
  own(a: A, slot: number): Record<string, number>;
  /** Parameter `slot`'s float64 step: its inputs (spec.buffers' order) → the new values of p and its state. */
  reference(inputs: readonly RefTensor[], a: A, slot: number): RefTensor[];
  flopsPerElement: number;
  bytesPerElement: number;
}

/** The buffers of one parameter in binding order: `p` (read_write), `grad` (read), then its `state` (read_write). */
export function paramBuffers(...state: string[]): UpdateKernelSpec['buffers'] {
  return [
    { name: 'p', access: 'read_write' },
    { name: 'grad', access: 'read' },
    ...state.map((name) => ({ name, access: 'read_write' as const })),
  ];
}

/** Throws unless every hyper-parameter in `scalars` is finite. */
export function checkFinite(op: string, scalars: Record<string, number>): void {
  for (const [name, value] of Object.entries(scalars)) {
    if (!Number.isFinite(value)) throw new ArgumentError(`${op}: '${name}' must be finite, got ${value}`);
  }
}

/** Throws unless `list` has one entry per parameter of the group. */
export function checkPerParameter(op: string, name: string, list: readonly unknown[], k: number): void {
  if (!Array.isArray(list) || list.length !== k) {
    throw new ArgumentError(
      `${op}: '${name}' must list one value per parameter (${k}), got ${Array.isArray(list) ? list.length : String(list)}`,
    );
  }
}

/** Input names of parameter `slot`: `p3`, `grad3`, `v3` (single-parameter groups: `p`, `grad`, `v`). */
function argNames(spec: UpdateKernelSpec, k: number): string[] {
  const names: string[] = [];
  for (let s = 0; s < k; s++) for (const b of spec.buffers) names.push(k === 1 ? b.name : `${b.name}${s}`);
  return names;
}

function checkGroup<A>(u: OptimizerUpdate<A>, k: number, inputs: readonly TensorSpec[], a: A): [] {
  const per = u.spec.buffers.length;
  if (inputs.length !== k * per) {
    throw new ArgumentError(`${u.name}: ${k} parameters take ${k * per} inputs, got ${inputs.length}`);
  }
  const names = argNames(u.spec, k);
  inputs.forEach((spec, i) => {
    expectFloat(u.name, names[i], spec);
    const p = inputs[i - (i % per)];
    if (spec.shape.length !== p.shape.length || spec.shape.some((d, j) => d !== p.shape[j])) {
      throw new ShapeError(
        `${u.name}: argument '${names[i]}' ${fmtShape(spec.shape)} must match '${names[i - (i % per)]}' ${fmtShape(p.shape)}`,
      );
    }
  });
  u.checkAttrs(a, k);
  return [];
}

/** The in-place inputs of a group: each parameter's buffers bound read_write (p and its state). */
function writtenInputs(spec: UpdateKernelSpec, k: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < k; s++) {
    spec.buffers.forEach((b, j) => {
      if (b.access === 'read_write') out.push(s * spec.buffers.length + j);
    });
  }
  return out;
}

function makeOp<A>(u: OptimizerUpdate<A>, k: number): OpDef<A> {
  const per = u.spec.buffers.length;
  // Generated now: a group size the generator refuses fails when the op is recorded.
  const regions = updateRegions(u.spec, k);
  const slotsOf = <T>(list: readonly T[]) =>
    Array.from({ length: k }, (_, s) => list.slice(s * per, (s + 1) * per));
  const elements = (inputs: readonly TensorSpec[]) =>
    slotsOf(inputs).reduce((n, [p]) => n + sizeOf(p.shape), 0);
  return {
    name: u.name,
    check: (inputs, a) => checkGroup(u, k, inputs, a),
    forward(io, a) {
      if (k > maxGroupSize(u.spec, io.limits)) {
        throw new LimitError(
          `${u.name}: ${k} parameters bind ${k * per} storage buffers, more than the device's maxStorageBuffersPerShaderStage of ${io.limits.maxStorageBuffersPerShaderStage}`,
          'maxStorageBuffersPerShaderStage',
          k * per,
        );
      }
      const sizes = slotsOf(io.inputs).map(([p]) => sizeOf(p.spec.shape));
      const own = sizes.map((_, s) => u.own(a, s));
      const total = sizes.reduce((x, y) => x + y, 0);
      return [
        {
          shader: 'optimizer_update',
          constants: { WG: ELEMENTWISE_WG },
          regions,
          uniforms: updateUniforms(u.spec, u.shared(a), own, sizes),
          buffers: io.inputs.map((t) => t.buffer),
          workgroups: workgroupsFor(total),
        },
      ];
    },
    writesInputs: writtenInputs(u.spec, k),
    uniformAttrs: u.uniformAttrs,
    backward: null,
    cost: (inputs) => ({
      flops: u.flopsPerElement * elements(inputs),
      bytes: u.bytesPerElement * elements(inputs),
    }),
    reference: (inputs, a) => slotsOf(inputs).flatMap((slot, s) => u.reference(slot, a, s)),
  };
}

const ops = new WeakMap<OptimizerUpdate<never>, OpDef<never>[]>();

/**
 * The op that updates `k` parameters at once with `u` (one definition per optimizer and group size, made once, so
 * replay recognises it). Its inputs are each parameter's buffers in `u.spec.buffers` order, parameter after
 * parameter; it overwrites every parameter and state buffer in place and has no outputs.
 */
export function groupedUpdateOp<A>(u: OptimizerUpdate<A>, k: number): OpDef<A> {
  const key = u as unknown as OptimizerUpdate<never>;
  let bySize = ops.get(key);
  if (!bySize) ops.set(key, (bySize = []));
  return ((bySize[k] as OpDef<A> | undefined) ??= makeOp(u, k)) as OpDef<A>;
}

/**
 * Records one update of `params` (1 to MAX_GROUP of them (optimizer_kernel.ts), in order), each given as its buffers in `u.spec.buffers`
 * order (p, grad, state...). Shapes: per parameter, every buffer has p's shape; parameters may differ.
 */
export function recordGroupedUpdate<A>(u: OptimizerUpdate<A>, params: readonly Tensor[][], attrs: A): void {
  const op = groupedUpdateOp(u, params.length);
  record(op, params.flat(), attrs, argNames(u.spec, params.length));
}
