// Augmentation measurements: augmenter img/s per worker, training overlap (0/1/2 workers), accuracy benefit.
// Run one part at a time (each well under 3 minutes on 2 cores), through wg-exclusive:
//   npx tsx bench/augment.ts --part speed   [--reps 3]
//   npx tsx bench/augment.ts --part overlap [--images 2048] [--epochs 2] [--reps 3]
//   npx tsx bench/augment.ts --part benefit --dataset mnist|fashion-mnist [--train 2000] [--epochs 10] [--seed 0]
//                            [--augment SPEC (default digits)] [--only plain|augmented (one arm per run)]
// Results merge into bench/results/augment-<adapter>.json (written to a temporary file, then renamed).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BatchLoader } from '../src/augment/loader.js';
import { Augmenter } from '../src/augment/pipeline.js';
import { resolveSpec } from '../src/augment/spec.js';
import * as wg from '../src/index.js';

const { values: args } = parseArgs({
  options: {
    part: { type: 'string' },
    reps: { type: 'string', default: '3' },
    images: { type: 'string', default: '2048' },
    epochs: { type: 'string' },
    dataset: { type: 'string', default: 'mnist' },
    train: { type: 'string', default: '2000' },
    seed: { type: 'string', default: '0' },
    augment: { type: 'string', default: 'digits' },
    only: { type: 'string' },
  },
});
const reps = Number(args.reps);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const SPECS = {
  standard: 'standard',
  digits: 'digits',
  heavy:
    'crop:pad=4,mode=reflect;flip;affine:degrees=15,translate=0.1,scale=0.9..1.1,shear=5;jitter:brightness=0.2,contrast=0.2;erase:p=0.5;mixup:alpha=0.2',
};

function randomImages(n: number, h: number, w: number, c: number): wg.data.Dataset {
  const rng = new wg.Rng(5);
  return {
    images: Float32Array.from({ length: n * h * w * c }, () => rng.next()),
    labels: Int32Array.from({ length: n }, (_, i) => i % 10),
    shape: [h, w, c],
    classes: Array.from({ length: 10 }, (_, i) => String(i)),
    length: n,
  };
}

/** The augmenter alone on this thread (= one worker): images per second, median of `reps`. */
function augmenterSpeed(spec: string, h: number, w: number, c: number): number {
  const batch = 128;
  const ds = randomImages(batch, h, w, c);
  const aug = new Augmenter(resolveSpec(spec, [h, w, c]), { h, w, c });
  const per = h * w * c;
  const out = {
    images: new Float32Array(batch * per),
    labels: new Int32Array(batch),
    mixLabels: new Int32Array(batch),
  };
  const times: number[] = [];
  const batches = Math.max(2, Math.round(200_000 / (per * 8)));
  for (let r = 0; r < reps + 1; r++) {
    const start = performance.now();
    for (let s = 0; s < batches; s++) {
      out.images.set(ds.images);
      out.labels.set(ds.labels);
      for (let b = 0; b < batch; b++) aug.image(out, b, { seed: 0, epoch: 1, step: s });
      aug.mix(out, batch, { seed: 0, epoch: 1, step: s });
    }
    if (r > 0) times.push((performance.now() - start) / 1000); // the first round warms the JIT
  }
  return (batches * batch) / median(times);
}

/** The loader with N workers, nothing consuming: images per second it delivers. */
async function loaderSpeed(spec: string, h: number, w: number, c: number, workers: number): Promise<number> {
  const ds = randomImages(1024, h, w, c);
  const rates: number[] = [];
  for (let r = 0; r < reps; r++) {
    const loader = await BatchLoader.open(ds, {
      batchSize: 128,
      epochs: 3,
      augment: spec,
      workers,
      prefetch: 4,
    });
    try {
      await loader.next(); // the workers' start and JIT warm-up are not counted
      const start = performance.now();
      let n = 0;
      for (let b = await loader.next(); b; b = await loader.next()) n += b.size;
      rates.push(n / ((performance.now() - start) / 1000));
    } finally {
      await loader.close();
    }
  }
  return median(rates);
}

async function speed(): Promise<Record<string, unknown>> {
  const rows: Record<string, unknown>[] = [];
  for (const [h, w, c] of [
    [28, 28, 1],
    [64, 64, 3],
  ]) {
    for (const [name, spec] of Object.entries(SPECS)) {
      const perWorker = augmenterSpeed(spec, h, w, c);
      const loader1 = await loaderSpeed(spec, h, w, c, 1);
      const loader2 = await loaderSpeed(spec, h, w, c, 2);
      const row = { shape: `${h}x${w}x${c}`, spec: name, perWorker, loader1, loader2 };
      console.log(
        `${row.shape} ${name.padEnd(8)} one thread ${perWorker.toFixed(0)} img/s | loader 1 worker ${loader1.toFixed(0)}, 2 workers ${loader2.toFixed(0)} img/s`,
      );
      rows.push(row);
    }
  }
  return { rows, reps };
}

function model(seed: number) {
  return wg.resnet({ inputShape: [28, 28, 1], classes: 10, seed });
}

/** fit as `webgrad train` runs it (Adam 0.01, cosine with warm-up, batch 128), without per-epoch validation. */
async function train(
  data: wg.data.Dataset,
  epochs: number,
  seed: number,
  augment: string | null,
  workers: number,
) {
  const net = model(seed);
  const batchSize = 128;
  const total = Math.ceil(data.length / batchSize) * epochs;
  const history = await wg.fit(net, data, {
    epochs,
    batchSize,
    optimizer: new wg.Adam(net.parameters(), { lr: 0.01 }),
    schedule: wg.cosineSchedule({ base: 0.01, total, warmup: Math.min(100, Math.floor(total / 10)) }),
    seed,
    augment,
    workers,
  });
  return { net, history };
}

async function overlap(): Promise<Record<string, unknown>> {
  const data = await wg.data.loadMnist({ split: 'train', limit: Number(args.images) });
  const epochs = Number(args.epochs ?? 2);
  const runs: [string, string | null, number][] = [
    ['off, 0 workers', null, 0],
    ['off, 1 worker', null, 1],
    ['digits, 0 workers', 'digits', 0],
    ['digits, 1 worker', 'digits', 1],
    ['digits, 2 workers', 'digits', 2],
    ['heavy, 1 worker', SPECS.heavy, 1],
  ];
  const rates = runs.map(() => [] as number[]);
  const waits = runs.map(() => [] as number[]);
  // Repetitions interleaved (all runs once, then again), so a slow spell of the machine hits every run alike.
  for (let r = 0; r < reps; r++) {
    for (const [i, [, augment, workers]] of runs.entries()) {
      const { history } = await train(data, epochs, 1, augment, workers);
      // The first epoch includes shader compilation and worker start: the last epoch is the steady state.
      const last = history[history.length - 1];
      rates[i].push(last.imagesPerSecond);
      waits[i].push(last.dataWaitFraction);
    }
  }
  const rows: Record<string, unknown>[] = runs.map(([name], i) => {
    const row = {
      run: name,
      imagesPerSecond: median(rates[i]),
      dataWaitFraction: median(waits[i]),
      all: rates[i],
    };
    console.log(
      `${name.padEnd(20)} ${row.imagesPerSecond.toFixed(1)} img/s (runs ${rates[i].map((v) => v.toFixed(0)).join(', ')}), data wait ${(100 * row.dataWaitFraction).toFixed(1)}%`,
    );
    return row;
  });
  const off = rows[0].imagesPerSecond as number;
  for (const row of rows) row.vsOff = (row.imagesPerSecond as number) / off;
  return { images: data.length, epochs, batchSize: 128, model: 'resnet (default, width 8)', reps, rows };
}

async function benefit(): Promise<Record<string, unknown>> {
  const name = args.dataset!;
  const load = name === 'mnist' ? wg.data.loadMnist : wg.data.loadFashionMnist;
  const trainSet = await load({ split: 'train', limit: Number(args.train) });
  const testSet = await load({ split: 'test' });
  const epochs = Number(args.epochs ?? 10);
  const seed = Number(args.seed);
  const rows: Record<string, unknown>[] = [];
  const arms =
    args.only === 'plain' ? [null] : args.only === 'augmented' ? [args.augment!] : [null, args.augment!];
  for (const augment of arms) {
    const start = performance.now();
    const { net, history } = await train(trainSet, epochs, seed, augment, augment ? 1 : 0);
    const result = await wg.evaluate(net, testSet);
    const row = {
      augment: augment ?? 'none',
      testAccuracy: result.accuracy,
      testLoss: result.loss,
      trainAccuracy: history[history.length - 1].accuracy,
      seconds: (performance.now() - start) / 1000,
    };
    console.log(
      `${name} ${trainSet.length} train, ${epochs} epochs, seed ${seed}, augment ${row.augment}: test accuracy ${(100 * row.testAccuracy).toFixed(2)}% (train ${(100 * row.trainAccuracy).toFixed(2)}%), ${row.seconds.toFixed(0)} s`,
    );
    rows.push(row);
  }
  return { dataset: name, train: trainSet.length, test: testSet.length, epochs, seed, rows };
}

const info = await wg.init();
console.log(`adapter: ${info.backend} (${info.description})`);
const part = args.part;
let result: Record<string, unknown>;
if (part === 'speed') result = await speed();
else if (part === 'overlap') result = await overlap();
else if (part === 'benefit') result = await benefit();
else throw new Error('usage: --part speed|overlap|benefit (see the header of bench/augment.ts)');
wg.release();

const file = resolve(import.meta.dirname, 'results', `augment-${info.backend}.json`);
const all = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
const key =
  part === 'benefit'
    ? `benefit-${args.dataset}-seed${args.seed}-${args.augment}-epochs${args.epochs ?? 10}${args.only ? `-${args.only}` : ''}`
    : part;
all[key] = {
  ...result,
  adapter: `${info.backend} (${info.description})`,
  command: `npx tsx bench/augment.ts ${process.argv.slice(2).join(' ')}`,
  date: new Date().toISOString(),
};
writeFileSync(join(file + '.tmp'), JSON.stringify(all, null, 2) + '\n');
renameSync(file + '.tmp', file);
console.log(`wrote ${file} (${key})`);
