// Per-kernel profile of one suite workload's step (wg.profile) after tuning: bench/workloads.ts's models.
// Usage: npx tsx bench/profile_workload.ts [--workload NAME] [--batch B] [--top N] [--loop K]
// (--loop K: also times K steps submitted back to back as the suite does, waiting for the last one only, and
// splits the wall time into webgrad's host time (record, plan, encode, submit) and the rest.)
import { parseArgs } from 'node:util';
import * as wg from '../src/index.js';
import { QUICK_OPTIONS, workloads } from './workloads.js';

const { values: args } = parseArgs({
  options: {
    workload: { type: 'string', default: 'resnet-block train' },
    batch: { type: 'string', default: '32' },
    top: { type: 'string', default: '40' },
    loop: { type: 'string', default: '0' },
  },
});
const info = await wg.init();
console.log(`${info.backend}: ${info.description}`);
const B = Number(args.batch);
const w = workloads({ ...QUICK_OPTIONS, trainBatch: B, inferBatches: [B], zoo: 'off', jaxTarget: null }).find(
  (x) => x.name.startsWith(args.workload!) && x.batch === B,
)!;
const model = w.build(wg);
if (!w.train) model.eval();
const rng = new wg.Rng(7);
const x = wg.tensor(
  Float32Array.from({ length: B * w.input[0] * w.input[1] * w.input[2] }, () => rng.next() * 2 - 1),
  [B, ...w.input],
);
const y = wg.tensor(
  Int32Array.from({ length: B }, () => rng.int(10)),
  [B],
  { dtype: 'int32' },
);
const opt = new wg.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
const step = w.train
  ? async () => {
      const loss = wg.tidy(() => {
        const l = wg.softmaxCrossEntropy(model.forward(x), y);
        l.backward();
        return l;
      });
      const read = loss.dataOnFlush();
      opt.step();
      opt.zeroGrad();
      loss.dispose();
      await read;
    }
  : async () => {
      const out = wg.tidy(() => model.forward(x));
      await out.data();
      out.dispose();
    };
for (let i = 0; i < 3; i++) await step();
await wg.tuned();
const p = await wg.profile(step, { runs: 5, warmup: 2, top: Number(args.top) });
console.log(p.text);
const loopSteps = Number(args.loop);
for (let r = 0; r < (loopSteps > 0 ? 3 : 0); r++) {
  const before = wg.stats();
  const t0 = performance.now();
  let out: wg.Tensor | null = null;
  for (let i = 0; i < loopSteps; i++) {
    out?.dispose();
    out = wg.tidy(() => model.forward(x));
    if (i < loopSteps - 1) wg.flush();
  }
  const tHost = performance.now();
  await out!.data();
  out!.dispose();
  const ms = (performance.now() - t0) / loopSteps;
  const after = wg.stats();
  const per = (k: keyof typeof after.cpu) => ((after.cpu[k] - before.cpu[k]) / loopSteps).toFixed(3);
  console.log(
    `loop of ${loopSteps} (suite's inference loop): ${ms.toFixed(3)} ms/step; host loop ${((tHost - t0) / loopSteps).toFixed(3)} ms/step; ` +
      `record ${per('recordMs')}, plan ${per('planMs')}, encode ${per('encodeMs')}, submit ${per('submitMs')} ms/step; ` +
      `submits ${(after.submits - before.submits) / loopSteps}/step`,
  );
}
for (const k of p.kernels)
  console.log(
    `${k.index}\t${k.shader}\t${k.variant}\t${JSON.stringify(k.workgroups)}\t${k.medianMs.toFixed(3)}`,
  );
wg.release();
