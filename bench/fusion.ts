// Fusion table: per workload, dispatches, bytes moved, step time and host CPU per step, fusion passes off/on.
// Run: npx tsx bench/fusion.ts [--steps N] [--repeats N] [--warmup N] [--filter REGEX] [--settings REGEX]
//        [--rounds N] [--profile] [--optimizer sgd|adam|adamw] [--lr-schedule cosine]
// Each (round, setting) opens a fresh engine, runs --warmup steps, waits for the tuner (wg.tuned()), runs two more
// (the replay plans made before a tuner choice are dropped), collects garbage, then times --repeats x --steps
// steps one by one; its figures are the median and the lower-quartile step. Rounds alternate the settings' order (A B, B A, ...) so drift
// on a shared machine hits them alike; the table gives each setting's median over the rounds with the spread
// (min-max), and each setting's speed-up over the first one chosen, per round and as the median of the rounds.
// --profile: in the first round, each setting's wg.profile (slowest kernels, then kernel time summed by kind).
// --optimizer and --lr-schedule train with Adam/AdamW (step counts change every step) or a cosine learning rate
// (set every step) instead of SGD momentum at a constant rate; the last column counts replay misses per step.
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as wg from '../src/index.js';
import type { GpuRuntime } from '../src/gpu/runtime.js';
import { passReplayStats } from '../src/graph/pass_replay.js';
import { replayStats } from '../src/graph/scheduler.js';
import { state } from '../src/graph/state.js';
import { FUSION_PASSES } from '../src/options.js';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '10' },
    repeats: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '3' },
    filter: { type: 'string' },
    /** Only the settings (table column 'fusion') whose label matches, e.g. 'all on'. */
    settings: { type: 'string' },
    rounds: { type: 'string', default: '1' },
    profile: { type: 'boolean', default: false },
    optimizer: { type: 'string', default: 'sgd' },
    'lr-schedule': { type: 'string' },
  },
});
if (!['sgd', 'adam', 'adamw'].includes(args.optimizer))
  throw new Error(`--optimizer must be sgd, adam or adamw, got ${args.optimizer}`);
if (args['lr-schedule'] !== undefined && args['lr-schedule'] !== 'cosine')
  throw new Error(`--lr-schedule must be cosine, got ${args['lr-schedule']}`);
/** A new learning rate every step (over a long horizon, so it keeps changing through the timed steps). */
const schedule = args['lr-schedule'] ? wg.cosineSchedule({ base: 0.01, total: 100_000, min: 1e-4 }) : null;
const steps = Number(args.steps);
const repeats = Number(args.repeats);
const warmup = Number(args.warmup);
const rounds = Number(args.rounds);

// A full collection before each timed block, so garbage of the warm-up (and of the last engine) is not
// collected inside it.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

interface FusionWorkload {
  name: string;
  train: boolean;
  batch: number;
  build(): wg.Network;
}

const WORKLOADS: FusionWorkload[] = [
  { name: 'resnet train b32', train: true, batch: 32, build: () => wg.resnet() },
  { name: 'inception train b32', train: true, batch: 32, build: () => wg.inception() },
  { name: 'resnet train b4', train: true, batch: 4, build: () => wg.resnet() },
  { name: 'inception train b4', train: true, batch: 4, build: () => wg.inception() },
  { name: 'resnet train b1', train: true, batch: 1, build: () => wg.resnet() },
  { name: 'resnet infer b1', train: false, batch: 1, build: () => wg.resnet() },
  { name: 'inception train b1', train: true, batch: 1, build: () => wg.inception() },
  { name: 'inception infer b1', train: false, batch: 1, build: () => wg.inception() },
  { name: 'resnet infer b32', train: false, batch: 32, build: () => wg.resnet() },
  { name: 'inception infer b32', train: false, batch: 32, build: () => wg.inception() },
];

/** The settings compared: fusion all off, each pass alone off, all on; then all on without replay. */
function configs(): [string, wg.InitOptions][] {
  const list: [string, wg.InitOptions][] = [['fusion off', { fusion: false }]];
  if (FUSION_PASSES.length > 1) {
    for (const p of FUSION_PASSES) list.push([`${p} off`, { fusion: { [p]: false } }]);
  }
  list.push(['all on', {}], ['all on, replay off', { replay: false }]);
  return list;
}

/** The runtime's replay counters since init: nodes planned anew, flushes fused anew, nodes given new uniforms. */
function replayCounts(runtime: GpuRuntime) {
  const nodes = replayStats(runtime) as { misses: number; rederived?: number };
  return {
    misses: nodes.misses,
    passMisses: passReplayStats(runtime).misses,
    rederived: nodes.rederived ?? 0,
  };
}

/** The q-quantile of v (0.5: the median), interpolated between the two nearest values. */
const quantile = (v: readonly number[], q: number) => {
  const s = [...v].sort((a, b) => a - b);
  const at = q * (s.length - 1);
  const lo = Math.floor(at);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (at - lo);
};
const median = (v: readonly number[]) => quantile(v, 0.5);
const spread = (v: readonly number[], digits: number) =>
  `${Math.min(...v).toFixed(digits)}-${Math.max(...v).toFixed(digits)}`;

/** A step as fit() records it: fresh batch tensors, forward (+ backward and update), the loss read on flush. */
function stepper(w: FusionWorkload) {
  const model = w.build();
  if (!w.train) model.eval();
  const params = model.parameters();
  const optimizer =
    args.optimizer === 'adam'
      ? new wg.Adam(params, { lr: 0.001 })
      : args.optimizer === 'adamw'
        ? new wg.AdamW(params, { lr: 0.001 })
        : new wg.SGD(params, { lr: 0.01, momentum: 0.9 });
  let index = 0;
  const rng = new wg.Rng(7);
  const pixels = Float32Array.from({ length: w.batch * 28 * 28 }, () => rng.next());
  const labels = Int32Array.from({ length: w.batch }, (_, i) => i % 10);
  return async () => {
    const x = wg.tensor(pixels, [w.batch, 28, 28, 1]);
    const y = wg.tensor(labels, [w.batch], { dtype: 'int32' });
    if (w.train) {
      if (schedule) optimizer.lr = schedule(index++);
      const loss = wg.tidy(() => {
        const l = wg.softmaxCrossEntropy(model.forward(x), y);
        l.backward();
        return l;
      });
      const read = loss.dataOnFlush();
      void optimizer.step();
      optimizer.zeroGrad();
      loss.dispose();
      await read;
    } else {
      const z = wg.tidy(() => model.forward(x));
      await z.data();
      z.dispose();
    }
    x.dispose();
    y.dispose();
  };
}

/** One setting in one round: the step's plan, its median step time and host milliseconds per phase. */
interface Measured {
  dispatches: number;
  mb: number;
  ms: number;
  /** The lower quartile of the steps: what a step takes when the shared machine's other jobs leave it alone. */
  fastMs: number;
  cpuMs: number;
  submitMs: number;
  phases: { recordMs: number; planMs: number; encodeMs: number };
  /** Replay misses per timed step: nodes planned anew, flushes fused anew, nodes given new uniforms. */
  replay: { misses: number; passMisses: number; rederived: number } | null;
}

/** The kind of kernel a profile row is, by the ops it covers (the rows of the per-kind sums --profile prints). */
function kernelKind(ops: readonly string[]): string {
  const o = ops.join('+');
  if (o.includes('conv2dBackpropInput')) return 'conv dx';
  if (o.includes('conv2dBackpropFilter')) return 'conv dw (with its sum pass)';
  if (o.startsWith('conv2d')) return 'conv forward';
  if (o.includes('batchNormUpdate')) return 'batch-norm running update';
  if (o.includes('batchNorm')) return 'batch norm forward and backward';
  if (/Update$/.test(ops[0])) return 'optimizer update';
  if (o.includes('maxPool')) return 'max pool forward and backward';
  if (o.startsWith('concat')) return 'concat, concatSlice';
  if (ops.every((op) => ['relu', 'reluBackward', 'add'].includes(op))) return 'relu, reluBackward, add';
  return 'dense head, loss, global mean, their gradients';
}

/** wg.profile of the step: its slowest kernels, then the kernels' medians (less an empty submit) summed by kind. */
async function printProfile(w: FusionWorkload, label: string, step: () => Promise<void>): Promise<void> {
  const p = await wg.profile(step, { runs: 3 });
  console.log(`\n${w.name}, ${label}:\n${p.text}`);
  const kinds = new Map<string, { n: number; ms: number }>();
  for (const k of p.kernels) {
    const kind = kernelKind(k.nodes.map((n) => n.op));
    const e = kinds.get(kind) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += Math.max(0, k.medianMs - p.submitOverheadMs);
    kinds.set(kind, e);
  }
  for (const [kind, e] of [...kinds].sort((a, b) => b[1].ms - a[1].ms))
    console.log(`  ${kind}: ${e.n} kernels, ${e.ms.toFixed(2)} ms`);
  console.log();
}

async function measure(
  w: FusionWorkload,
  label: string,
  options: wg.InitOptions,
  profileNow: boolean,
): Promise<Measured> {
  await wg.init(options);
  const step = stepper(w);
  for (let i = 0; i < warmup; i++) await step();
  await wg.tuned();
  for (let i = 0; i < 2; i++) await step();
  const plan = await wg.explain(step);
  collectGarbage();
  const times: number[] = [];
  const before = wg.stats().cpu;
  const runtime = state.runtime!;
  const replayBefore = replayCounts(runtime);
  for (let r = 0; r < repeats; r++) {
    for (let i = 0; i < steps; i++) {
      const start = performance.now();
      await step();
      times.push(performance.now() - start);
    }
    if (r < repeats - 1) collectGarbage();
  }
  const after = wg.stats().cpu;
  const n = repeats * steps;
  const replayAfter = replayCounts(runtime);
  const perStep = (k: keyof typeof replayAfter) => (replayAfter[k] - replayBefore[k]) / n;
  const replay =
    options.replay === false
      ? null
      : { misses: perStep('misses'), passMisses: perStep('passMisses'), rederived: perStep('rederived') };
  const spent = (k: keyof typeof after) => after[k] - before[k];
  const phases = { recordMs: spent('recordMs'), planMs: spent('planMs'), encodeMs: spent('encodeMs') };
  if (args.profile && profileNow) await printProfile(w, label, step);
  wg.release();
  return {
    dispatches: plan.dispatches,
    mb: (plan.bytesRead + plan.bytesWritten) / 2 ** 20,
    ms: median(times),
    fastMs: quantile(times, 0.25),
    cpuMs: (phases.recordMs + phases.planMs + phases.encodeMs) / n,
    submitMs: spent('submitMs') / n,
    phases,
    replay,
  };
}

/** The replay column: per-step misses, medians over the rounds. */
function replayCell(m: readonly Measured[]): string {
  if (m[0].replay === null) return 'replay off';
  const of = (k: 'misses' | 'passMisses' | 'rederived') => median(m.map((x) => x.replay![k])).toFixed(1);
  return `${of('misses')}, ${of('passMisses')} (${of('rederived')})`;
}

const info = await wg.init();
wg.release();
const training = `${args.optimizer}${schedule ? ', cosine lr' : ''}`;
console.log(
  `adapter: ${info.backend} (${info.description}); training: ${training}; per setting and round: ${warmup} warm-up steps, wg.tuned(), ` +
    `2 more, then ${repeats} x ${steps} timed steps; ${rounds} round(s), order alternating; ms/step: the rounds' ` +
    `median (min-max) of the median step, and of the lower-quartile step ("fast")`,
);
console.log(
  '| workload | fusion | dispatches/step | MB moved/step | ms/step (min-max) | fast ms/step (min-max) | CPU ms/step (record+plan+encode) | in queue.submit ms/step | replay misses/step: nodes planned, flushes fused anew (nodes given new uniforms) |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
const filter = args.filter ? new RegExp(args.filter) : null;
const ratios: string[] = [];
const summary = (v: readonly number[], digits: number, unit = '') =>
  `${median(v).toFixed(digits)}${unit} (${spread(v, digits)}${unit})`;
for (const w of WORKLOADS.filter((x) => !filter || filter.test(x.name))) {
  const only = args.settings ? new RegExp(args.settings) : null;
  const chosen = configs().filter(([l]) => !only || only.test(l));
  const results = new Map<string, Measured[]>(chosen.map(([l]) => [l, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? chosen : [...chosen].reverse();
    for (const [label, options] of order)
      results.get(label)!.push(await measure(w, label, options, round === 0));
  }
  for (const [label] of chosen) {
    const m = results.get(label)!;
    const sum = (k: keyof Measured['phases']) => m.reduce((a, x) => a + x.phases[k], 0);
    const total = sum('recordMs') + sum('planMs') + sum('encodeMs');
    const pct = (k: keyof Measured['phases']) => `${((100 * sum(k)) / total).toFixed(0)}%`;
    const split = `record ${pct('recordMs')}, plan ${pct('planMs')}, encode ${pct('encodeMs')}`;
    const cells = [
      w.name,
      label,
      m[0].dispatches,
      m[0].mb.toFixed(1),
      summary(
        m.map((x) => x.ms),
        2,
      ),
      summary(
        m.map((x) => x.fastMs),
        2,
      ),
      `${median(m.map((x) => x.cpuMs)).toFixed(2)} (${split})`,
      median(m.map((x) => x.submitMs)).toFixed(2),
      replayCell(m),
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }
  // Speed-up of each setting over the first one chosen, round by round (both measured in the same round).
  const base = results.get(chosen[0][0])!;
  for (const [label] of chosen.slice(1)) {
    const of = (k: 'ms' | 'fastMs') => results.get(label)!.map((x, i) => base[i][k] / x[k]);
    const perRound = (r: number[]) => r.map((v) => v.toFixed(2)).join(', ');
    ratios.push(
      `${w.name}, ${label} vs ${chosen[0][0]}: median step ${summary(of('ms'), 2, 'x')}, fast step ` +
        `${summary(of('fastMs'), 2, 'x')}; per round ${perRound(of('ms'))} / ${perRound(of('fastMs'))}`,
    );
  }
}
if (ratios.length > 0) {
  console.log(
    `\nspeed-up (ms of the first setting over ms of the other in the same round; median of the rounds):`,
  );
  console.log(ratios.join('\n'));
}
