// The elementwise code generator: an expression tree over N inputs with NumPy broadcasting (or any strided
// view) → one WGSL kernel, a specialization of shaders/elementwise.wgsl.
//
// API (all the fusion pass needs):
//   elementwiseKernel(expr, inputs, out) → Dispatch
//     expr    an `Expr` (expr.ts) over inputs 0..N-1; checked with `checkExpr` first
//     inputs  per input { buffer, view }: `view` from `broadcastView(shape, outShape)` (NumPy rules) or
//             `stridedView(strides, offset)` (element strides per output axis: transpose, slice, broadcastTo)
//     out     { buffer, shape } of the float32 result
//   `expr` fixes the kernel text (so one pipeline serves every shape of a tree); shapes, strides, offsets and
//   the tree's constants travel in uniforms. Adjacent axes that every input walks alike are merged first, so
//   most calls index with one or two divisions; inputs of the output's shape load with no index math at all;
//   four outputs share an invocation (vec4) when the innermost merged axis allows it, and an invocation whose
//   inputs all load that way computes FLAT_PER_INVOCATION of those (vec4s or scalars), a grid apart.
//   The float64 twin is `refElementwise` (src/reference/expr.ts).
import { ArgumentError } from '../../errors.js';
import type { Dispatch, UniformValue } from '../../gpu/runtime.js';
import { sizeOf } from '../types.js';
import { ELEMENTWISE_WG, workgroupsFor } from '../util.js';
import { checkExpr, type Expr } from './expr.js';

/** How an input is read: element strides per output axis (0 along broadcast axes) and a start offset. */
export interface InputView {
  strides: readonly number[];
  offset: number;
}

/** At most this many inputs (one more storage binding is the output): WebGPU's core default is 8 per stage. */
export const MAX_INPUTS = 7;

/**
 * Outputs per invocation (the shader's PER) when every input is read at the output's own index (equal shapes,
 * contiguous: a flat kernel). Such a kernel is loads, one operation and a store, so what each invocation costs
 * besides its memory accesses shows: on llvmpipe, which runs invocations 8 at a time and each storage access as a
 * per-lane loop, an equal-shape add at 32x56x56x64 ran in 6.2-6.7 ms with four vec4 per invocation a grid apart
 * (grid-stride) where one vec4 took 7.7-8.0 ms (three interleaved runs of bench-style raw dispatches; four vec4
 * per invocation WG apart, a workgroup's block, took 7.2-9.0 ms). Grid-stride also keeps a GPU's accesses
 * coalesced at every step. Strided kernels keep one output per invocation: their index math, not the
 * invocation, is what they spend time on.
 */
export const FLAT_PER_INVOCATION = 4;

/** Row-major strides of a contiguous tensor of `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

/** The view of a contiguous `shape` broadcast (NumPy rules: right-aligned, 1 repeats) to `outShape`. */
export function broadcastView(shape: readonly number[], outShape: readonly number[]): InputView {
  const own = contiguousStrides(shape);
  const lead = outShape.length - shape.length;
  const strides = outShape.map((d, i) => {
    const k = i - lead;
    if (k < 0 || shape[k] === 1) return 0;
    if (shape[k] !== d) throw new ArgumentError(`broadcastView: ${shape} does not broadcast to ${outShape}`);
    return own[k];
  });
  return { strides, offset: 0 };
}

export function stridedView(strides: readonly number[], offset = 0): InputView {
  return { strides: [...strides], offset };
}

/** Merges adjacent output axes that every input walks contiguously (and drops length-1 axes). */
export function collapse(
  shape: readonly number[],
  views: readonly InputView[],
): { shape: number[]; strides: number[][] } {
  const dims: number[] = [];
  const strides: number[][] = views.map(() => []);
  shape.forEach((d, axis) => {
    if (d === 1) return;
    const last = dims.length - 1;
    const merges = last >= 0 && views.every((v, k) => strides[k][last] === v.strides[axis] * d);
    if (merges) {
      dims[last] *= d;
      views.forEach((v, k) => (strides[k][last] = v.strides[axis]));
    } else {
      dims.push(d);
      views.forEach((v, k) => strides[k].push(v.strides[axis]));
    }
  });
  return { shape: dims, strides };
}

type Load = 'flat' | 'vec' | 'splat';

/** Emits `compute(i)` and the uniform layout for a collapsed problem. */
function emit(expr: Expr, shape: number[], strides: number[][], offsets: number[], lanes: 1 | 4) {
  const rank = shape.length;
  const contiguous = contiguousStrides(shape);
  const modes: Load[] = strides.map((s, k) => {
    const flat = offsets[k] === 0 && s.every((v, d) => v === contiguous[d]);
    if (flat) return 'flat';
    return lanes === 4 && s[rank - 1] === 1 ? 'vec' : 'splat';
  });
  const fields = ['n: u32'];
  const uniforms: UniformValue[] = [];
  shape.forEach((_, d) => fields.push(`d${d}: u32`));
  const strided = modes.map((m) => m !== 'flat');
  strides.forEach((s, k) => {
    if (!strided[k]) return;
    s.forEach((_, d) => fields.push(`s${k}_${d}: u32`));
    fields.push(`o${k}: u32`);
  });
  const lines: string[] = [];
  if (strided.some(Boolean)) {
    // Coordinates of element i * LANES in the collapsed output shape, innermost first.
    lines.push(`  var rest = i * ${lanes}u;`);
    for (let d = rank - 1; d >= 1; d--) {
      lines.push(`  let c${d} = rest % p.d${d};`, `  rest = rest / p.d${d};`);
    }
    if (rank > 0) lines.push('  let c0 = rest;');
  }
  const bindings: string[] = [];
  strides.forEach((s, k) => {
    const type = modes[k] === 'splat' ? 'f32' : 'V';
    bindings.push(`@group(0) @binding(${k + 1}) var<storage, read> in${k}: array<${type}>;`);
    if (modes[k] === 'flat') {
      lines.push(`  let x${k} = in${k}[i];`);
      return;
    }
    const terms = [`p.o${k}`, ...s.map((_, d) => `c${d} * p.s${k}_${d}`)];
    const at = terms.join(' + ');
    lines.push(
      modes[k] === 'vec' ? `  let x${k} = in${k}[(${at}) / 4u];` : `  let x${k} = V(in${k}[${at}]);`,
    );
  });
  bindings.push(`@group(0) @binding(${strides.length + 1}) var<storage, read_write> out: array<V>;`);
  // One `let` per call node, post-order; constants become uniforms c0, c1, ...
  const consts: number[] = [];
  let temps = 0;
  const value = (e: Expr): string => {
    if (e.kind === 'input') return `x${e.index}`;
    if (e.kind === 'const') {
      consts.push(e.value);
      return `V(p.c${consts.length - 1})`;
    }
    const args = e.args.map(value);
    const name = `t${temps++}`;
    lines.push(`  let ${name} = wg_${e.fn}(${args.join(', ')});`);
    return name;
  };
  const result = value(expr);
  lines.push(`  return ${result};`);
  consts.forEach((_, c) => fields.push(`c${c}: f32`));
  return { fields, bindings, body: lines, consts, modes, uniforms };
}

/** Whether four consecutive outputs can share one invocation: see `elementwiseKernel`. */
function vec4Fits(shape: number[], strides: number[][], offsets: number[]): boolean {
  if (shape.length === 0 || shape[shape.length - 1] % 4 !== 0) return false;
  const inner = shape.length - 1;
  return strides.every((s, k) => {
    if (s[inner] === 0) return true;
    return s[inner] === 1 && offsets[k] % 4 === 0 && s.every((v, d) => d === inner || v % 4 === 0);
  });
}

/**
 * One dispatch computing `expr` over `inputs` into `out`. Shapes: out any (float32); each input read through its
 * view (strides per output axis).
 */
export function elementwiseKernel(
  expr: Expr,
  inputs: readonly { buffer: GPUBuffer; view: InputView }[],
  out: { buffer: GPUBuffer; shape: readonly number[] },
): Dispatch {
  checkExpr('elementwiseKernel', expr, inputs.length);
  if (inputs.length > MAX_INPUTS)
    throw new ArgumentError(`elementwiseKernel: at most ${MAX_INPUTS} inputs, got ${inputs.length}`);
  inputs.forEach(({ view }, k) => {
    if (view.strides.length !== out.shape.length)
      throw new ArgumentError(
        `elementwiseKernel: input ${k} has ${view.strides.length} strides for an output of rank ${out.shape.length}`,
      );
  });
  const n = sizeOf(out.shape);
  const { shape, strides } = collapse(
    out.shape,
    inputs.map((i) => i.view),
  );
  const offsets = inputs.map((i) => i.view.offset);
  const lanes = vec4Fits(shape, strides, offsets) ? 4 : 1;
  const code = emit(expr, shape, strides, offsets, lanes);
  const uniforms: UniformValue[] = [n / lanes, ...shape];
  strides.forEach((s, k) => {
    if (code.modes[k] !== 'flat') uniforms.push(...s, offsets[k]);
  });
  uniforms.push(...code.consts.map((f32) => ({ f32 })));
  const per = code.modes.every((m) => m === 'flat') ? FLAT_PER_INVOCATION : 1;
  const vec =
    lanes === 4
      ? 'alias V = vec4<f32>;\nalias VU = vec4<u32>;\nalias VB = vec4<bool>;'
      : 'alias V = f32;\nalias VU = u32;\nalias VB = bool;';
  return {
    shader: 'elementwise',
    constants: { WG: ELEMENTWISE_WG, PER: per },
    regions: {
      VEC: vec,
      PARAMS: `struct Params {\n${code.fields.map((f) => `  ${f},`).join('\n')}\n}`,
      BINDINGS: code.bindings.join('\n'),
      BODY: `fn compute(i: u32) -> V {\n${code.body.join('\n')}\n}`,
    },
    uniforms,
    buffers: [...inputs.map((i) => i.buffer), out.buffer],
    workgroups: workgroupsFor(n / lanes, ELEMENTWISE_WG * per),
  };
}
