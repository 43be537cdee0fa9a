// wg.defineOp: a user's op (shape rule, WGSL kernel, dispatch, backward, float64 reference) in the same scheduler.
import { ArgumentError, ShapeError } from '../errors.js';
import type { Dispatch, UniformValue } from '../gpu/runtime.js';
import { substituteRegions } from '../gpu/shaders.js';
import { epilogueBuffers, epilogueRegions, type Epilogue } from '../ops/epilogue.js';
import { opTable } from '../ops/table.js';
import {
  sizeOf,
  type BackwardRule,
  type Cost,
  type OpDef,
  type RefTensor,
  type TensorSpec,
} from '../ops/types.js';
import { checkOptionKeys } from '../options.js';
import { record } from './record.js';
import { requireRuntime } from './state.js';
import { Tensor } from './tensor.js';

export interface UserOpDefinition<A extends object = Record<string, never>> {
  /** Unique among built-in and user ops; names the op in errors, plans and profiles. */
  name: string;
  /** Output specs for these inputs and attributes; throw ShapeError (naming the op and argument) when invalid. */
  check(inputs: readonly TensorSpec[], attrs: A): TensorSpec[];
  /**
   * The kernel, in the built-in convention: `@group(0) @binding(0) var<uniform> p: Params;` (used by the code),
   * the inputs then the outputs as storage buffers at bindings 1, 2, ... (inputs `read`, outputs `read_write`),
   * entry point `@compute ... fn main`. Shaders linearize workgroups with `wid.x + wid.y * nwg.x` when a
   * dispatch exceeds 65,535 workgroups (see `dispatch`).
   */
  wgsl: string;
  /** The `Params` fields (in order; a number is a u32, `{ f32 }`/`{ i32 }` otherwise) and the workgroup count. */
  dispatch(inputs: readonly TensorSpec[], attrs: A): { uniforms: UniformValue[]; workgroups: number };
  /** One rule per input (null: no gradient), built from other ops; null for an op without gradients. */
  backward: readonly (BackwardRule<A> | null)[] | null;
  /** The float64 reference: the oracle of wg.gradcheck and evaluateReference. */
  reference(inputs: readonly RefTensor[], attrs: A): RefTensor[];
  /** FLOPs and bytes (default: 0 FLOPs, the bytes of inputs and outputs). */
  cost?(inputs: readonly TensorSpec[], attrs: A): Cost;
  /**
   * The kernel stores its one output through an epilogue in the built-in convention (ops/epilogue.ts), so the
   * scheduler's epilogue pass may run a following inference batch norm, same-shape add and ReLU inside it: the
   * WGSL wraps the output's declaration (`array<f32>`, read_write) in `// @region BINDINGS` ... `// @end BINDINGS`,
   * defines `fn epilogue(acc: f32, i: u32, c: u32) -> f32 { return acc; }` inside `// @region EPILOGUE` ...
   * `// @end EPILOGUE`, and stores `out[i] = epilogue(value, i, c)`, `c` being the channel (last-axis index) of
   * element `i`. Default false.
   */
  epilogue?: boolean;
  /**
   * Attributes that reach only `dispatch`'s uniforms (never its workgroup count or `check`'s shapes): a step that
   * changes them (a rate, a seed) replays its plan with new uniforms instead of planning the op anew. A flush in
   * which such a change alters the workgroups fails with GpuError (see OpDef.uniformAttrs). Default none.
   */
  uniformAttrs?: readonly (keyof A & string)[];
}

/** A user op: call it with its input tensors, then optionally its attributes. */
export type UserOp<A extends object> = ((...args: (Tensor | A)[]) => Tensor) & { readonly op: OpDef<A> };

const userOps = new Map<string, OpDef<object>>();

const KEYS = [
  'name',
  'check',
  'wgsl',
  'dispatch',
  'backward',
  'reference',
  'cost',
  'epilogue',
  'uniformAttrs',
];

/** Where a user op's WGSL declares its output inside the BINDINGS region: the binding and the variable. */
interface EpilogueSlot {
  first: number;
  out: string;
}

/**
 * Checks the epilogue convention of a user op's WGSL (see UserOpDefinition.epilogue) and returns its output
 * binding, where the generated epilogue's buffers start.
 */
function epilogueSlot(name: string, wgsl: string): EpilogueSlot {
  const owner = `defineOp '${name}'`;
  const region = /\/\/ @region BINDINGS\n([\s\S]*?)\/\/ @end BINDINGS\n/.exec(wgsl);
  const decl =
    region && /@binding\((\d+)\)\s*var<storage,\s*read_write>\s*(\w+)\s*:\s*array<f32>/.exec(region[1]);
  if (!decl) {
    throw new ArgumentError(
      `${owner}: with epilogue: true the WGSL must declare its output (var<storage, read_write> NAME: array<f32>) between '// @region BINDINGS' and '// @end BINDINGS' lines`,
    );
  }
  if (!/\/\/ @region EPILOGUE\n[\s\S]*?fn\s+epilogue\s*\([\s\S]*?\/\/ @end EPILOGUE\n/.test(wgsl)) {
    throw new ArgumentError(
      `${owner}: with epilogue: true the WGSL must define fn epilogue(acc: f32, i: u32, c: u32) -> f32 between '// @region EPILOGUE' and '// @end EPILOGUE' lines`,
    );
  }
  return { first: Number(decl[1]), out: decl[2] };
}

/** The WGSL of a user op with `e` generated into its epilogue regions. */
function withEpilogue(name: string, wgsl: string, slot: EpilogueSlot, e: Epilogue): string {
  return substituteRegions(
    wgsl,
    epilogueRegions('f32', slot.first, false, e, slot.out),
    `defineOp '${name}'`,
  );
}

/** Checks the binding convention in the source (the compiler checks the rest). */
function checkConvention(name: string, wgsl: string): void {
  const owner = `defineOp '${name}'`;
  if (!/@binding\(0\)\s*var<uniform>/.test(wgsl)) {
    throw new ArgumentError(`${owner}: the WGSL must declare its Params uniform at @group(0) @binding(0)`);
  }
  if (!/@compute[\s\S]*?fn\s+main\s*\(/.test(wgsl)) {
    throw new ArgumentError(`${owner}: the WGSL must have a @compute entry point named main`);
  }
}

/** Compiles the WGSL on the open device; throws ArgumentError with every compiler message (line:column). */
async function compile(name: string, wgsl: string): Promise<void> {
  const { device } = requireRuntime(`defineOp '${name}'`);
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: `op:${name}`, code: wgsl });
  const info = await module.getCompilationInfo();
  await device.popErrorScope();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length > 0) {
    const lines = errors.map((m) => `  ${m.lineNum}:${m.linePos} ${m.message}`).join('\n');
    throw new ArgumentError(`defineOp '${name}': the WGSL does not compile:\n${lines}`);
  }
}

/**
 * Defines an op from outside the library. It records lazily like a built-in op, joins the same scheduler
 * (pruning, buffer reuse, one submit per flush, replay), its backward rules join autograd, and `wg.gradcheck`
 * and `evaluateReference` use its reference. The WGSL is compiled here (the engine must be initialized) and
 * its compiler errors are thrown as an ArgumentError. Shapes: whatever `check` says.
 */
export async function defineOp<A extends object = Record<string, never>>(
  def: UserOpDefinition<A>,
): Promise<UserOp<A>> {
  if (typeof def !== 'object' || def === null)
    throw new ArgumentError('defineOp: expected a definition object');
  checkOptionKeys('defineOp', def, KEYS);
  const { name } = def;
  if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new ArgumentError(`defineOp: 'name' must be an identifier, got ${JSON.stringify(name)}`);
  }
  if (name in opTable || userOps.has(name)) throw new ArgumentError(`defineOp: an op named '${name}' exists`);
  for (const key of ['check', 'dispatch', 'reference'] as const) {
    if (typeof def[key] !== 'function')
      throw new ArgumentError(`defineOp '${name}': '${key}' must be a function`);
  }
  if (typeof def.wgsl !== 'string') throw new ArgumentError(`defineOp '${name}': 'wgsl' must be a string`);
  if (def.backward !== null && !Array.isArray(def.backward)) {
    throw new ArgumentError(`defineOp '${name}': 'backward' must be an array of rules (or null) or null`);
  }
  checkConvention(name, def.wgsl);
  await compile(name, def.wgsl);
  if (def.epilogue !== undefined && typeof def.epilogue !== 'boolean') {
    throw new ArgumentError(`defineOp '${name}': 'epilogue' must be a boolean, got ${String(def.epilogue)}`);
  }
  const { uniformAttrs } = def;
  if (
    uniformAttrs !== undefined &&
    (!Array.isArray(uniformAttrs) || !uniformAttrs.every((k) => typeof k === 'string'))
  ) {
    throw new ArgumentError(
      `defineOp '${name}': 'uniformAttrs' must be an array of attribute names, got ${JSON.stringify(uniformAttrs)}`,
    );
  }
  const slot = def.epilogue ? epilogueSlot(name, def.wgsl) : null;
  if (slot) {
    // The longest epilogue the scheduler can generate must compile too: its errors belong to the definition.
    const buffer = null as unknown as GPUBuffer;
    const bn = { gamma: buffer, beta: buffer, mean: buffer, variance: buffer, epsilon: 1e-5 };
    await compile(name, withEpilogue(name, def.wgsl, slot, { bn, residual: buffer, relu: true }));
  }
  const shader = `op:${name}` as const;
  const op: OpDef<A> = {
    name,
    check(inputs, attrs) {
      const out = def.check(inputs, attrs);
      if (!Array.isArray(out) || out.length === 0) {
        throw new ShapeError(`${name}: check must return at least one output spec`);
      }
      if (slot && out.length !== 1) {
        throw new ShapeError(
          `${name}: an op with an epilogue must have one output, check returned ${out.length}`,
        );
      }
      return out;
    },
    forward(io, attrs) {
      const specs = io.inputs.map((i) => i.spec);
      const { uniforms, workgroups } = def.dispatch(specs, attrs);
      if (!Number.isInteger(workgroups) || workgroups < 0) {
        throw new ShapeError(`${name}: dispatch returned workgroups ${workgroups}; expected an integer >= 0`);
      }
      const inputs = io.inputs.map((i) => i.buffer);
      const e = io.epilogue;
      if (slot && (e.bn || e.residual || e.relu)) {
        const regions = epilogueRegions('f32', slot.first, false, e, slot.out);
        const code = withEpilogue(name, def.wgsl, slot, e);
        const buffers = [...inputs, ...epilogueBuffers(null, e, io.outputs[0].buffer)];
        // The regions are part of the pipeline's cache key; the code already carries them.
        const d: Dispatch = { shader, code, regions, uniforms: [...uniforms], buffers, workgroups };
        return [d];
      }
      const buffers = [...inputs, ...io.outputs.map((o) => o.buffer)];
      return [{ shader, code: def.wgsl, uniforms: [...uniforms], buffers, workgroups }];
    },
    ...(slot ? { epilogues: ['bn', 'add', 'relu'] as const } : {}),
    ...(def.uniformAttrs ? { uniformAttrs: [...def.uniformAttrs] } : {}),
    backward: def.backward,
    cost:
      def.cost ??
      ((inputs, attrs) => {
        const out = def.check(inputs, attrs);
        const bytes = [...inputs, ...out].reduce((s, t) => s + 4 * sizeOf(t.shape), 0);
        return { flops: 0, bytes };
      }),
    reference: def.reference,
  };
  if (def.backward && def.backward.some((r) => r !== null && typeof r !== 'function')) {
    throw new ArgumentError(`defineOp '${name}': each backward rule must be a function or null`);
  }
  userOps.set(name, op as OpDef<object>);
  const call = (...args: (Tensor | A)[]): Tensor => {
    const last = args[args.length - 1];
    const attrs = (last !== undefined && !(last instanceof Tensor) ? args.pop() : {}) as A;
    return record(op, args as Tensor[], attrs)[0];
  };
  return Object.assign(call, { op });
}
