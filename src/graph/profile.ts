// wg.profile(fn): per-kernel GPU time of a step (timestamp queries, or a timed kernel-by-kernel replay).
import { ArgumentError } from '../errors.js';
import { TimingRecorder, median, replayTimed, submitOverhead, type TimingMode } from '../gpu/timing.js';
import { checkInteger, checkOptionKeys } from '../options.js';
import type { Plan, PlanKernel } from './plan.js';
import { fmtCount, table } from './plan_text.js';
import { flush, listenToPlans } from './scheduler.js';
import { requireRuntime, state } from './state.js';

export interface ProfileOptions {
  /** Profiled runs of fn (default 5); the medians are over them. */
  runs?: number;
  /** Runs of fn before, untimed (default 1: pipelines compile, optimizer state is made). */
  warmup?: number;
  /** Rows of the text table (default 15). */
  top?: number;
}

/** A kernel of the step as the plan describes it (index over all the step's flushes), with its time. */
export interface ProfileKernel extends Pick<
  PlanKernel,
  'index' | 'shader' | 'variant' | 'workgroups' | 'nodes' | 'flops'
> {
  /** Median GPU time of this kernel over the runs. */
  medianMs: number;
  /** medianMs over the sum of every kernel's median. */
  share: number;
}

export interface Profile {
  /**
   * 'timestamp-query': timestamps around each dispatch inside the step's own submits. 'kernel-by-kernel': the
   * adapter has no timestamp queries (llvmpipe's OpenGL backend), so each submit's buffers were copied and its
   * kernels replayed on the copies one submit at a time, timed on the host: each time includes one submit and
   * wait (`submitOverheadMs`).
   */
  mode: TimingMode;
  /** What the mode means for the numbers, in words. */
  note: string;
  adapter: string;
  runs: number;
  /** Median wall time of fn (awaited until the device is idle), in runs with no profiling. */
  stepMs: number;
  /** Sum of the kernels' medians. */
  kernelMs: number;
  /** Median time of an empty submit and wait (kernel-by-kernel mode; 0 with timestamps). */
  submitOverheadMs: number;
  /** Every kernel of the step, in order. */
  kernels: ProfileKernel[];
  /** The slowest kernels as a text table, with the totals. */
  text: string;
}

interface Run {
  kernels: Plan['kernels'];
  ms: number[];
}

/**
 * Runs `fn` (a step: forward, or forward, backward and an optimizer update) `warmup` times, then `runs` times
 * unprofiled (the step time) and `runs` times with its kernels timed, and returns each kernel's median and
 * share of the step. fn is awaited; work it leaves pending is flushed. Every run must plan the same kernels
 * (runs that differ from the last are left out of the medians).
 */
export async function profile(fn: () => unknown, options: ProfileOptions = {}): Promise<Profile> {
  checkOptionKeys('profile', options, ['runs', 'warmup', 'top']);
  if (typeof fn !== 'function') throw new ArgumentError('profile: fn must be a function');
  const { runs = 5, warmup = 1, top = 15 } = options;
  checkInteger('profile', 'runs', runs, 1);
  checkInteger('profile', 'warmup', warmup, 0);
  checkInteger('profile', 'top', top, 1);
  const runtime = requireRuntime('profile');
  const device = runtime.device;
  const step = async () => {
    await fn();
    if (state.pending.length > 0 || state.reads.length > 0) await flush();
    await runtime.unlessEnded(device.queue.onSubmittedWorkDone());
  };
  if (state.pending.length > 0 || state.reads.length > 0) await flush();
  for (let i = 0; i < warmup; i++) await step();
  const mode: TimingMode = runtime.hasTimestamps ? 'timestamp-query' : 'kernel-by-kernel';
  const walls: number[] = [];
  const profiled: Run[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    await step();
    walls.push(performance.now() - start);
    profiled.push(await profiledRun(runtime, mode, step));
  }
  const overhead = mode === 'kernel-by-kernel' ? await submitOverhead(device) : 0;
  const last = profiled[profiled.length - 1];
  const signature = (r: Run) => r.kernels.map((k) => `${k.shader}|${k.variant}`).join(';');
  const same = profiled.filter((r) => signature(r) === signature(last));
  const medians = last.kernels.map((_, i) => median(same.map((r) => r.ms[i])));
  const kernelMs = medians.reduce((a, b) => a + b, 0);
  const kernels = last.kernels.map((k, i): ProfileKernel => ({
    index: i,
    shader: k.shader,
    variant: k.variant,
    workgroups: k.workgroups,
    nodes: k.nodes,
    flops: k.flops,
    medianMs: medians[i],
    share: kernelMs > 0 ? medians[i] / kernelMs : 0,
  }));
  const note =
    mode === 'timestamp-query'
      ? 'GPU timestamps around each dispatch inside the step’s own submit'
      : `no timestamp-query on this adapter: kernels replayed one submit each on copies of their buffers, timed on the host; each time includes a submit round trip (~${overhead.toFixed(3)} ms empty)`;
  const result: Profile = {
    mode,
    note,
    adapter: `${runtime.info.backend} (${runtime.info.description})`,
    runs: same.length,
    stepMs: median(walls),
    kernelMs,
    submitOverheadMs: overhead,
    kernels,
    text: '',
  };
  result.text = formatProfile(result, top);
  return result;
}

/** One run of the step with its submits timed; returns its kernels and their times. */
async function profiledRun(
  runtime: ReturnType<typeof requireRuntime>,
  mode: TimingMode,
  step: () => Promise<void>,
): Promise<Run> {
  const recorder = new TimingRecorder(mode);
  const plans: Plan[] = [];
  const previous = listenToPlans((p) => plans.push(p));
  runtime.profiler = recorder;
  try {
    await step();
  } finally {
    runtime.profiler = null;
    listenToPlans(previous);
  }
  const ms: number[] = [];
  if (mode === 'timestamp-query') for (const p of recorder.pending) ms.push(...(await p));
  else for (const s of recorder.snapshots) ms.push(...(await replayTimed(runtime.device, s)));
  const kernels = plans.flatMap((p) => p.kernels);
  if (ms.length !== kernels.length) {
    throw new ArgumentError(
      `profile: timed ${ms.length} kernels but planned ${kernels.length}; fn must not flush outside webgrad`,
    );
  }
  return { kernels, ms };
}

/** The top kernels by median time, then the totals. */
export function formatProfile(p: Profile, top: number): string {
  const rows = [...p.kernels]
    .sort((a, b) => b.medianMs - a.medianMs)
    .slice(0, top)
    .map((k) => [
      String(k.index),
      k.shader,
      k.variant,
      k.nodes.map((n) => n.op).join('+') || '(check)',
      k.medianMs.toFixed(3),
      `${(100 * k.share).toFixed(1)}%`,
      fmtCount(k.flops),
    ]);
  const head = ['#', 'shader', 'variant', 'nodes', 'ms', 'share', 'flops'];
  const numeric = [true, false, false, false, true, true, true];
  return [
    `profile on ${p.adapter}, ${p.mode} (${p.note}); ${p.runs} runs`,
    table(head, rows, numeric),
    `${p.kernels.length} kernels, sum of medians ${p.kernelMs.toFixed(3)} ms; step ${p.stepMs.toFixed(3)} ms wall (unprofiled runs)`,
  ].join('\n');
}
