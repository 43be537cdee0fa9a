// Batch norm single pass vs two passes: ms per training forward + backward of one layer, per rows x channels.
// Run: npx tsx bench/batchnorm_passes.ts [--layers N] [--repeats N] [--rounds N] [--filter REGEX]
// The measurement behind ops/batchnorm_single.ts SINGLE_PASS_MAX_ROWS; rounds interleave the two plans.
import { parseArgs } from 'node:util';
import * as wg from '../src/index.js';
import { record } from '../src/graph/record.js';
import {
  batchNormGradInputOp,
  batchNormGradOp,
  batchNormGradParamsOp,
  batchNormTrainOp,
  trainTwoPass,
} from '../src/ops/batchnorm.js';
import { trainSinglePass } from '../src/ops/batchnorm_single.js';

const { values: args } = parseArgs({
  options: {
    layers: { type: 'string', default: '8' },
    repeats: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    filter: { type: 'string' },
  },
});
const layers = Number(args.layers);
const epsilon = 1e-3;
const singleForward = {
  ...batchNormTrainOp,
  forward: (io, a) => [trainSinglePass(io, a.epsilon, null)],
} as typeof batchNormTrainOp;
const twoPassForward = { ...batchNormTrainOp, forward: trainTwoPass } as typeof batchNormTrainOp;

/** `layers` chained batch norms forward, then their backward, in one flush; the plan chosen by `single`. */
function step(x: wg.Tensor, gamma: wg.Tensor, beta: wg.Tensor, single: boolean): wg.Tensor {
  const saved: wg.Tensor[][] = [];
  let h = x;
  for (let k = 0; k < layers; k++) {
    const outs = record(single ? singleForward : twoPassForward, [h, gamma, beta], { epsilon });
    saved.push([h, ...outs]);
    h = outs[0];
  }
  let dy = h;
  for (let k = layers - 1; k >= 0; k--) {
    const [input, , mean, variance] = saved[k];
    if (single) {
      dy = record(batchNormGradOp, [dy, input, gamma, mean, variance], { epsilon })[0];
    } else {
      const params = record(batchNormGradParamsOp, [dy, input, mean, variance], { epsilon });
      dy = record(batchNormGradInputOp, [dy, input, gamma, mean, variance, ...params], { epsilon })[0];
    }
  }
  return wg.mean(dy);
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const info = await wg.init();
console.log(
  `adapter: ${info.backend} (${info.description}); ${layers} layers per flush, medians of ${args.repeats}`,
);
console.log('| rows | C | single ms/layer | two-pass ms/layer | two-pass / single |');
console.log('| --- | --- | --- | --- | --- |');
const filter = args.filter ? new RegExp(args.filter) : null;
for (const rows of [196, 784, 1568, 3136, 6272, 12544, 25088]) {
  for (const c of [1, 3, 8, 16, 32, 64]) {
    if (filter && !filter.test(`${rows}x${c}`)) continue;
    const rng = new wg.Rng(1);
    const x = wg.keep(
      wg.tensor(
        Float32Array.from({ length: rows * c }, () => rng.next()),
        [rows, c],
      ),
    );
    const gamma = wg.keep(wg.ones([c]));
    const beta = wg.keep(wg.zeros([c]));
    const times: Record<string, number[]> = { single: [], two: [] };
    for (let round = 0; round < Number(args.rounds); round++) {
      for (const single of [true, false]) {
        const run = async () => {
          const loss = wg.tidy(() => step(x, gamma, beta, single));
          await loss.data();
          loss.dispose();
        };
        await run();
        for (let r = 0; r < Number(args.repeats); r++) {
          const start = performance.now();
          await run();
          times[single ? 'single' : 'two'].push((performance.now() - start) / layers);
        }
      }
    }
    const [s, t] = [median(times.single), median(times.two)];
    console.log(`| ${rows} | ${c} | ${s.toFixed(3)} | ${t.toFixed(3)} | ${(t / s).toFixed(2)} |`);
    for (const v of [x, gamma, beta]) v.dispose();
  }
}
wg.release();
