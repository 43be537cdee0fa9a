// Process-wide engine state: the open runtime, the storages, the nodes and reads waiting to run, the tidy scopes.
import { DisposedError, type WebgradError } from '../errors.js';
import type { GpuRuntime } from '../gpu/runtime.js';
import type { OpDef } from '../ops/types.js';
import type { Tensor } from './tensor.js';

/**
 * One submit's outcome, known once `done` settles (`settled` turns true then): `error` is what its reads reject
 * with (the device's verdict, a failed input, a failed check), `valueFailure` the reason the values it produced
 * are unknown (null after a failed check alone: those values exist).
 */
export interface Submission {
  readonly done: Promise<WebgradError | null>;
  settled: boolean;
  error: WebgradError | null;
  valueFailure: WebgradError | null;
}

/** Device memory behind one or more tensors (views share it). Freed when nothing holds or reads it. */
export class Storage {
  buffer: GPUBuffer | null = null;
  /** Values waiting to be uploaded at the next flush (leaves, assignValues). */
  upload: Float32Array | Int32Array | null = null;
  /**
   * The values of an int32 leaf as the host knows them (labels): what softmaxCrossEntropy checks labels against
   * when it is recorded. Null once a device op writes the storage.
   */
  host: Int32Array | null = null;
  /** Why the values are unknown: the work that should have produced them failed. Reading them throws this. */
  failure: WebgradError | null = null;
  /** The last submit that wrote it, while that submit's verdict may still be out. */
  writer: Submission | null = null;
  /** Live (not disposed) tensors using this storage. */
  refs = 0;
  /** Pending nodes and reads that use it. */
  readers = 0;
  /** Bumped whenever new values are uploaded or written in place (what caches of derived values compare). */
  version = 0;
  /**
   * Scratch of pass_replay.ts's `describe`: the number it gave this storage in the flush it described last
   * (`describedIn`), so describing a flush builds no map of its storages.
   */
  describedIn = 0;
  describedAs = 0;
  constructor(readonly bytes: number) {}

  get alive(): boolean {
    return this.refs + this.readers > 0;
  }
}

/** One recorded op application. Pending until a flush encodes it. */
export interface Node {
  readonly id: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly op: OpDef<any>;
  readonly attrs: unknown;
  readonly inputs: readonly Tensor[];
  readonly outputs: Tensor[];
  /** Storages that an in-place op overwrites. */
  readonly writes: readonly Storage[];
  pending: boolean;
}

/** A read waiting for the next flush: its copy rides along in that submit. */
export interface PendingRead {
  tensor: Tensor;
  resolve(values: Float32Array | Int32Array): void;
  reject(error: unknown): void;
  /** The promise the caller holds (so a read cut off by release() can be marked as expected). */
  promise: Promise<unknown>;
}

export const state = {
  runtime: null as GpuRuntime | null,
  /** Nodes recorded since the last flush, in record order (which is a valid execution order). */
  pending: [] as Node[],
  /** Reads requested since the last flush. */
  reads: [] as PendingRead[],
  /** Open `tidy` scopes, innermost last: the tensors each one created. */
  scopes: [] as Set<Tensor>[],
  nextId: 1,
  /** Host time spent recording ops and planning flushes, since init (milliseconds; encoding: GpuRuntime.cpu). */
  cpu: { recordMs: 0, planMs: 0 },
  /** Depth of open `noGrad` calls: while above 0, new op outputs need no gradient. */
  noGrad: 0,
  /** Bumped by `release()`: tensors of an earlier engine cannot be used. */
  generation: 1,
};

/** Drops the storage's buffer once nothing holds or reads it. */
export function maybeFree(s: Storage): void {
  if (s.alive) return;
  s.upload = null;
  s.host = null;
  if (s.buffer && state.runtime) state.runtime.pool.release(s.buffer);
  s.buffer = null;
}

/** The open runtime; DisposedError before init() or after release(), the loss reason once the device is lost. */
export function requireRuntime(what: string): GpuRuntime {
  const r = state.runtime;
  if (!r) throw new DisposedError(`${what}: the engine is not initialized; call await init() first`);
  r.assertRunning(what);
  return r;
}
