// Times every conv kernel variant, forced, at the op benchmark's conv shapes, side by side in one process.
// Usage: npx tsx bench/variants.ts [--filter REGEX] [--reps N] [--target-ms MS] [--batch N] [--conv H:CIN:COUT:K:S,...]
// (SwiftShader is slow: --batch 1 keeps a run to minutes; --conv replaces the shapes, e.g. 14:32:32:3:1.)
// Each row is one (pass, shape, variant): median ms over reps, GFLOP/s, and the ratio to the untuned fallback.
// Every variant's output is first checked against the fallback's (max |diff| printed; a mismatch is an error).
import { parseArgs } from 'node:util';
import * as wg from '../src/index.js';
import type { Dispatch } from '../src/gpu/runtime.js';
import { record } from '../src/graph/record.js';
import { state } from '../src/graph/state.js';
import {
  chooseConv2d,
  conv2dCandidates,
  conv2dOp,
  conv2dPlan,
  convAttrs,
  convFlops,
} from '../src/ops/conv2d.js';
import {
  backpropFilterCandidates,
  backpropFilterPlan,
  chooseBackpropFilter,
  conv2dBackpropFilterOp,
} from '../src/ops/conv2d_backprop_filter.js';
import {
  backpropInputCandidates,
  backpropInputPlan,
  chooseBackpropInput,
  conv2dBackpropInputOp,
} from '../src/ops/conv2d_backprop_input.js';
import { convDims, type ConvDims } from '../src/ops/conv_geometry.js';
import type { KernelIO, OpDef } from '../src/ops/types.js';

const { values: args } = parseArgs({
  options: {
    filter: { type: 'string' },
    reps: { type: 'string', default: '3' },
    'target-ms': { type: 'string', default: '150' },
    batch: { type: 'string', default: '8' },
    conv: { type: 'string' },
  },
});

/** The op benchmark's convolutions (bench/rows.ts; batch 8 there), 'same' padding; or the --conv list. */
const CONVS = args.conv
  ? args.conv.split(',').map((spec) => {
      const [h, cin, cout, k, stride] = spec.split(':').map(Number);
      if (![h, cin, cout, k, stride].every((v) => Number.isInteger(v) && v > 0))
        throw new Error(`--conv: expected H:CIN:COUT:K:S, got '${spec}'`);
      return { h, cin, cout, k, stride };
    })
  : [
      { h: 32, cin: 64, cout: 64, k: 3, stride: 1 },
      { h: 32, cin: 64, cout: 128, k: 3, stride: 2 },
      { h: 16, cin: 32, cout: 32, k: 5, stride: 1 },
      { h: 64, cin: 3, cout: 64, k: 7, stride: 2 },
    ];

interface Pass<C> {
  name: string;
  op: OpDef<never>;
  inputs(d: ConvDims): number[][];
  attrs(d: ConvDims, xShape: number[]): unknown;
  candidates(d: ConvDims): C[];
  fallback(d: ConvDims): C;
  plan(io: KernelIO, d: ConvDims, c: C): Dispatch[];
}

const passes: Pass<unknown>[] = [
  {
    name: 'forward',
    op: conv2dOp as OpDef<never>,
    inputs: (d) => [
      [d.n, d.h, d.w, d.cin],
      [d.kh, d.kw, d.cin, d.cout],
    ],
    attrs: (d) => convAttrs('conv2d', { stride: d.sh, padding: 'same' }),
    candidates: (d) => conv2dCandidates(d, state.runtime!.info.limits),
    fallback: (d) => chooseConv2d(true, d),
    plan: (io, d, c) => conv2dPlan(io, d, c as Parameters<typeof conv2dPlan>[2]),
  },
  {
    name: 'backprop-input',
    op: conv2dBackpropInputOp as OpDef<never>,
    inputs: (d) => [
      [d.n, d.oh, d.ow, d.cout],
      [d.kh, d.kw, d.cin, d.cout],
    ],
    attrs: (d, xShape) => ({ ...convAttrs('conv2d', { stride: d.sh, padding: 'same' }), inputShape: xShape }),
    candidates: (d) => backpropInputCandidates(d, state.runtime!.info.limits),
    fallback: (d) => chooseBackpropInput(true, d),
    plan: (io, d, c) => backpropInputPlan(io, d, c as Parameters<typeof backpropInputPlan>[2]),
  },
  {
    name: 'backprop-filter',
    op: conv2dBackpropFilterOp as OpDef<never>,
    inputs: (d) => [
      [d.n, d.h, d.w, d.cin],
      [d.n, d.oh, d.ow, d.cout],
    ],
    attrs: (d) => ({
      ...convAttrs('conv2d', { stride: d.sh, padding: 'same' }),
      filterShape: [d.kh, d.kw, d.cin, d.cout],
    }),
    candidates: (d) => backpropFilterCandidates(d, state.runtime!.info.limits),
    fallback: (d) => chooseBackpropFilter(true, d),
    plan: (io, d, c) => backpropFilterPlan(io, d, c as Parameters<typeof backpropFilterPlan>[2]),
  },
];

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** ms per run of `run` over `iters` submits, waiting only for the last. */
async function time(run: () => wg.Tensor, iters: number): Promise<number> {
  const t0 = performance.now();
  let out: wg.Tensor | null = null;
  for (let i = 0; i < iters; i++) {
    out?.dispose();
    out = wg.tidy(run);
    if (i < iters - 1) wg.flush();
  }
  await out!.data();
  out!.dispose();
  return (performance.now() - t0) / iters;
}

const info = await wg.init();
console.log(`conv variants on ${info.backend}: ${info.description}`);
const reps = Number(args.reps);
const targetMs = Number(args['target-ms']);
const batch = Number(args.batch);
const filter = args.filter ? new RegExp(args.filter) : null;
let failed = false;
for (const c of CONVS) {
  const xShape = [batch, c.h, c.h, c.cin];
  const attrs0 = convAttrs('conv2d', { stride: c.stride, padding: 'same' });
  const d = convDims('conv2d', xShape, [c.k, c.k, c.cin, c.cout], attrs0);
  const shape = `${batch}x${c.h}x${c.h}x${c.cin} k${c.k}x${c.k} s${c.stride} ->${c.cout}`;
  for (const pass of passes) {
    const rows = [pass.fallback(d), ...pass.candidates(d)];
    const seen = new Set<string>();
    const leaves = pass.inputs(d).map((s, i) => wg.randn(s, { seed: 10 + i }));
    const attrs = pass.attrs(d, xShape) as never;
    let baseMs = NaN;
    let baseValues: Float32Array | null = null;
    for (const choice of rows) {
      const label = JSON.stringify(choice);
      if (seen.has(label)) continue;
      seen.add(label);
      const name = `${pass.name} ${shape} ${label}`;
      if (filter && !filter.test(name) && baseValues) continue;
      const op = { ...pass.op, forward: (io: KernelIO) => pass.plan(io, d, choice) } as OpDef<never>;
      const run = () => record(op, leaves, attrs)[0];
      const first = wg.tidy(run);
      const values = await first.data();
      first.dispose();
      let diff = 0;
      let scale = 1;
      if (!baseValues) baseValues = values;
      for (let i = 0; i < values.length; i++) {
        diff = Math.max(diff, Math.abs(values[i] - baseValues[i]));
        scale = Math.max(scale, Math.abs(baseValues[i]));
      }
      const once = await time(run, 1);
      const iters = Math.max(1, Math.min(200, Math.round(targetMs / Math.max(once, 1e-3))));
      const times: number[] = [];
      for (let r = 0; r < reps; r++) times.push(await time(run, iters));
      const ms = median(times);
      if (Number.isNaN(baseMs)) baseMs = ms;
      // f32 sums in another order differ by a few ulps of the largest partial sums.
      const bad = !(diff <= 1e-5 * scale);
      failed ||= bad;
      console.log(
        `${name}: ${ms.toFixed(2)} ms, ${(convFlops(d) / (ms * 1e6)).toFixed(2)} GFLOP/s, ` +
          `${(baseMs / ms).toFixed(2)}x fallback, max |diff| ${diff.toExponential(1)}${bad ? ' MISMATCH' : ''}`,
      );
    }
    leaves.forEach((t) => t.dispose());
  }
}
wg.release();
if (failed) process.exitCode = 1;
