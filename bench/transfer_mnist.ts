// The offline transfer demo: pretrain webgrad's ResNet on MNIST digits 0-4, then learn digits 5-9 from 10 or 50
// labelled images per class, frozen trunk on cached features vs from scratch. Usage: npx tsx bench/transfer_mnist.ts
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Adam,
  data,
  evaluate,
  fit,
  info,
  init,
  release,
  resnet,
  transfer,
  type Network,
} from '../src/index.js';

type Dataset = data.Dataset;

/** The images whose digit is in [lo, lo + 5), relabelled 0-4; at most `perClass` of each when given. */
function digits(ds: Dataset, lo: number, perClass = Infinity): Dataset {
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const keep: number[] = [];
  const count = new Array<number>(5).fill(0);
  for (let i = 0; i < ds.length; i++) {
    const d = ds.labels[i] - lo;
    if (d >= 0 && d < 5 && count[d] < perClass) {
      count[d]++;
      keep.push(i);
    }
  }
  const images = new Float32Array(keep.length * per);
  keep.forEach((src, i) => images.set(ds.images.subarray(src * per, (src + 1) * per), i * per));
  const labels = Int32Array.from(keep, (i) => ds.labels[i] - lo);
  return { images, labels, shape: ds.shape, classes: ds.classes.slice(lo, lo + 5), length: keep.length };
}

const seconds = (start: number) => (performance.now() - start) / 1000;

await init();
console.log(`adapter: ${info().backend} (${info().description})`);
const train = await data.loadMnist({ split: 'train', limit: 12_000 });
const test = await data.loadMnist({ split: 'test', limit: 4_000 });
const pre = digits(train, 0);
const target = digits(test, 5);
let t = performance.now();
const base: Network = resnet({ inputShape: [28, 28, 1], classes: 5 });
await fit(base, pre, { epochs: 1, batchSize: 64, optimizer: new Adam(base.parameters(), { lr: 0.01 }) });
const preAcc = (await evaluate(base, digits(test, 0))).accuracy;
console.log(
  `pretrain on digits 0-4: ${pre.length} images, 1 epoch, ${seconds(t).toFixed(1)} s, test accuracy ${(preAcc * 100).toFixed(1)}%`,
);
const state = Object.fromEntries(
  await Promise.all(
    Object.entries(base.stateDict()).map(async ([k, v]) => [k, { shape: v.shape, data: await v.data() }]),
  ),
);

for (const k of [10, 50]) {
  const few = digits(train, 5, k);
  // Frozen trunk: the pretrained network, a new head, features cached once, the head trained on them.
  t = performance.now();
  const model = resnet({ inputShape: [28, 28, 1], classes: 5 });
  model.loadStateDict(state);
  model.replaceHead(5);
  transfer.freezeTrunk(model);
  const dir = mkdtempSync(join(tmpdir(), 'webgrad-mnist-features-'));
  await transfer.cacheFeatures(model, few, { dir });
  const head = new transfer.FeatureHead(model, 'pool');
  await fit(head, await transfer.loadFeatures(dir, { model }), {
    epochs: 100,
    batchSize: 50,
    optimizer: new Adam(head.parameters(), { lr: 0.01 }),
  });
  const frozenSeconds = seconds(t);
  const frozen = await evaluate(model, target);
  // From scratch on the same images.
  t = performance.now();
  const scratch = resnet({ inputShape: [28, 28, 1], classes: 5, seed: 1 });
  await fit(scratch, few, {
    epochs: 30,
    batchSize: 25,
    optimizer: new Adam(scratch.parameters(), { lr: 0.01 }),
  });
  const scratchSeconds = seconds(t);
  const fresh = await evaluate(scratch, target);
  console.log(
    `digits 5-9, ${k} labelled images per class (${few.length}), test on ${target.length}: frozen trunk + cached features ` +
      `${(frozen.accuracy * 100).toFixed(1)}% in ${frozenSeconds.toFixed(1)} s (100 head epochs); from scratch ` +
      `${(fresh.accuracy * 100).toFixed(1)}% in ${scratchSeconds.toFixed(1)} s (30 epochs)`,
  );
  model.dispose();
  scratch.dispose();
}
release();
