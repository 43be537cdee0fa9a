// wg.defineOp: a user's op (shape rule, WGSL kernel, dispatch, backward, float64 reference) in the same scheduler.
import { ArgumentError, ShapeError } from '../errors.js';
import type { UniformValue } from '../gpu/runtime.js';
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
}

/** A user op: call it with its input tensors, then optionally its attributes. */
export type UserOp<A extends object> = ((...args: (Tensor | A)[]) => Tensor) & { readonly op: OpDef<A> };

const userOps = new Map<string, OpDef<object>>();

const KEYS = ['name', 'check', 'wgsl', 'dispatch', 'backward', 'reference', 'cost'];

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
  const shader = `op:${name}` as const;
  const op: OpDef<A> = {
    name,
    check(inputs, attrs) {
      const out = def.check(inputs, attrs);
      if (!Array.isArray(out) || out.length === 0) {
        throw new ShapeError(`${name}: check must return at least one output spec`);
      }
      return out;
    },
    forward(io, attrs) {
      const specs = io.inputs.map((i) => i.spec);
      const { uniforms, workgroups } = def.dispatch(specs, attrs);
      if (!Number.isInteger(workgroups) || workgroups < 0) {
        throw new ShapeError(`${name}: dispatch returned workgroups ${workgroups}; expected an integer >= 0`);
      }
      const buffers = [...io.inputs.map((i) => i.buffer), ...io.outputs.map((o) => o.buffer)];
      return [{ shader, code: def.wgsl, uniforms: [...uniforms], buffers, workgroups }];
    },
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
