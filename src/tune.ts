// The tuner as the public API sees it: wait for background tuning, read its settings and counts.
import { tunerFor, type Tuner } from './gpu/tuner.js';
import { passReplayStats } from './graph/pass_replay.js';
import { replayStats } from './graph/scheduler.js';
import { state } from './graph/state.js';

/** The tuner's `recorded` count when `tuned()` last dropped the replay plans. */
const replansAt = new WeakMap<Tuner, number>();

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
 * iteration, so they time the tuned kernels: when a tuning recorded a choice, the replay plans made so far are
 * dropped (their flushes are planned once more, with the choices). Resolves at once when no engine is open.
 */
export async function tuned(): Promise<void> {
  const runtime = state.runtime;
  if (!runtime) return;
  const tuner = tunerFor(runtime);
  await tuner.settled();
  // Replayed plans keep the kernels they were planned with: those planned before a choice was recorded ran the
  // fallback, so they are planned again (once) to run the tuned kernels.
  if (state.runtime === runtime && tuner.recorded !== (replansAt.get(tuner) ?? 0)) {
    replansAt.set(tuner, tuner.recorded);
    replayStats(runtime).clear();
    // Pass templates hold their flush's entries too: they take fresh ones on their next flush.
    for (const t of passReplayStats(runtime).templates.values()) t.entries = null;
  }
}

/** The open engine's tuner settings, or null when no engine is open. */
export function tuneInfo(): TuneInfo | null {
  if (!state.runtime) return null;
  const t = tunerFor(state.runtime);
  return { enabled: t.enabled, cacheDir: t.cacheDir, timed: t.timed };
}
