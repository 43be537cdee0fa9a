// The module base: named parameters and buffers, child modules, train/eval modes, state dicts, freezing.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { assignValues } from '../graph/create.js';
import { onExplainEnd } from '../graph/explain_undo.js';
import { Tensor } from '../graph/tensor.js';

/** Values for one state-dict entry, as read from a checkpoint. */
export interface StateValue {
  shape: readonly number[];
  data: ArrayLike<number>;
}

export abstract class Module {
  private isTraining = true;
  private readonly params = new Map<string, Tensor>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  /** Shapes: depends on the layer; every layer documents its own. */
  abstract forward(x: Tensor): Tensor;

  /** Registers a trainable parameter (requiresGrad is switched on). */
  protected param(name: string, t: Tensor): Tensor {
    t.requiresGrad = true;
    this.params.set(name, t);
    return t;
  }

  /** Registers state that is saved and loaded but not trained (batch-norm running statistics). */
  protected buffer(name: string, t: Tensor): Tensor {
    this.buffers.set(name, t);
    return t;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  get training(): boolean {
    return this.isTraining;
  }

  /** Switches this module and its children to training mode (batch statistics) or not. */
  train(on = true): this {
    this.isTraining = on;
    for (const c of this.children.values()) c.train(on);
    return this;
  }

  /** Inference mode: batch norm uses its running statistics. */
  eval(): this {
    return this.train(false);
  }

  /** Every parameter and buffer under a dotted name (`stages.0.conv1.weight`). */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [n, t] of this.params) out[n] = t;
    for (const [n, t] of this.buffers) out[n] = t;
    for (const [cn, c] of this.children)
      for (const [n, t] of Object.entries(c.stateDict())) out[`${cn}.${n}`] = t;
    return out;
  }

  /** Parameters (not buffers) under their dotted names. */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.params];
    for (const [cn, c] of this.children)
      for (const [n, t] of c.namedParameters()) out.push([`${cn}.${n}`, t]);
    return out;
  }

  /** The parameters that train: those with requiresGrad (frozen ones are left out). */
  parameters(): Tensor[] {
    return this.namedParameters()
      .map(([, t]) => t)
      .filter((t) => t.requiresGrad);
  }

  /** Disposes the gradient of every parameter (frozen ones included), so the next backward() starts from zero. */
  zeroGrad(): void {
    for (const [, p] of this.namedParameters()) {
      const previous = p.grad;
      if (!onExplainEnd(() => (p.grad = previous))) previous?.dispose();
      p.grad = null;
    }
  }

  /** Number of scalar parameters, frozen ones included. */
  parameterCount(): number {
    return this.namedParameters().reduce((n, [, t]) => n + t.size, 0);
  }

  /**
   * Stops gradients to the parameters of this module (transfer learning: a frozen trunk costs no backward
   * kernels, and its batch norms run in inference mode). `except` names sub-modules or parameters by dotted
   * prefix (`'layer4'`, `'fc'`, `'layer3.1.conv2.weight'`) that keep their current setting; each must match
   * at least one parameter.
   */
  freeze({ except = [] }: { except?: readonly string[] } = {}): this {
    const named = this.namedParameters();
    const kept = (name: string, prefix: string) => name === prefix || name.startsWith(`${prefix}.`);
    for (const prefix of except) {
      if (!named.some(([n]) => kept(n, prefix))) {
        throw new ArgumentError(
          `freeze: argument 'except' names '${prefix}', which matches no parameter (expected a dotted prefix such as '${named[0]?.[0].split('.')[0] ?? 'fc'}')`,
        );
      }
    }
    for (const [n, t] of named) if (!except.some((p) => kept(n, p))) t.requiresGrad = false;
    return this;
  }

  /** Whether no parameter of this module trains (true for a module without parameters). */
  get frozen(): boolean {
    return this.namedParameters().every(([, t]) => !t.requiresGrad);
  }

  unfreeze(): this {
    for (const [, t] of this.namedParameters()) t.requiresGrad = true;
    return this;
  }

  /**
   * Loads values by name. With `strict` (default), every entry of the state dict must be given and no
   * unknown name may appear.
   */
  loadStateDict(values: Record<string, StateValue>, { strict = true } = {}): void {
    const own = this.stateDict();
    if (strict) {
      const missing = Object.keys(own).filter((n) => !Object.hasOwn(values, n));
      const unknown = Object.keys(values).filter((n) => !Object.hasOwn(own, n));
      if (missing.length + unknown.length > 0) {
        throw new ArgumentError(
          `loadStateDict: ${missing.length ? `missing ${missing.join(', ')}` : ''}${missing.length && unknown.length ? '; ' : ''}${unknown.length ? `unknown ${unknown.join(', ')}` : ''}`,
        );
      }
    }
    // Every entry is checked before any is assigned, so a bad state dict leaves the module as it was.
    const assignments: [Tensor, StateValue][] = [];
    for (const [name, t] of Object.entries(own)) {
      const v = Object.hasOwn(values, name) ? values[name] : undefined;
      if (!v) continue;
      if (v instanceof Tensor) {
        throw new ArgumentError(
          `loadStateDict: '${name}' is a Tensor; pass host values { shape, data } (e.g. { shape: t.shape, data: await t.data() }, or what loadSafetensors returns)`,
        );
      }
      if (v.shape.length !== t.shape.length || v.shape.some((d, i) => d !== t.shape[i])) {
        throw new ShapeError(
          `loadStateDict: '${name}' has shape ${fmtShape(v.shape)}, expected ${fmtShape(t.shape)}`,
        );
      }
      if (v.data?.length !== t.size) {
        throw new ShapeError(
          `loadStateDict: '${name}' has ${v.data?.length ?? 'no'} values, expected ${t.size} for shape ${fmtShape(t.shape)}`,
        );
      }
      assignments.push([t, v]);
    }
    for (const [t, v] of assignments) assignValues(t, v.data);
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const t of Object.values(this.stateDict())) t.dispose();
  }
}
