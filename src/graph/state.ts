// Process-wide engine state: the open runtime, the storages, the nodes waiting to run, the tidy scopes.
import { DisposedError } from '../errors.js';
import type { GpuRuntime } from '../gpu/runtime.js';
import type { OpDef } from '../ops/types.js';
import type { Tensor } from './tensor.js';

/** Device memory behind one or more tensors (views share it). Freed when nothing holds or reads it. */
export class Storage {
  buffer: GPUBuffer | null = null;
  /** Values waiting to be uploaded (set for leaves created before `init`). */
  upload: Float32Array | Int32Array | null = null;
  /** Live (not disposed) tensors using this storage. */
  refs = 0;
  /** Pending nodes that read it. */
  readers = 0;
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

export const state = {
  runtime: null as GpuRuntime | null,
  /** Nodes recorded since the last flush, in record order (which is a valid execution order). */
  pending: [] as Node[],
  /** Open `tidy` scopes, innermost last: the tensors each one created. */
  scopes: [] as Set<Tensor>[],
  nextId: 1,
  /** Bumped by `release()`: tensors of an earlier engine cannot be used. */
  generation: 1,
};

/** Drops the storage's buffer once nothing holds or reads it. */
export function maybeFree(s: Storage): void {
  if (s.alive) return;
  s.upload = null;
  if (s.buffer && state.runtime) state.runtime.pool.release(s.buffer);
  s.buffer = null;
}

export function requireRuntime(what: string): GpuRuntime {
  if (!state.runtime)
    throw new DisposedError(`${what}: the engine is not initialized; call await init() first`);
  return state.runtime;
}
