// Times forward conv choices at small (batch-1) shapes as one inference submit runs them: each sample submits one
// choice's dispatch `--repeats` times back to back in one submit; choices alternate within every round; median.
// Usage: npx tsx bench/conv_small.ts [--conv H:CIN:COUT:K:S,...] [--batch N] [--repeats R] [--rounds K] [--filter RE]
// (--filter keeps the candidates whose JSON matches; the untuned fallback always runs and is the 1.00x row.)
import { parseArgs } from 'node:util';
import * as wg from '../src/index.js';
import type { Dispatch } from '../src/gpu/runtime.js';
import { state } from '../src/graph/state.js';
import { chooseConv2d, conv2dCandidates, conv2dPlan, convFlops } from '../src/ops/conv2d.js';
import { convDims } from '../src/ops/conv_geometry.js';
import type { KernelIO } from '../src/ops/types.js';
import { convAttrs } from '../src/ops/conv2d.js';

const { values: args } = parseArgs({
  options: {
    // The default ResNet's and Inception's 3x3 and 5x5 convs at batch 1 (28x28x1 input).
    conv: {
      type: 'string',
      default:
        '28:1:8:3:1,28:8:8:3:1,28:8:16:3:2,14:16:16:3:1,14:16:32:3:2,7:32:32:3:1,28:1:32:3:1,14:16:24:3:1,14:4:8:5:1,7:24:48:3:1,7:8:16:5:1',
    },
    batch: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '15' },
    filter: { type: 'string' },
  },
});

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

await wg.init();
const rt = state.runtime!;
console.log(`conv_small on ${rt.info.description}`);
const batch = Number(args.batch);
const repeats = Number(args.repeats);
const rounds = Number(args.rounds);
const filter = args.filter ? new RegExp(args.filter) : null;
const buffers: GPUBuffer[] = [];
const buffer = (floats: number) => {
  const b = rt.device.createBuffer({
    size: Math.max(16, 4 * floats),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  buffers.push(b);
  return b;
};
for (const spec of args.conv.split(',')) {
  const [h, cin, cout, k, stride] = spec.split(':').map(Number);
  if (![h, cin, cout, k, stride].every((v) => Number.isInteger(v) && v > 0))
    throw new Error(`--conv: expected H:CIN:COUT:K:S, got '${spec}'`);
  const xShape = [batch, h, h, cin];
  const wShape = [k, k, cin, cout];
  const d = convDims('conv2d', xShape, wShape, convAttrs('conv2d', { stride, padding: 'same' }));
  const io: KernelIO = {
    inputs: [xShape, wShape].map((shape) => ({
      buffer: buffer(shape.reduce((a, b) => a * b, 1)),
      spec: { shape, dtype: 'float32' as const },
    })),
    outputs: [
      {
        buffer: buffer(batch * d.oh * d.ow * cout),
        spec: { shape: [batch, d.oh, d.ow, cout], dtype: 'float32' },
      },
    ],
    scratch: buffer,
    limits: rt.info.limits,
    software: rt.info.software,
    relu: false,
    epilogue: { bn: null, residual: null, relu: false },
    check: () => {
      throw new Error('conv_small: no device checks');
    },
    tune: (r) => r.fallback,
  };
  const fallback = chooseConv2d(rt.info.software, d);
  const seen = new Set([JSON.stringify(fallback)]);
  const choices = [fallback];
  for (const c of conv2dCandidates(d, rt.info.limits)) {
    const text = JSON.stringify(c);
    if (!seen.has(text) && !text.includes('wgtile') && (!filter || filter.test(text))) choices.push(c);
    seen.add(text);
  }
  const plans: Dispatch[][] = choices.map((c) => conv2dPlan(io, d, c));
  const run = async (plan: Dispatch[]) => {
    const t0 = performance.now();
    rt.submit(Array.from({ length: repeats }, () => plan).flat(), []);
    await rt.device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / repeats;
  };
  for (const p of plans) await run(p); // compile and warm up
  const times: number[][] = plans.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < plans.length; i++) {
      const j = (i + r) % plans.length; // rotate the order so no choice always follows the same one
      times[j].push(await run(plans[j]));
    }
  }
  const ms = times.map(median);
  console.log(
    `${batch}x${h}x${h}x${cin} k${k} s${stride} ->${cout} (${(convFlops(d) / 1e6).toFixed(2)} MFLOP):`,
  );
  const order = ms.map((_, i) => i).sort((a, b) => ms[a] - ms[b]);
  for (const i of order) {
    const wgs = plans[i].map((p) => JSON.stringify(p.workgroups)).join('+');
    console.log(
      `  ${(ms[i] * 1000).toFixed(0).padStart(5)} us  ${(ms[0] / ms[i]).toFixed(2)}x  ${wgs} wg  ${JSON.stringify(choices[i])}${i === 0 ? '  (fallback)' : ''}`,
    );
  }
}
for (const b of buffers) b.destroy();
wg.release();
