// Fusion table: per workload, dispatches, bytes moved, step time and host CPU per step, fusion passes off/on.
// Run: npx tsx bench/fusion.ts [--steps N] [--repeats N] [--filter REGEX] [--settings REGEX] [--rounds N] [--profile]
//        [--optimizer sgd|adam|adamw] [--lr-schedule cosine]
// --rounds runs the chosen settings in turn N times: on a shared machine, compare settings within one round.
// --optimizer and --lr-schedule train with Adam/AdamW (step counts change every step) or a cosine learning rate
// (set every step) instead of SGD momentum at a constant rate; the last column counts replay misses per step.
import { parseArgs } from 'node:util';
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
const rounds = Number(args.rounds);

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

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

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

const info = await wg.init();
wg.release();
const training = `${args.optimizer}${schedule ? ', cosine lr' : ''}`;
console.log(
  `adapter: ${info.backend} (${info.description}); ${steps} steps x ${repeats} repeats, medians; training: ${training}`,
);
console.log(
  '| workload | fusion | dispatches/step | MB moved/step | ms/step | CPU ms/step (record+plan+encode) | in queue.submit ms/step | replay misses/step: nodes planned, flushes fused anew (nodes given new uniforms) |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
const filter = args.filter ? new RegExp(args.filter) : null;
for (const w of WORKLOADS.filter((x) => !filter || filter.test(x.name))) {
  const only = args.settings ? new RegExp(args.settings) : null;
  const chosen = configs().filter(([l]) => !only || only.test(l));
  for (const [label, options] of Array.from({ length: rounds }, () => chosen).flat()) {
    await wg.init(options);
    const step = stepper(w);
    for (let i = 0; i < 2; i++) await step();
    const plan = await wg.explain(step);
    const times: number[] = [];
    const cpu: number[] = [];
    const submit: number[] = [];
    // Host milliseconds per phase over the timed steps (what the split in the table shows).
    const phases = { recordMs: 0, planMs: 0, encodeMs: 0 };
    const runtime = state.runtime!;
    const replayBefore = replayCounts(runtime);
    for (let r = 0; r < repeats; r++) {
      const before = wg.stats().cpu;
      const start = performance.now();
      for (let i = 0; i < steps; i++) await step();
      times.push((performance.now() - start) / steps);
      const after = wg.stats().cpu;
      const spent = (k: keyof typeof after) => after[k] - before[k];
      for (const k of ['recordMs', 'planMs', 'encodeMs'] as const) phases[k] += spent(k);
      cpu.push((spent('recordMs') + spent('planMs') + spent('encodeMs')) / steps);
      submit.push(spent('submitMs') / steps);
    }
    const total = phases.recordMs + phases.planMs + phases.encodeMs;
    const pct = (v: number) => `${((100 * v) / total).toFixed(0)}%`;
    const split = `record ${pct(phases.recordMs)}, plan ${pct(phases.planMs)}, encode ${pct(phases.encodeMs)}`;
    const mb = (plan.bytesRead + plan.bytesWritten) / 2 ** 20;
    const timed = steps * repeats;
    const replayAfter = replayCounts(runtime);
    const perStep = (k: keyof typeof replayAfter) => ((replayAfter[k] - replayBefore[k]) / timed).toFixed(1);
    const replayed =
      options.replay === false
        ? 'replay off'
        : `${perStep('misses')}, ${perStep('passMisses')} (${perStep('rederived')})`;
    console.log(
      `| ${w.name} | ${label} | ${plan.dispatches} | ${mb.toFixed(1)} | ${median(times).toFixed(2)} | ${median(cpu).toFixed(2)} (${split}) | ${median(submit).toFixed(2)} | ${replayed} |`,
    );
    if (args.profile && label === 'all on') console.log((await wg.profile(step, { runs: 3 })).text);
    wg.release();
  }
}
