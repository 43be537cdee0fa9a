// Turns the pending nodes into one command encoder and one submit: prune → plan memory → encode → submit → verdict.
import { ArgumentError, DisposedError, GpuError, NonFiniteError, WebgradError } from '../errors.js';
import { checkBufferBytes, checkWorkgroups, fitsBuffer } from '../gpu/limits.js';
import type { Dispatch, GpuRuntime } from '../gpu/runtime.js';
import { tunerFor } from '../gpu/tuner.js';
import type { KernelIO } from '../ops/types.js';
import { FlushChecks, debug, firstNonFinite } from './checks.js';
import { beginExplainUndo, endExplainUndo } from './explain_undo.js';
import { fuseConcatStores, type SliceStore } from './fusion/concat_store.js';
import { chainEpilogue } from './fusion/epilogue.js';
import { runFusionPasses, type PassResults } from './fusion/passes.js';
import { epilogueKey, type Epilogue } from '../ops/epilogue.js';
import { passReplayStats, replayPasses, type PassTemplate } from './pass_replay.js';
import { describePlan, type Plan, type PlanFusion, type PlannedDispatch } from './plan.js';
import { debugLevel, printPlan } from './plan_text.js';
import {
  ReplayCache,
  boundBuffers,
  copyAttrs,
  matches,
  matchesBuffers,
  dispatchesDiffer,
  sameAt,
  type FlushEntries,
  type PlannedEntry,
} from './replay.js';
import {
  maybeFree,
  requireRuntime,
  state,
  type Node,
  type PendingRead,
  type Storage,
  type Submission,
} from './state.js';
import type { Tensor } from './tensor.js';

/** A Submission being built: its verdict is resolved by the scheduler once the device has judged the work. */
interface OpenSubmission extends Submission {
  resolve(error: WebgradError | null, valueFailure: WebgradError | null): void;
}

function openSubmission(): OpenSubmission {
  let resolve!: (error: WebgradError | null) => void;
  const done = new Promise<WebgradError | null>((r) => (resolve = r));
  const sub: OpenSubmission = {
    done,
    settled: false,
    error: null,
    valueFailure: null,
    resolve(error, valueFailure) {
      sub.settled = true;
      sub.error = error;
      sub.valueFailure = valueFailure;
      resolve(error);
    },
  };
  return sub;
}

/** What one flush is building: its dispatches, the storages it writes, and the submits it depends on. */
interface FlushPlan {
  runtime: GpuRuntime;
  sub: OpenSubmission;
  /** The dispatches in order, each with the nodes it covers. */
  planned: PlannedDispatch[];
  /**
   * The size asked for, per buffer handed out (pooled buffers are bigger): the plan's byte counts. Null when no
   * plan value is made of this flush (no explain, profile or WEBGRAD_DEBUG): then nobody reads them.
   */
  logical: Map<GPUBuffer, number> | null;
  /** Storages that receive new values (op outputs). */
  created: Storage[];
  /** Storages overwritten in place (optimizer updates). */
  written: Storage[];
  /** Earlier submits, still unjudged, whose outputs this one reads. */
  deps: Set<Submission>;
  checks: FlushChecks;
  /** Nodes planned so far (names an op's place in error messages). */
  count: number;
  /** An explain() flush: planned like any other, never submitted; nothing it would overwrite changes. */
  dry: boolean;
  /** Live device bytes when planning began. */
  startBytes: number;
  /** The replay entries of flushes shaped like this one (null: replay off, or a dry run). */
  replay: FlushEntries | null;
  /**
   * The pass template this flush's nodes were made from (pass_replay.ts; null: none), kept as the entries' owner
   * once every node was planned in its slot (no input failed).
   */
  template: PassTemplate | null;
  /**
   * The entries are the template's own (FlushEntries.owner): nodes are matched by their buffers and uniform-only
   * attributes alone.
   */
  trusted: boolean;
  /** Leaves uploaded so far (their buffers are kept by position for replay). */
  uploads: number;
  /** The runtime's plan cache (its hit and miss counts). */
  cache: ReplayCache;
  /** Values the concatStore pass stores in a slice of a concat output instead of a buffer of their own. */
  slices: ReadonlyMap<Storage, SliceStore>;
}

/** The plan cache of each runtime (its buffers belong to that device). */
const replayCaches = new WeakMap<GpuRuntime, ReplayCache>();

/** The runtime's plan cache (hits and misses count planned nodes). */
export function replayStats(runtime: GpuRuntime): ReplayCache {
  let cache = replayCaches.get(runtime);
  if (!cache) replayCaches.set(runtime, (cache = new ReplayCache()));
  return cache;
}

/** The tuner's `recorded` count when each runtime's replay plans were last dropped. */
const plansDroppedAt = new WeakMap<GpuRuntime, number>();

/**
 * Replayed plans keep the kernels they were planned with: once the tuner has recorded a new choice, the plans made
 * before it (which ran the fallback) are dropped, so their flushes are planned again (once) with the choice.
 */
function dropPlansBeforeNewChoices(runtime: GpuRuntime): void {
  const recorded = tunerFor(runtime).recorded;
  if (recorded === (plansDroppedAt.get(runtime) ?? 0)) return;
  plansDroppedAt.set(runtime, recorded);
  replayStats(runtime).clear();
  // Pass templates hold their flush's entries too: they take fresh ones on their next flush.
  for (const t of passReplayStats(runtime).templates.values()) t.entries = null;
}

/** Uploads values set on the host (leaves, assignValues), checking them first when debug.checkFinite is on. */
function upload(plan: FlushPlan, t: Tensor): void {
  const s = t.storage;
  if (!s.upload) return;
  if (debug.checkFinite && s.upload instanceof Float32Array && !plan.checks.hostFailure) {
    const bad = firstNonFinite(s.upload);
    if (bad) {
      plan.checks.hostFailure = new NonFiniteError(
        `checkFinite: the leaf ${t.toString()} holds ${bad[1]} at element ${bad[0]} (values given by tensor(), assignValues or a loader)`,
        'leaf',
        'values',
      );
    }
  }
  if (!s.buffer) {
    const k = plan.uploads++;
    s.buffer = plan.runtime.pool.acquire(s.bytes, plan.replay?.uploads[k]);
    if (plan.replay) plan.replay.uploads[k] = s.buffer;
  }
  plan.logical?.set(s.buffer, s.bytes);
  const u = s.upload;
  plan.runtime.device.queue.writeBuffer(s.buffer, 0, u.buffer, u.byteOffset, u.byteLength);
  s.upload = null;
  s.version++;
}

/** Marks nodes whose outputs nobody holds or reads as dead, back to front, so their inputs may die too. */
function prune(nodes: readonly Node[]): Node[] {
  const live: Node[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    const alive = n.writes.some((s) => s.refs > 0) || n.outputs.some((t) => t.storage.alive);
    if (alive) live.push(n);
    else retire(n);
  }
  return live.reverse();
}

/** A node is done (run, dropped or failed): its inputs lose a reader. */
function retire(n: Node): void {
  n.pending = false;
  for (const t of n.inputs) {
    t.storage.readers--;
    maybeFree(t.storage);
  }
}

/** Why a value depending on `cause` is unknown. */
function dependentFailure(what: string, cause: WebgradError): GpuError {
  return new GpuError(`${what}: it was computed from a value whose computation failed (${cause.message})`, {
    cause,
  });
}

/** No epilogue chain (the default: shared, never written). */
const NO_CHAIN: readonly Node[] = [];

/**
 * Plans buffers for one node and returns its dispatches; frees what no later node reads. With a `chain` (the
 * epilogue pass's followers), the node stores output 0 through them, straight into the last one's output.
 * `covers` are the graph nodes the kernel stands for when a pass made `n` (default: `n`). A node whose input
 * failed runs nothing: its outputs fail too, and what it would overwrite in place keeps its values. A node that
 * matches its replay entry takes the entry's dispatches (`replayNode`); any other is planned by its op
 * (`planFresh`).
 */
function planNode(
  plan: FlushPlan,
  n: Node,
  chain: readonly Node[] = NO_CHAIN,
  covers: readonly Node[] = [n],
): void {
  const { runtime } = plan;
  const tail = chain.length > 0 ? chain[chain.length - 1] : null;
  const outputs: Storage[] = [];
  for (let i = 0; i < n.outputs.length; i++) {
    outputs.push(i === 0 && tail ? tail.outputs[0].storage : n.outputs[i].storage);
  }
  // A value stored in its slice of a concat output: the first kernel storing into it gives that its buffer.
  const slice = plan.slices.size > 0 ? (plan.slices.get(outputs[0]) ?? null) : null;
  if (slice) outputs[0] = slice.target;
  const failed = inputFailure(n, chain);
  if (failed) {
    // Later nodes now meet the entries of other slots: match them in full, and own nothing after this flush.
    plan.trusted = false;
    plan.template = null;
    for (const s of outputs) s.failure = dependentFailure(n.op.name, failed);
    finishGroup(n, chain, outputs);
    return;
  }
  noteInputs(plan, n);
  for (const m of chain) noteInputs(plan, m);
  const previous = plan.replay ? (plan.replay.nodes[plan.count] ?? null) : null;
  const before = previous?.op === n.op ? previous : null;
  const limits = runtime.info.limits;
  const optional = n.op.optionalOutputs;
  for (let i = 0; i < outputs.length; i++) {
    const s = outputs[i];
    // An optional output nobody holds or reads (its tensor disposed, no reader left) is not computed at all.
    if (optional && !s.alive && optional.includes(i)) continue;
    if (s.buffer && plan.slices.size > 0 && targetOf(plan, s)) continue;
    if (!fitsBuffer(s.bytes, limits, !n.op.bindsRanges))
      checkBufferBytes(`${n.op.name}: an output`, s.bytes, limits, !n.op.bindsRanges);
    s.buffer = runtime.pool.acquire(s.bytes, before?.buffers[n.inputs.length + i]);
    plan.logical?.set(s.buffer, s.bytes);
  }
  const epilogue = chainEpilogue(n, chain);
  if (slice) epilogue.slice = { channels: slice.channels, offset: slice.offset, total: slice.total };
  const scratch: GPUBuffer[] = [];
  let dispatches = before ? replayNode(plan, n, before, epilogue, outputs, scratch) : null;
  if (dispatches) plan.cache.hits++;
  else dispatches = planFresh(plan, n, epilogue, outputs, scratch);
  plan.count++;
  const covered = chain.length > 0 ? [...covers, ...chain] : covers;
  for (const dispatch of dispatches) plan.planned.push({ dispatch, nodes: covered });
  if (debug.checkFinite) planFiniteChecks(plan, n, chain, outputs, slice);
  // Dispatches run in order, so buffers released here can be reused by later nodes of the same pass.
  for (const b of scratch) runtime.pool.release(b);
  for (const s of outputs) {
    s.writer = plan.sub;
    s.failure = null;
    plan.created.push(s);
  }
  // A dry run overwrites nothing: in-place targets keep their values and host copies.
  if (!plan.dry) {
    for (const s of n.writes) {
      s.writer = plan.sub;
      s.host = null;
      s.version++;
      plan.written.push(s);
    }
  }
  finishGroup(n, chain, outputs);
}

/** The concat output `s` when the concatStore pass stores slices into it, else null. */
function targetOf(plan: FlushPlan, s: Storage): Storage | null {
  for (const sl of plan.slices.values()) if (sl.target === s) return s;
  return null;
}

/** The failure of an input of `n` or of its chain, if any: then the node's values are unknown too. */
function inputFailure(n: Node, chain: readonly Node[]): WebgradError | null {
  for (const t of n.inputs) if (t.storage.failure) return t.storage.failure;
  for (const m of chain) for (const t of m.inputs) if (t.storage.failure) return t.storage.failure;
  return null;
}

/** Counts `n`'s input buffers in the plan's bytes and waits for the unjudged submits that wrote them. */
function noteInputs(plan: FlushPlan, n: Node): void {
  for (const t of n.inputs) {
    const s = t.storage;
    if (s.buffer) plan.logical?.set(s.buffer, s.bytes);
    const w = s.writer;
    if (w && w !== plan.sub && !w.settled) plan.deps.add(w);
  }
}

/** The node and its chain are done: their inputs lose a reader, and outputs nobody holds go back to the pool. */
function finishGroup(n: Node, chain: readonly Node[], outputs: readonly Storage[]): void {
  retire(n);
  for (const m of chain) retire(m);
  for (const s of outputs) maybeFree(s);
}

/**
 * The replay entry's dispatches when `n` is planned exactly as the entry was (see replay.ts's `matches`) and its
 * scratch buffers come back as the entry had them (filled into `scratch`); otherwise null, with nothing held.
 */
function replayNode(
  plan: FlushPlan,
  n: Node,
  entry: PlannedEntry,
  epilogue: Epilogue,
  outputs: readonly Storage[],
  scratch: GPUBuffer[],
): readonly Dispatch[] | null {
  const buffers = boundBuffers(n, epilogue, outputs);
  const same = plan.trusted
    ? matchesBuffers(entry, n, buffers)
    : matches(entry, n, epilogueKey(epilogue), buffers);
  if (!same) return null;
  const { pool } = plan.runtime;
  for (let i = 0; i < entry.scratchBytes.length; i++) {
    const bytes = entry.scratchBytes[i];
    const b = pool.acquire(bytes, entry.scratch[i]);
    plan.logical?.set(b, bytes);
    scratch.push(b);
    if (b !== entry.scratch[i]) {
      for (const s of scratch) pool.release(s);
      scratch.length = 0;
      return null;
    }
  }
  const uniformOnly = n.op.uniformAttrs;
  if (uniformOnly && !sameAt(entry.attrs, n.attrs, uniformOnly)) {
    try {
      rederiveUniforms(plan, n, entry, epilogue, outputs);
    } catch (e) {
      for (const b of scratch) pool.release(b);
      scratch.length = 0;
      throw e;
    }
  }
  return entry.dispatches;
}

/**
 * Gives the entry's dispatches the uniforms of `n`, whose attributes differ from the entry's only in uniform-only
 * ones (OpDef.uniformAttrs): its forward runs again on the entry's buffers, and its dispatches must equal the
 * entry's in all but their uniforms' values (else the op's declaration is wrong: GpuError). The dispatch objects
 * are kept, so their pipelines and bind groups are; the runtime repacks uniforms that are new arrays.
 */
function rederiveUniforms(
  plan: FlushPlan,
  n: Node,
  entry: PlannedEntry,
  epilogue: Epilogue,
  outputs: readonly Storage[],
): void {
  const wrong = (what: string) =>
    new GpuError(
      `${n.op.name}: declares [${n.op.uniformAttrs!.join(', ')}] uniform-only, but a change in them changed ${what}`,
    );
  let scratchAsked = 0;
  const io = kernelIO(
    plan,
    n,
    epilogue,
    outputs,
    (bytes) => {
      const k = scratchAsked++;
      if (k >= entry.scratch.length || entry.scratchBytes[k] !== bytes) throw wrong('its scratch buffers');
      return entry.scratch[k];
    },
    () => {
      throw wrong('its device checks');
    },
  );
  const fresh = (n.op.forward as Exclude<typeof n.op.forward, 'alias'>)(io, n.attrs);
  if (scratchAsked !== entry.scratch.length) throw wrong('its scratch buffers');
  const difference = dispatchesDiffer(entry.dispatches, fresh);
  if (difference) throw wrong(difference);
  for (let k = 0; k < fresh.length; k++) entry.dispatches[k].uniforms = fresh[k].uniforms;
  entry.attrs = copyAttrs(n.attrs);
  plan.cache.rederived++;
}

/** What `n`'s forward sees: its buffers (outputs in `outputs`), the device, and how it gets scratch and checks. */
function kernelIO(
  plan: FlushPlan,
  n: Node,
  epilogue: Epilogue,
  outputs: readonly Storage[],
  scratch: KernelIO['scratch'],
  check: KernelIO['check'],
): KernelIO {
  const { runtime } = plan;
  const io: KernelIO = {
    inputs: n.inputs.map((t) => ({ buffer: t.storage.buffer!, spec: { shape: t.shape, dtype: t.dtype } })),
    outputs: n.outputs.map((t, i) => ({
      buffer: outputs[i].buffer!,
      spec: { shape: t.shape, dtype: t.dtype },
      unread: outputs[i].buffer === null,
    })),
    scratch,
    limits: runtime.info.limits,
    software: runtime.info.software,
    relu: epilogue.relu,
    epilogue,
    check,
    tune: (req, shapes = io) => tunerFor(runtime).choose(shapes, req),
  };
  return io;
}

/**
 * Plans `n` with its op's forward (buffers in `outputs` are assigned; scratch goes into `scratch`) and, when
 * replay is on, keeps what it produced as the node's replay entry.
 */
function planFresh(
  plan: FlushPlan,
  n: Node,
  epilogue: Epilogue,
  outputs: readonly Storage[],
  scratch: GPUBuffer[],
): readonly Dispatch[] {
  const { runtime } = plan;
  const slot = plan.count;
  const before = plan.replay?.nodes[slot];
  const reuse = before?.op === n.op ? before : undefined;
  const scratchBytes: number[] = [];
  let checked = false;
  const io = kernelIO(
    plan,
    n,
    epilogue,
    outputs,
    (bytes) => {
      checkBufferBytes(`${n.op.name}: a scratch buffer`, bytes, runtime.info.limits, !n.op.bindsRanges);
      const b = runtime.pool.acquire(bytes, reuse?.scratch[scratch.length]);
      plan.logical?.set(b, bytes);
      scratch.push(b);
      scratchBytes.push(bytes);
      return b;
    },
    (describe) => {
      checked = true;
      return plan.checks.slot(describe);
    },
  );
  const forward = n.op.forward;
  if (forward === 'alias') throw new GpuError(`scheduler: view op ${n.op.name} cannot be pending`);
  const planned = forward(io, n.attrs);
  for (const d of planned) checkWorkgroups(n.op.name, d.workgroups, runtime.maxWorkgroups);
  if (plan.replay) {
    plan.cache.misses++;
    plan.replay.nodes[slot] = {
      op: n.op,
      attrs: copyAttrs(n.attrs),
      epilogue: epilogueKey(epilogue),
      shapes: n.inputs.map((t) => t.shape),
      buffers: boundBuffers(n, epilogue, outputs),
      scratchBytes,
      scratch: [...scratch],
      dispatches: planned,
      replayable: !checked,
    };
  }
  return planned;
}

/** The NaN/Infinity checks of `n`'s outputs and in-place targets (debug.checkFinite), after its own dispatches. */
function planFiniteChecks(
  plan: FlushPlan,
  n: Node,
  chain: readonly Node[],
  outputs: readonly Storage[],
  slice: SliceStore | null,
): void {
  const name = [n, ...chain].map((m) => m.op.name).join('+');
  const where = `(op ${plan.count} of the flush)`;
  const checked = (dispatch: Dispatch) => plan.planned.push({ dispatch, nodes: [] });
  n.outputs.forEach((t, i) => {
    // A slice of a concat output is checked with the whole, once its last slice is stored.
    if (i === 0 && slice) t = slice.last ? slice.whole : t;
    if (i === 0 && slice && !slice.last) return;
    if (t.dtype === 'float32' && t.size > 0 && outputs[i].buffer)
      plan.checks.finite(name, where, `output ${i}`, t, outputs[i].buffer!).forEach(checked);
  });
  n.writes.forEach((s, i) => {
    const input = n.op.writesInputs![i];
    const t = n.inputs[input];
    if (t.dtype === 'float32' && t.size > 0)
      plan.checks.finite(name, where, `input ${input} (in place)`, t, s.buffer!).forEach(checked);
  });
}

/** The error a read rejects with: webgrad's own errors as they are, anything else as the reason the runtime ended
 * or a GpuError. */
function typed(runtime: GpuRuntime, e: unknown, what: string): WebgradError {
  if (e instanceof WebgradError) return e;
  return runtime.endReason ?? new GpuError(`${what}: ${String(e)}`, { cause: e });
}

async function finishRead(
  runtime: GpuRuntime,
  read: PendingRead,
  staging: GPUBuffer,
  sub: Submission,
): Promise<void> {
  try {
    const error = await sub.done;
    if (error) throw error;
    await runtime.unlessEnded(staging.mapAsync(GPUMapMode.READ));
    const bytes = staging.getMappedRange().slice(0, read.tensor.size * 4);
    staging.unmap();
    runtime.counters.readbacks++;
    runtime.returnStaging(staging);
    read.resolve(read.tensor.dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes));
  } catch (e) {
    // A buffer whose map failed (or that is still mapped) is never reused.
    staging.destroy();
    const error = typed(runtime, e, 'data');
    if (error === runtime.endReason) rejectEnded(read, error);
    else read.reject(error);
  }
}

/** Resolves `read` at once for an empty tensor, or rejects it when its values are known to be unknown. */
function settleWithoutGpu(read: PendingRead): boolean {
  const t = read.tensor;
  if (t.storage.failure) read.reject(t.storage.failure);
  else if (t.size === 0) read.resolve(t.dtype === 'int32' ? new Int32Array(0) : new Float32Array(0));
  else return false;
  return true;
}

/**
 * The verdict on `plan`'s submit: the device's, then the submits it read from, then its checks; the first error
 * settles the submit. A submit the device rejected ran nothing: its outputs fail, and what it would have
 * overwritten in place keeps its old values. A submit that ran on failed inputs produced garbage: its outputs and
 * what it overwrote fail. A failed check (a NaN, a bad label) reports values that exist: nothing is marked.
 */
async function judge(plan: FlushPlan, verdict: Promise<GpuError | null>): Promise<void> {
  const { runtime, sub } = plan;
  let rejected: WebgradError | null;
  let inherited: WebgradError | null = null;
  let checked: WebgradError | null = null;
  try {
    rejected = await runtime.unlessEnded(verdict);
    for (const d of plan.deps) {
      if (rejected || inherited) break;
      await d.done;
      if (d.valueFailure) inherited = dependentFailure('flush', d.valueFailure);
    }
    checked = await plan.checks.verdict();
  } catch (e) {
    rejected = typed(runtime, e, 'flush');
  }
  const mine = (s: Storage) => s.writer === sub;
  const failure = rejected ?? inherited;
  if (failure) {
    for (const s of plan.created) if (mine(s)) s.failure = failure;
    if (inherited) for (const s of plan.written) if (mine(s)) s.failure = inherited;
  } else {
    // Judged and fine: later submits need not wait for this one.
    for (const s of plan.created) if (mine(s)) s.writer = null;
    for (const s of plan.written) if (mine(s)) s.writer = null;
  }
  sub.resolve(failure ?? checked, failure);
}

/**
 * While set, flushes are dry runs for explain(): each is planned (buffers, kernels, fusions) and its plan
 * collected here, and nothing is submitted.
 */
let explaining: { plans: Plan[]; wgsl: boolean } | null = null;

/** Runs `fn` with every flush it causes (and one at its end) planned dry; returns the plans. */
export async function collectPlans(fn: () => unknown, wgsl: boolean): Promise<Plan[]> {
  if (explaining) throw new ArgumentError('explain: explain() calls cannot nest');
  requireRuntime('explain');
  // Work recorded before belongs to the caller: it runs for real, first.
  if (state.pending.length > 0 || state.reads.length > 0) void flush();
  const collector = { plans: [] as Plan[], wgsl };
  explaining = collector;
  beginExplainUndo();
  try {
    try {
      await fn();
    } catch (e) {
      // A step that awaits its loss stops there: the plan up to that read is what explain() returns.
      if (!(typeof e === 'object' && e !== null && explainedErrors.has(e))) throw e;
    }
    if (state.pending.length > 0 || state.reads.length > 0) void flush().catch(() => undefined);
  } finally {
    explaining = null;
    endExplainUndo();
  }
  return collector.plans;
}

/** Called with the plan of every flush submitted while set (wg.profile labels its kernel times with them). */
let planListener: ((p: Plan) => void) | null = null;

/** Sets or clears the plan listener; returns the previous one. */
export function listenToPlans(listener: ((p: Plan) => void) | null): ((p: Plan) => void) | null {
  const previous = planListener;
  planListener = listener;
  return previous;
}

/** Errors made by `notComputed`: fn stopping on one of them is how an explained step that awaits a read ends. */
const explainedErrors = new WeakSet<object>();

/** The error of values that explain() planned but never computed. */
function notComputed(): DisposedError {
  const error = new DisposedError('explain: this value was planned by explain() and never computed');
  explainedErrors.add(error);
  return error;
}

/** The plan value of a flush (the number of nodes after pruning, the passes that ran, the fusions they made). */
function planValue(plan: FlushPlan, live: number, pruned: number, passes: PassResults, wgsl: boolean): Plan {
  const { pool } = plan.runtime;
  const fusions: PlanFusion[] = [
    ...passes.folds.map((ids) => ({ pass: 'foldBatchNorm', nodes: ids })),
    ...passes.masks.map((ids) => ({ pass: 'reluMask', nodes: ids })),
    ...passes.chains.map((ids) => ({ pass: 'elementwise', nodes: ids })),
    ...(passes.stores ?? []).map((ids) => ({ pass: 'concatStore', nodes: ids })),
    ...[...passes.fused].map(([p, chain]) => ({
      pass: 'epilogue',
      nodes: [...(passes.covers.get(p) ?? [p]).map((m) => m.id), ...chain.map((e) => e.id)],
    })),
  ];
  const switched = Object.entries(plan.runtime.fusion)
    .filter(([, on]) => on)
    .map(([name]) => name);
  return describePlan(
    plan.planned,
    {
      nodes: live,
      pruned,
      fusions,
      passes: switched,
      memory: {
        peakBytes: pool.peakLiveBytes,
        startBytes: plan.startBytes,
        acquired: pool.acquired,
        reused: pool.reused,
        createdBytes: pool.createdBytes,
      },
    },
    (b) => plan.logical?.get(b) ?? b.size,
    wgsl,
  );
}

/**
 * Encodes and submits everything pending plus the requested reads, and returns the submit. Throws (a typed
 * error) when planning fails: then nothing was submitted, every read and value of this flush fails with that
 * error, and the next flush starts clean. While explain() runs, plans instead (see `explaining`).
 */
function run(): Submission {
  const planStart = performance.now();
  const runtime = requireRuntime('flush');
  dropPlansBeforeNewChoices(runtime);
  const taken = state.pending;
  state.pending = [];
  const reads = state.reads;
  state.reads = [];
  const capacity = taken.reduce((n, node) => n + node.outputs.length + node.writes.length + 1, 0);
  const dry = explaining;
  runtime.pool.resetPlanCounters();
  const plan: FlushPlan = {
    runtime,
    sub: openSubmission(),
    planned: [],
    logical: dry || planListener || debugLevel > 0 ? new Map() : null,
    created: [],
    written: [],
    deps: new Set(),
    checks: new FlushChecks(runtime, capacity),
    count: 0,
    dry: dry !== null,
    startBytes: runtime.pool.liveBytes,
    replay: null,
    template: null,
    trusted: false,
    uploads: 0,
    cache: replayStats(runtime),
    slices: new Map(),
  };
  const staged: { read: PendingRead; staging: GPUBuffer }[] = [];
  let nodes: readonly Node[] = taken;
  let next = 0;
  let pruned: number;
  let passes: PassResults;
  runtime.beginCapture();
  try {
    nodes = prune(taken);
    pruned = taken.length - nodes.length;
    const replaying = runtime.options.replay && !dry;
    const fusedGraph = replaying
      ? replayPasses(nodes, runtime, retire)
      : { ...runFusionPasses(nodes, runtime, retire), template: null };
    ({ nodes, passes } = fusedGraph);
    if (runtime.fusion.concatStore) {
      // After pass replay, on every flush: its result is a storage mapping, made anew from the replayed nodes.
      const stored = fuseConcatStores(nodes, passes.fused, runtime.info.limits, retire);
      nodes = stored.nodes;
      plan.slices = stored.slices;
      passes = { ...passes, stores: stored.stores };
    }
    const folded = new Set<Node>();
    for (const chain of passes.fused.values()) for (let k = 0; k < chain.length; k++) folded.add(chain[k]);
    if (replaying) {
      const { template } = fusedGraph;
      // A template keeps the entries it was planned with: no structure hash to compute for the fused nodes.
      const entries = template?.entries ?? plan.cache.entries(nodes, folded);
      if (template) template.entries = entries;
      plan.replay = entries;
      plan.template = template;
      plan.trusted = template !== null && entries.owner === template;
      // Entries are about to change under this flush's nodes: until it ends, no template may trust them.
      if (!plan.trusted) entries.owner = null;
    }
    // All uploads go before any buffer changes hands: queued writes land ahead of the whole submit.
    for (const n of nodes) for (const t of n.inputs) upload(plan, t);
    for (const r of reads) upload(plan, r.tensor);
    for (; next < nodes.length; next++) {
      const n = nodes[next];
      if (!folded.has(n)) planNode(plan, n, passes.fused.get(n), passes.covers.get(n));
    }
    if (plan.replay && plan.template) plan.replay.owner = plan.template;
    if (dry) {
      dry.plans.push(planValue(plan, taken.length - pruned, pruned, passes, dry.wgsl));
      void runtime.endCapture();
      endDry(plan, reads);
      return plan.sub;
    }
    const copies: { from: GPUBuffer; to: GPUBuffer; bytes: number }[] = [];
    for (const read of reads) {
      if (settleWithoutGpu(read)) continue;
      const s = read.tensor.storage;
      const staging = runtime.staging(s.bytes);
      staged.push({ read, staging });
      copies.push({ from: s.buffer!, to: staging, bytes: s.bytes });
    }
    const flags = plan.checks.copy();
    if (flags) copies.push(flags);
    state.cpu.planMs += performance.now() - planStart;
    runtime.submit(
      plan.planned.map((p) => p.dispatch),
      copies,
    );
    if (planListener) planListener(planValue(plan, taken.length - pruned, pruned, passes, false));
    if (debugLevel > 0)
      printPlan(planValue(plan, taken.length - pruned, pruned, passes, debugLevel >= 3), debugLevel);
  } catch (e) {
    void runtime.endCapture();
    const error = typed(runtime, e, 'flush');
    // Nothing was submitted: no value of this flush exists; values to be overwritten in place keep theirs.
    for (const s of plan.created) s.failure = error;
    for (let i = next; i < nodes.length; i++) {
      const n = nodes[i];
      if (!n.pending) continue;
      for (const t of n.outputs) t.storage.failure = error;
      retire(n);
      for (const t of n.outputs) maybeFree(t.storage);
    }
    for (const { staging } of staged) staging.destroy();
    for (const read of reads) {
      if (read.tensor.storage.failure === error || !settleWithoutGpu(read)) read.reject(error);
      read.tensor.storage.readers--;
      maybeFree(read.tensor.storage);
    }
    void plan.checks.verdict();
    plan.sub.resolve(error, error);
    throw error;
  }
  const verdict = runtime.endCapture();
  for (const read of reads) {
    // The copy is encoded: the storage may go once no tensor holds it.
    read.tensor.storage.readers--;
    maybeFree(read.tensor.storage);
  }
  void judge(plan, verdict);
  for (const { read, staging } of staged) void finishRead(runtime, read, staging, plan.sub);
  return plan.sub;
}

/**
 * Ends a dry run: the values it planned were never computed (their buffers go back to the pool and reading them
 * throws), its reads reject, and what it would have overwritten in place keeps its values.
 */
function endDry(plan: FlushPlan, reads: readonly PendingRead[]): void {
  const error = notComputed();
  for (const s of plan.created) {
    if (s.writer !== plan.sub) continue;
    s.failure = error;
    s.writer = null;
    if (s.buffer) plan.runtime.pool.release(s.buffer);
    s.buffer = null;
  }
  for (const read of reads) {
    read.promise.catch(() => undefined);
    if (!settleWithoutGpu(read)) read.reject(error);
    read.tensor.storage.readers--;
    maybeFree(read.tensor.storage);
  }
  void plan.checks.verdict();
  // The flush itself succeeds (an optimizer step inside explain() may await it); its values do not exist.
  plan.sub.resolve(null, error);
}

/**
 * Encodes and submits everything pending without waiting for the GPU. The promise settles when the device has
 * done the work: it rejects with the error of this flush (a GPU error, a failed check) and may be ignored,
 * since every read of the values involved rejects with the same error.
 */
export function flush(): Promise<void> {
  const sub = run();
  const done = sub.done.then((error) => {
    if (error) throw error;
  });
  // Handled here so an ignored flush never reports an unhandled rejection; awaiting it still throws.
  done.catch(() => undefined);
  return done;
}

/**
 * Asks for `t`'s values without submitting: the copy rides along in the next flush (an optimizer step, say),
 * so reading a loss costs no extra submit. The promise settles once that flush's work is done, or rejects when
 * it fails, when the engine is released first, or when the device is lost. `convert` shapes the raw values.
 */
export function readOnFlush<T>(t: Tensor, convert: (raw: Float32Array | Int32Array) => T): Promise<T> {
  requireRuntime('readOnFlush');
  if (t.storage.failure) return Promise.reject(t.storage.failure);
  if (!t.storage.buffer && !t.storage.upload && !t.node && t.size > 0) {
    return Promise.reject(new GpuError(`data: tensor ${t.toString()} has no values`));
  }
  t.storage.readers++;
  let read!: PendingRead;
  const promise = new Promise<T>((resolve, reject) => {
    read = { tensor: t, resolve: (raw) => resolve(convert(raw)), reject, promise: null as never };
  });
  read.promise = promise;
  state.reads.push(read);
  return promise;
}

/** Flushes with a copy of `t` to a staging buffer in the same submit, then maps and reads it. */
export function readback<T>(t: Tensor, convert: (raw: Float32Array | Int32Array) => T): Promise<T> {
  const values = readOnFlush(t, convert);
  try {
    run();
  } catch {
    // run() has rejected `values` with the same error.
  }
  return values;
}

/**
 * Rejects a read because the engine ended (release(), device loss). Marked as handled first: reads a program
 * abandoned on its way out (an exception, then release() in a finally) must not crash it with an unhandled
 * rejection on top of its own error; a caller that awaits the read still gets the error.
 */
function rejectEnded(read: PendingRead, reason: WebgradError): void {
  read.promise.catch(() => undefined);
  read.reject(reason);
}

/** Rejects every read still waiting for a flush (release() does this, with its reason). */
export function cancelReads(reason: WebgradError): void {
  const reads = state.reads;
  state.reads = [];
  for (const r of reads) rejectEnded(r, reason);
}
