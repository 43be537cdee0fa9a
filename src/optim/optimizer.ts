// Base class of the optimizers: parameters, learning rate, lazily created per-parameter state, one-submit steps.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { tensor, zeros } from '../graph/create.js';
import { flush } from '../graph/scheduler.js';
import { Tensor } from '../graph/tensor.js';
import { explainingNow, onExplainEnd } from '../graph/explain_undo.js';
import { requireRuntime } from '../graph/state.js';
import { keep } from '../graph/tidy.js';
import { MAX_GROUP } from '../ops/optimizer_kernel.js';
import { checkInteger, checkRange } from '../options.js';

/** A parameter's optimizer state: its own step count and its state buffers (same shape as the parameter). */
interface ParamState {
  step: number;
  buffers: Tensor[];
}

/** One parameter to update in this step: it, its gradient, its state buffers and its step count (1 on its first). */
export interface UpdateTarget {
  p: Tensor;
  grad: Tensor;
  buffers: readonly Tensor[];
  step: number;
}

/** The option every optimizer takes beside its hyper-parameters. */
export interface GroupOptions {
  /**
   * The most parameters one update kernel updates (default 16, the most the kernel generator writes). Fewer run
   * together where the device binds fewer storage buffers per shader stage: llvmpipe binds 16 (8 parameters for
   * plain SGD, 5 with momentum, 4 for Adam), SwiftShader 12. 1 gives one kernel per parameter, as does
   * `init({ fusion: { groupedUpdate: false } })` (or `fusion: false`) for every optimizer.
   */
  groupSize?: number;
}

/**
 * An optimizer over a fixed list of parameters. Subclasses name their state buffers and record one in-place
 * update op per group of parameters (in parameter order); `step()` then submits forward, backward and update
 * together.
 */
export abstract class Optimizer {
  readonly params: readonly Tensor[];
  private rate = 0;
  private readonly state = new Map<number, ParamState>();
  /** See GroupOptions.groupSize. */
  readonly groupSize: number;

  constructor(
    /** The optimizer's name in error messages. */
    protected readonly owner: string,
    params: readonly Tensor[],
    lr: number,
    /** Names of the per-parameter state buffers, in the order `update` receives them. */
    private readonly bufferNames: readonly string[],
    groupSize = MAX_GROUP,
  ) {
    checkInteger(owner, 'groupSize', groupSize, 1);
    checkRange(owner, 'groupSize', groupSize, 1, MAX_GROUP);
    if (!Array.isArray(params)) throw new ArgumentError(`${owner}: 'params' must be an array of tensors`);
    const seen = new Map<Tensor, number>();
    params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new ArgumentError(`${owner}: params[${i}] is not a Tensor`);
      p.assertUsable(owner, `params[${i}]`);
      if (p.node) throw new ArgumentError(`${owner}: params[${i}] ${p.toString()} is not a leaf tensor`);
      if (p.dtype !== 'float32')
        throw new ArgumentError(`${owner}: params[${i}] must be float32, got ${p.dtype}`);
      const first = seen.get(p);
      if (first !== undefined)
        throw new ArgumentError(`${owner}: params[${i}] is the same tensor as params[${first}]`);
      seen.set(p, i);
    });
    // Frozen parameters may be listed (they are skipped until unfrozen), but an optimizer with nothing to train
    // is almost always a mistake: a model frozen whole, or the trunk's parameters passed instead of the head's.
    if (!params.some((p) => p.requiresGrad)) {
      throw new ArgumentError(
        `${owner}: none of the ${params.length} params requires grad (${params.length ? 'all are frozen' : 'the list is empty'}); pass the trainable ones, e.g. model.parameters()`,
      );
    }
    this.params = [...params];
    this.lr = lr;
    this.groupSize = groupSize;
  }

  /** The learning rate used by the next step (set it from a schedule between steps). */
  get lr(): number {
    return this.rate;
  }

  set lr(value: number) {
    checkRange(this.owner, 'lr', value, 0);
    this.rate = value;
  }

  /** How many parameters one update kernel may bind on a device with these limits (maxGroupSize of its kernel). */
  protected abstract groupLimit(limits: Readonly<Record<string, number>>): number;

  /** Records the in-place update of a group of parameters as one op (1 to groupLimit of them, in order). */
  protected abstract update(group: readonly UpdateTarget[]): void;

  /**
   * Records the update of every parameter that requires grad and has a `.grad` (others are skipped), in groups
   * of up to `groupSize` (fewer where the device binds fewer buffers) in parameter order, one kernel per group;
   * then flushes: the pending forward, backward and update work goes to the GPU as one submit. The promise
   * settles when the device has done it (see `flush`); a training loop need not await it.
   */
  step(): Promise<void> {
    // Under explain(): step counts and state buffers made by this step go back to what they were at its end
    // (the counts are only copied then: a real step pays nothing).
    if (explainingNow()) {
      const counts = new Map([...this.state].map(([i, s]) => [i, s.step]));
      onExplainEnd(() => {
        for (const [i, s] of this.state) {
          const before = counts.get(i);
          if (before !== undefined) s.step = before;
          else {
            for (const b of s.buffers) b.dispose();
            this.state.delete(i);
          }
        }
      });
    }
    const targets: UpdateTarget[] = [];
    this.params.forEach((p, i) => {
      if (!p.requiresGrad || !p.grad) return;
      let s = this.state.get(i);
      if (!s) {
        s = { step: 0, buffers: this.bufferNames.map(() => keep(zeros(p.shape))) };
        this.state.set(i, s);
      }
      s.step++;
      // A parameter without elements has nothing to update; its step still counts.
      if (p.size > 0) targets.push({ p, grad: p.grad, buffers: s.buffers, step: s.step });
    });
    if (targets.length > 0) {
      const runtime = requireRuntime(`${this.owner}.step`);
      // With the groupedUpdate fusion switched off (init's `fusion` option), one kernel per parameter.
      const grouped = runtime.fusion.groupedUpdate;
      const k = grouped ? Math.min(this.groupSize, this.groupLimit(runtime.info.limits)) : 1;
      for (let i = 0; i < targets.length; i += k) this.update(targets.slice(i, i + k));
    }
    return flush();
  }

  /** Disposes every parameter's gradient, so the next backward() starts from zero. */
  zeroGrad(): void {
    for (const p of this.params) {
      const previous = p.grad;
      if (!onExplainEnd(() => (p.grad = previous))) previous?.dispose();
      p.grad = null;
    }
  }

  /**
   * The state by name: `<i>.<buffer>` is parameter i's state buffer (the optimizer's own tensor: read it,
   * do not dispose it) and `<i>.step` a new int32 scalar tensor with its step count. Parameters that have not
   * stepped yet have no entries.
   */
  stateDict(): Record<string, Tensor> {
    const out = Object.create(null) as Record<string, Tensor>;
    for (const [i, s] of [...this.state].sort((a, b) => a[0] - b[0])) {
      this.bufferNames.forEach((name, k) => (out[`${i}.${name}`] = s.buffers[k]));
      out[`${i}.step`] = tensor([s.step], [], { dtype: 'int32' });
    }
    return out;
  }

  /**
   * Replaces the state with copies of the tensors of a `stateDict()` (from this optimizer type over
   * parameters of the same shapes). Every parameter named must come with all its buffers and its step.
   */
  async loadStateDict(dict: Record<string, Tensor>): Promise<void> {
    if (typeof dict !== 'object' || dict === null) {
      throw new ArgumentError(
        `${this.owner}.loadStateDict: expected an object of tensors, got ${String(dict)}`,
      );
    }
    const wanted = [...this.bufferNames, 'step'];
    const byParam = new Map<number, Map<string, Tensor>>();
    for (const [key, t] of Object.entries(dict)) {
      if (!(t instanceof Tensor)) {
        throw new ArgumentError(`${this.owner}.loadStateDict: '${key}' is not a Tensor`);
      }
      t.assertUsable(`${this.owner}.loadStateDict`, key);
      const match = /^(0|[1-9]\d*)\.(.+)$/.exec(key);
      const i = match ? Number(match[1]) : -1;
      if (!match || i >= this.params.length || !wanted.includes(match[2])) {
        throw new ArgumentError(
          `${this.owner}.loadStateDict: unexpected key '${key}' (expected <param index>.{${wanted.join(',')}} with ${this.params.length} params)`,
        );
      }
      const name = match[2];
      const shape = name === 'step' ? [] : this.params[i].shape;
      const dtype = name === 'step' ? 'int32' : 'float32';
      if (t.dtype !== dtype || t.shape.length !== shape.length || t.shape.some((d, k) => d !== shape[k])) {
        throw new ShapeError(
          `${this.owner}.loadStateDict: '${key}' must be ${dtype} ${fmtShape(shape)}, got ${t.dtype} ${fmtShape(t.shape)}`,
        );
      }
      if (!byParam.has(i)) byParam.set(i, new Map());
      byParam.get(i)!.set(name, t);
    }
    const loaded = new Map<number, ParamState>();
    for (const [i, entries] of byParam) {
      const missing = wanted.filter((name) => !entries.has(name));
      if (missing.length > 0) {
        throw new ArgumentError(`${this.owner}.loadStateDict: parameter ${i} lacks ${missing.join(', ')}`);
      }
      const step = (await entries.get('step')!.int32Data())[0];
      if (step < 1)
        throw new ArgumentError(`${this.owner}.loadStateDict: '${i}.step' must be >= 1, got ${step}`);
      const buffers: Tensor[] = [];
      for (const name of this.bufferNames) {
        buffers.push(keep(tensor(await entries.get(name)!.data(), this.params[i].shape)));
      }
      loaded.set(i, { step, buffers });
    }
    for (const s of this.state.values()) for (const b of s.buffers) b.dispose();
    this.state.clear();
    for (const [i, s] of loaded) this.state.set(i, s);
  }
}
