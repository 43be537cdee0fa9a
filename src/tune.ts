// The tuner as the public API sees it: wait for background tuning, read its settings and counts.
import { tunerFor } from './gpu/tuner.js';
import { state } from './graph/state.js';

/** What `tuneInfo()` reports about the open engine's tuner. */
export interface TuneInfo {
  /** False with `WEBGRAD_TUNE=0`: every op then runs its documented fallback kernel. */
  enabled: boolean;
  /** Directory of the on-disk cache (`tune.json`), or null when choices stay in memory (browsers). */
  cacheDir: string | null;
  /** Candidate timings run since the engine opened (zero when every choice came from the cache). */
  timed: number;
}

/**
 * Settles once every kernel tuning the engine has queued is done. An op shape met for the first time runs its
 * fallback kernel while its candidates are timed in the background; benchmarks await this after a warm-up
 * iteration, so they time the tuned kernels (the next flush after a choice is recorded drops the replay plans made
 * before it: src/graph/scheduler.ts). Resolves at once when no engine is open.
 */
export async function tuned(): Promise<void> {
  if (state.runtime) await tunerFor(state.runtime).settled();
}

/** The open engine's tuner settings, or null when no engine is open. */
export function tuneInfo(): TuneInfo | null {
  if (!state.runtime) return null;
  const t = tunerFor(state.runtime);
  return { enabled: t.enabled, cacheDir: t.cacheDir, timed: t.timed };
}
