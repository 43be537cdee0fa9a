// Training K ensemble members: one after another (one submit per member step) vs interleaved (all K in one step).
// Usage: npx tsx bench/ensemble_train.ts [--members K] [--steps S] [--reps R] [--batch B]
// Interleaved: the K members' losses are summed, one backward and one Adam step over every member's parameters
// (Adam is per element, so each member gets exactly its own update), one submit per step. Reports images per
// second summed over members (K * B images per round of K member steps), median and range over R repetitions.
import { parseArgs } from 'node:util';
import * as wg from '../src/index.js';

const { values: args } = parseArgs({
  options: {
    members: { type: 'string', default: '3' },
    steps: { type: 'string', default: '20' },
    reps: { type: 'string', default: '5' },
    batch: { type: 'string', default: '128' },
  },
});
const [members, steps, reps, batch] = [args.members, args.steps, args.reps, args.batch].map(Number);

const info = await wg.init();
console.log(`adapter: ${info.backend} (${info.description}); ${members} default ResNets, batch ${batch}`);
const models = Array.from({ length: members }, (_, seed) => wg.resnet({ seed }));
const x = wg.uniform([batch, 28, 28, 1], { seed: 1 });
const y = wg.tensor(
  Array.from({ length: batch }, (_, i) => i % 10),
  [batch],
  { dtype: 'int32' },
);

/** Runs `steps` steps of `step` with one step in flight (as fit does); returns the seconds taken. */
async function timed(step: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  let previous: Promise<unknown> | null = null;
  for (let s = 0; s < steps; s++) {
    const read = step();
    await previous;
    previous = read;
  }
  await previous;
  return (performance.now() - start) / 1000;
}

function stepOf(params: wg.Tensor[], loss: () => wg.Tensor): { opt: wg.Adam; step: () => Promise<unknown> } {
  const opt = new wg.Adam(params, { lr: 1e-3 });
  return {
    opt,
    step: () => {
      const l = wg.tidy(() => {
        const l = loss();
        l.backward();
        return l;
      });
      const read = l.dataOnFlush();
      opt.step();
      opt.zeroGrad();
      l.dispose();
      return read;
    },
  };
}

const sequential = models.map((m) => stepOf(m.parameters(), () => wg.softmaxCrossEntropy(m.forward(x), y)));
const interleaved = stepOf(
  models.flatMap((m) => m.parameters()),
  () => models.map((m) => wg.softmaxCrossEntropy(m.forward(x), y)).reduce((a, b) => wg.add(a, b)),
);

const results: Record<string, number[]> = { sequential: [], interleaved: [] };
// A warm-up of each compiles the pipelines; then the two alternate, so drift hits both alike.
for (const s of sequential) await timed(s.step);
await timed(interleaved.step);
for (let r = 0; r < reps; r++) {
  let seconds = 0;
  for (const s of sequential) seconds += await timed(s.step);
  results.sequential.push((members * steps * batch) / seconds);
  results.interleaved.push((members * steps * batch) / (await timed(interleaved.step)));
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
for (const [name, v] of Object.entries(results)) {
  console.log(
    `${name.padEnd(12)} ${median(v).toFixed(0)} img/s (range ${Math.min(...v).toFixed(0)}-${Math.max(...v).toFixed(0)}, ${reps} reps of ${steps} steps)`,
  );
}
console.log(
  `interleaved / sequential: ${(median(results.interleaved) / median(results.sequential)).toFixed(3)}`,
);
wg.release();
