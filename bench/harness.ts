// Benchmark harness shared by Node and the browser page: value check, timing, dispatch counts, tables.
import type * as Tf from '@tensorflow/tfjs-core';
import type * as Wg from '../src/index.js';

/** One benchmark row once its inputs exist on both engines. */
export interface Prepared {
  /** Records one iteration of the timed work; called inside `tidy`, returns the tensor to read. */
  webgrad(): Wg.Tensor;
  /** The same work in tfjs; called inside `tf.tidy`. */
  tfjs(): Tf.Tensor;
  dispose(): void;
}

/** A benchmark row: what it computes, its cost, and how to build its inputs on both engines. */
export interface RowSpec {
  op: string;
  pass: string;
  shape: string;
  /** Arithmetic of one iteration (multiply-adds count 2). */
  flops: number;
  /** Bytes one iteration must read and write at least: inputs and outputs once. */
  bytes: number;
  prepare(): Prepared;
}

export interface RowResult {
  op: string;
  pass: string;
  shape: string;
  webgradMs: number;
  tfjsMs: number;
  /** webgrad's arithmetic rate. */
  gflops: number;
  /** webgrad's rate over the minimal bytes. */
  gbps: number;
  /** tfjsMs / webgradMs: above 1 means webgrad is faster. */
  speedup: number;
  /** GPU dispatches per iteration. */
  dispatches: { webgrad: number; tfjs: number };
  /** Largest |webgrad - tfjs| over the output, checked before timing. */
  maxAbsDiff: number;
  /** Set when the values disagree or an engine threw; the row is then not timed. */
  error?: string;
}

export interface Engines {
  wg: typeof Wg;
  tf: typeof Tf;
  /** tfjs dispatches since setup (see `countTfjsDispatches`). */
  tfjsDispatches(): number;
}

export interface TimingOptions {
  /** Timed repetitions; the median is reported. */
  reps: number;
  /** Each repetition runs enough iterations to last about this long. */
  targetMs: number;
}

/** The parts of tfjs-backend-webgpu's WebGPUBackend that the counter hooks. */
interface WebGPUBackendInternals {
  recordAndSubmit(...args: unknown[]): unknown;
}

/** Wraps tfjs's WebGPU backend so each dispatch it records is counted; returns the counter. */
export function countTfjsDispatches(tf: typeof Tf): () => number {
  const backend = tf.backend() as unknown as WebGPUBackendInternals;
  let count = 0;
  const record = backend.recordAndSubmit.bind(backend);
  backend.recordAndSubmit = (...args: unknown[]) => {
    count++;
    return record(...args);
  };
  return () => count;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs `iters` iterations, each submitted without waiting, then waits for the last result; ms per iteration. */
async function timeWebgrad(wg: typeof Wg, p: Prepared, iters: number): Promise<number> {
  const t0 = performance.now();
  let out: Wg.Tensor | null = null;
  for (let i = 0; i < iters; i++) {
    // The previous result was submitted by its flush, so disposing it only returns its buffer afterwards.
    out?.dispose();
    out = wg.tidy(() => p.webgrad());
    if (i < iters - 1) wg.flush();
  }
  await out!.data();
  const ms = (performance.now() - t0) / iters;
  out!.dispose();
  return ms;
}

/** The same loop in tfjs: kernels queue (tfjs submits every few dispatches), then the last result is read. */
async function timeTfjs(tf: typeof Tf, p: Prepared, iters: number): Promise<number> {
  const t0 = performance.now();
  let out: Tf.Tensor | null = null;
  for (let i = 0; i < iters; i++) {
    const next = tf.tidy(() => p.tfjs());
    out?.dispose();
    out = next;
  }
  await out!.data();
  const ms = (performance.now() - t0) / iters;
  out!.dispose();
  return ms;
}

/** Warms up (pipelines compile), sizes the loop from a single iteration, then returns the median of `reps`. */
async function measure(run: (iters: number) => Promise<number>, options: TimingOptions): Promise<number> {
  await run(1);
  const once = await run(1);
  const iters = Math.max(1, Math.min(1000, Math.round(options.targetMs / Math.max(once, 1e-3))));
  const times: number[] = [];
  for (let r = 0; r < options.reps; r++) times.push(await run(iters));
  return median(times);
}

/** Largest difference, and whether every element is within atol + rtol * |ref| (atol scales with the data). */
function compare(got: Float32Array, ref: Float32Array): { maxAbsDiff: number; ok: boolean; worst: string } {
  if (got.length !== ref.length) {
    return { maxAbsDiff: Infinity, ok: false, worst: `lengths ${got.length} vs ${ref.length}` };
  }
  let scale = 0;
  for (const v of ref) scale = Math.max(scale, Math.abs(v));
  // f32 sums in a different order differ by a few ulps of the largest partial sums.
  const atol = 1e-4 * Math.max(1, scale);
  const rtol = 1e-3;
  let maxAbsDiff = 0;
  let ok = true;
  let worst = '';
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    if (!(d <= atol + rtol * Math.abs(ref[i])) && ok) {
      ok = false;
      worst = `[${i}] webgrad ${got[i]}, tfjs ${ref[i]}`;
    }
    if (!(d <= maxAbsDiff)) maxAbsDiff = d;
  }
  return { maxAbsDiff, ok, worst };
}

/** Checks that both engines agree on `row`, then times both; errors are reported in the row, not thrown. */
export async function runRow(row: RowSpec, engines: Engines, options: TimingOptions): Promise<RowResult> {
  const { wg, tf } = engines;
  const result: RowResult = {
    op: row.op,
    pass: row.pass,
    shape: row.shape,
    webgradMs: NaN,
    tfjsMs: NaN,
    gflops: NaN,
    gbps: NaN,
    speedup: NaN,
    dispatches: { webgrad: NaN, tfjs: NaN },
    maxAbsDiff: NaN,
  };
  let p: Prepared | null = null;
  try {
    p = row.prepare();
    const prepared = p;
    // Work that prepare() recorded (forward results a backward pass reads) runs now, outside the counts.
    wg.flush();
    // First iteration on each side: values to compare, and the dispatches of one iteration.
    const wgBefore = wg.stats().dispatches;
    const wgOut = wg.tidy(() => prepared.webgrad());
    const got = await wgOut.data();
    // That iteration queued the tuning of its shapes; it runs alone, before tfjs's first iteration.
    await wg.tuned();
    const tfBefore = engines.tfjsDispatches();
    const tfOut = tf.tidy(() => prepared.tfjs());
    const ref = (await tfOut.data()) as Float32Array;
    tfOut.dispose();
    result.dispatches = {
      webgrad: wg.stats().dispatches - wgBefore,
      tfjs: engines.tfjsDispatches() - tfBefore,
    };
    const check = compare(got, ref);
    result.maxAbsDiff = check.maxAbsDiff;
    if (!check.ok) {
      // A third opinion says which engine is off: webgrad's float64 reference of the same graph.
      const [oracle] = wg.evaluateReference([wgOut], await wg.readLeaves([wgOut]));
      const f64 = Float32Array.from(oracle.data);
      result.error =
        `values differ (max |diff| ${check.maxAbsDiff.toExponential(2)}), first: ${check.worst}; ` +
        `max |diff| to the float64 reference: webgrad ${compare(got, f64).maxAbsDiff.toExponential(2)}, ` +
        `tfjs ${compare(ref, f64).maxAbsDiff.toExponential(2)}`;
      wgOut.dispose();
      return result;
    }
    wgOut.dispose();
    result.webgradMs = await measure((n) => timeWebgrad(wg, prepared, n), options);
    result.tfjsMs = await measure((n) => timeTfjs(tf, prepared, n), options);
    result.gflops = row.flops / (result.webgradMs * 1e6);
    result.gbps = row.bytes / (result.webgradMs * 1e6);
    result.speedup = result.tfjsMs / result.webgradMs;
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
  } finally {
    p?.dispose();
  }
  return result;
}

/** Runs the rows whose "op pass shape" matches `filter` (all when null), logging one line per row. */
export async function runRows(
  specs: readonly RowSpec[],
  engines: Engines,
  options: TimingOptions,
  filter: RegExp | null,
): Promise<RowResult[]> {
  const rows: RowResult[] = [];
  for (const row of specs) {
    const name = `${row.op} ${row.pass} ${row.shape}`;
    if (filter && !filter.test(name)) continue;
    const r = await runRow(row, engines, options);
    console.log(
      r.error
        ? `${name}: ${r.error}`
        : `${name}: webgrad ${r.webgradMs.toFixed(3)} ms, tfjs ${r.tfjsMs.toFixed(3)} ms (${r.speedup.toFixed(2)}x)`,
    );
    rows.push(r);
  }
  return rows;
}

function fixed(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '-';
}

/**
 * A markdown table of the results, titled with the adapter. With `peakGflops` (the adapter's measured FP32 peak,
 * bench/peak.ts) a column gives webgrad's GFLOP/s as a percentage of it.
 */
export function markdownTable(adapter: string, rows: readonly RowResult[], peakGflops?: number): string {
  const peak = peakGflops !== undefined && peakGflops > 0;
  const lines = [
    `Adapter: ${adapter}. Medians per iteration; GFLOP/s and GB/s are webgrad's; speedup = tfjs / webgrad.` +
      (peak ? ` % peak: of the measured FP32 peak, ${peakGflops.toFixed(1)} GFLOP/s (bench/peak.ts).` : ''),
    '',
    `| op | pass | shape | webgrad ms | tfjs ms | GFLOP/s |${peak ? ' % peak |' : ''} GB/s | speedup | dispatches wg / tfjs |`,
    `| --- | --- | --- | ---: | ---: | ---: |${peak ? ' ---: |' : ''} ---: | ---: | ---: |`,
  ];
  for (const r of rows) {
    const pct = peak ? ` ${fixed((100 * r.gflops) / peakGflops, 1)} |` : '';
    lines.push(
      `| ${r.op} | ${r.pass} | ${r.shape} | ${fixed(r.webgradMs, 3)} | ${fixed(r.tfjsMs, 3)} | ` +
        `${fixed(r.gflops, 2)} |${pct} ${fixed(r.gbps, 2)} | ${fixed(r.speedup, 2)}x | ` +
        `${r.dispatches.webgrad} / ${r.dispatches.tfjs} |`,
    );
  }
  const failed = rows.filter((r) => r.error);
  if (failed.length > 0) {
    lines.push('', 'Not timed:');
    for (const r of failed) lines.push(`- ${r.op} ${r.pass} ${r.shape}: ${r.error}`);
  }
  return lines.join('\n');
}
