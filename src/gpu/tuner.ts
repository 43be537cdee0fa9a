// The kernel tuner: times each op's candidate variants once per (adapter, op, shape class), caches the fastest.
import type { KernelIO, TensorSpec } from '../ops/types.js';
import type { AdapterInfo } from './device.js';
import type { Dispatch, GpuRuntime } from './runtime.js';

/**
 * What an op asks the tuner: its candidates for one shape class and how to plan each. The shape class is the
 * op's whole geometry (every size its kernels see), so a cached choice is always one of the candidates of the
 * shape it is used for. Candidates are compared by their JSON text.
 */
export interface TuneRequest<C> {
  op: string;
  shapeClass: string;
  candidates: readonly C[];
  /** The documented choice when tuning is off or has not finished: what the op runs without the tuner. */
  fallback: C;
  plan(io: KernelIO, choice: C): Dispatch[];
}

/**
 * A tuned choice as the cache holds it: the candidate's JSON text, its measured time per run, and a fingerprint
 * of the candidate list it was chosen from: when a new version adds a variant, the old choice is tuned again.
 */
interface Entry {
  choice: string;
  ms: number;
  candidates?: string;
}

/** FNV-1a (32 bits, hex) of the candidates' JSON text: which list a cached choice was the fastest of. */
function fingerprint(candidates: readonly unknown[]): string {
  const text = JSON.stringify(candidates);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** The choices the on-disk cache holds, by adapter key and then "op|shape class". */
type CacheFile = Record<string, Record<string, Entry>>;

interface FsLike {
  readFileSync(path: string, enc: 'utf8'): string;
  writeFileSync(path: string, data: string): void;
  renameSync(from: string, to: string): void;
  mkdirSync(path: string, opts: { recursive: true }): void;
}

/** Node's fs without a static import (the browser bundle has none): `process.getBuiltinModule` (Node >= 20.16). */
function nodeFs(): FsLike | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return (proc?.getBuiltinModule?.('node:fs') as FsLike | undefined) ?? null;
}

function env(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
}

/**
 * Where the tuning cache lives: `WEBGRAD_TUNE_CACHE` (a directory; `0` keeps the cache in memory only), else
 * `$XDG_CACHE_HOME/webgrad`, else `~/.cache/webgrad`; null in browsers (memory only).
 */
export function tuneCacheDir(): string | null {
  const fs = nodeFs();
  if (!fs) return null;
  const set = env('WEBGRAD_TUNE_CACHE');
  if (set === '0') return null;
  if (set) return set;
  const xdg = env('XDG_CACHE_HOME');
  if (xdg) return `${xdg}/webgrad`;
  const home = env('HOME');
  return home ? `${home}/.cache/webgrad` : null;
}

/** Whether tuning is on: everywhere unless `WEBGRAD_TUNE=0`. */
export function tuningEnabled(): boolean {
  return env('WEBGRAD_TUNE') !== '0';
}

/** The key of one adapter in the cache: its backend, description, vendor and architecture. */
export function adapterKey(info: AdapterInfo): string {
  return [info.backend, info.description, info.vendor, info.architecture].join(' | ');
}

/** Timing rounds per candidate; the minimum is kept, as other work on the device only ever adds time. */
const ROUNDS = 3;
/** Each timed submit repeats the dispatches until it lasts about this long (at most MAX_REPEATS times). */
const TARGET_MS = 20;
const MAX_REPEATS = 64;
/** A candidate slower than this multiple of the best after its first timing is not timed again. */
const PRUNE = 2;
/** The fallback is kept when it is within this factor of the fastest candidate. */
const KEEP_FALLBACK = 1.1;

/** Times candidates and keeps the choices of one runtime (one adapter). */
export class Tuner {
  /** Choices by "op|shape class"; loaded from and saved to the disk cache when it has one. */
  private readonly choices = new Map<string, Entry>();
  /** Keys whose tuning is queued or running. */
  private readonly pending = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private readonly adapter: string;
  /** Candidates timed since the runtime opened (tests and benchmarks read it). */
  timed = 0;
  /** Choices recorded since the runtime opened: plans made before one was recorded ran a fallback. */
  recorded = 0;

  constructor(
    private readonly runtime: GpuRuntime,
    readonly enabled: boolean,
    readonly cacheDir: string | null,
  ) {
    this.adapter = adapterKey(runtime.info);
    if (enabled && cacheDir) {
      for (const [k, v] of Object.entries(this.readCache()[this.adapter] ?? {})) this.choices.set(k, v);
    }
  }

  /**
   * The cached choice for this request if it was chosen from the same candidate list, else the fallback. A miss
   * queues the tuning of this shape class in the background: later flushes get the fastest candidate.
   */
  choose<C>(io: Pick<KernelIO, 'inputs' | 'outputs'>, req: TuneRequest<C>): C {
    if (!this.enabled || req.candidates.length < 2) return req.fallback;
    const key = `${req.op}|${req.shapeClass}`;
    const entry = this.choices.get(key);
    if (entry && entry.candidates === fingerprint(req.candidates)) {
      const found = req.candidates.find((c) => JSON.stringify(c) === entry.choice);
      if (found) return found;
    }
    if (!this.pending.has(key)) {
      this.pending.add(key);
      const specs = { inputs: io.inputs.map((t) => t.spec), outputs: io.outputs.map((t) => t.spec) };
      this.queue = this.queue.then(() => this.tune(key, req, specs)).finally(() => this.pending.delete(key));
    }
    return req.fallback;
  }

  /** Settles when every queued tuning has finished (or given up). */
  settled(): Promise<void> {
    return this.queue;
  }

  /** The cached choice's JSON text for "op|shape class", if any (for tests and `wg.explain`-style reports). */
  cached(op: string, shapeClass: string): string | undefined {
    return this.choices.get(`${op}|${shapeClass}`)?.choice;
  }

  /** Times every candidate on buffers of the request's sizes and records the fastest; never throws. */
  private async tune<C>(
    key: string,
    req: TuneRequest<C>,
    specs: { inputs: TensorSpec[]; outputs: TensorSpec[] },
  ): Promise<void> {
    const rt = this.runtime;
    if (rt.endReason) return;
    const owned: GPUBuffer[] = [];
    const buffer = (bytes: number) => {
      const b = rt.device.createBuffer({
        size: Math.max(16, Math.ceil(bytes / 4) * 4),
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      owned.push(b);
      return b;
    };
    const bytesOf = (s: TensorSpec) => 4 * s.shape.reduce((a, b) => a * b, 1);
    try {
      rt.beginCapture();
      const io: KernelIO = {
        inputs: specs.inputs.map((spec) => ({ buffer: buffer(bytesOf(spec)), spec })),
        outputs: specs.outputs.map((spec) => ({ buffer: buffer(bytesOf(spec)), spec })),
        scratch: buffer,
        limits: rt.info.limits,
        software: rt.info.software,
        relu: false,
        epilogue: { bn: null, residual: null, relu: false },
        check: () => {
          throw new Error('tuner: ops with device checks are not tuned');
        },
        tune: (r) => r.fallback,
      };
      const plans = req.candidates.map((c) => req.plan(io, c));
      const failed = await rt.endCapture();
      if (failed) return;
      const times = await this.timeAll(plans);
      if (!times) return;
      const ms = Math.min(...times);
      // The fallback stays unless a candidate beats it clearly: timing noise never makes a kernel slower.
      const fallback = req.candidates.findIndex((c) => JSON.stringify(c) === JSON.stringify(req.fallback));
      const index = fallback >= 0 && times[fallback] <= KEEP_FALLBACK * ms ? fallback : times.indexOf(ms);
      const entry = {
        choice: JSON.stringify(req.candidates[index]),
        ms: times[index],
        candidates: fingerprint(req.candidates),
      };
      this.choices.set(key, entry);
      this.recorded++;
      this.save(key, entry);
    } catch {
      // A candidate the device refuses, or the runtime ending mid-way: the fallback stays in use.
    } finally {
      for (const b of owned) b.destroy();
    }
  }

  /** Runs `plans` (each once to compile and warm up), then in rounds; returns each one's time, or null on failure. */
  private async timeAll(plans: Dispatch[][]): Promise<number[] | null> {
    const rt = this.runtime;
    const times = plans.map(() => Infinity);
    const repeats = plans.map(() => 1);
    for (let i = 0; i < plans.length; i++) {
      const ms = await this.run(plans[i], 1);
      if (ms === null) return null;
      repeats[i] = Math.max(1, Math.min(MAX_REPEATS, Math.round(TARGET_MS / Math.max(ms, 1e-3))));
    }
    for (let round = 0; round < ROUNDS; round++) {
      const best = Math.min(...times);
      for (let i = 0; i < plans.length; i++) {
        if (round > 0 && times[i] > PRUNE * best) continue;
        const ms = await this.run(plans[i], repeats[i]);
        if (ms === null) return null;
        times[i] = Math.min(times[i], ms);
        this.timed++;
      }
      if (rt.endReason) return null;
    }
    return times;
  }

  /** Submits `plan` `repeats` times in one submit and returns the wall time per run, or null if it failed. */
  private async run(plan: Dispatch[], repeats: number): Promise<number | null> {
    const rt = this.runtime;
    if (rt.endReason) return null;
    const all = Array.from({ length: repeats }, () => plan).flat();
    const { dispatches, submits } = rt.counters;
    const { encodeMs, submitMs } = rt.cpu;
    rt.beginCapture();
    const t0 = performance.now();
    rt.submit(all, []);
    const verdict = rt.endCapture();
    // The tuner's own work is not the program's: wg.stats() counts only what flushes submit (host time too).
    rt.counters.dispatches = dispatches;
    rt.counters.submits = submits;
    rt.cpu.encodeMs = encodeMs;
    rt.cpu.submitMs = submitMs;
    await rt.unlessEnded(rt.device.queue.onSubmittedWorkDone());
    const ms = (performance.now() - t0) / repeats;
    return (await verdict) ? null : ms;
  }

  private readCache(): CacheFile {
    const fs = nodeFs();
    if (!fs || !this.cacheDir) return {};
    try {
      const parsed: unknown = JSON.parse(fs.readFileSync(`${this.cacheDir}/tune.json`, 'utf8'));
      return parsed && typeof parsed === 'object' ? (parsed as CacheFile) : {};
    } catch {
      return {};
    }
  }

  /** Adds one entry to the disk cache: read, merge, write to a temporary file, rename (never half-written). */
  private save(key: string, entry: Entry): void {
    const fs = nodeFs();
    if (!fs || !this.cacheDir) return;
    try {
      const all = this.readCache();
      all[this.adapter] = { ...(all[this.adapter] ?? {}), [key]: entry };
      fs.mkdirSync(this.cacheDir, { recursive: true });
      const path = `${this.cacheDir}/tune.json`;
      const tmp = `${path}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(all, null, 1));
      fs.renameSync(tmp, path);
    } catch {
      // A read-only or missing home: the choice stays cached in memory.
    }
  }
}

const tuners = new WeakMap<GpuRuntime, Tuner>();

/** The tuner of a runtime, created on first use with the environment's settings. */
export function tunerFor(runtime: GpuRuntime): Tuner {
  let t = tuners.get(runtime);
  if (!t) {
    t = new Tuner(runtime, tuningEnabled(), tuneCacheDir());
    tuners.set(runtime, t);
  }
  return t;
}
