#!/usr/bin/env node
// The `webgrad` command: train a ResNet or Inception network on MNIST, Fashion-MNIST or an image folder; evaluate.
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadDataset } from './datasets.js';
import { init, release } from '../engine.js';
import { WebgradError } from '../errors.js';
import { inception, resnet } from '../nn/models.js';
import { Adam } from '../optim/adam.js';
import { cosineSchedule } from '../optim/schedule.js';
import { SGD } from '../optim/sgd.js';
import { loadCheckpoint, saveCheckpoint } from '../train/checkpoint.js';
import { evaluate, fit, type EpochRecord } from '../train/fit.js';
import { parseArgs, USAGE, type EvalArgs, type TrainArgs } from './args.js';
import { historySvg } from './plot.js';
import { ProgressBar } from './progress.js';

const err = process.stderr;

function percent(v: number): string {
  return `${(100 * v).toFixed(2)}%`;
}

async function train(args: TrainArgs): Promise<void> {
  const started = performance.now();
  const trainSet = await loadDataset(args.dataset, 'train', { limit: args.limit, seed: args.seed });
  const testSet = await loadDataset(args.dataset, 'test', { limit: args.limit, seed: args.seed });
  const info = await init();
  err.write(
    `webgrad: ${args.model} on ${args.dataset} (${trainSet.length} train, ${testSet.length} test images)\n`,
  );
  err.write(`webgrad: adapter ${info.backend} (${info.description})\n`);
  const common = { inputShape: trainSet.shape, classes: trainSet.classes.length, seed: args.seed };
  const w = args.width;
  const model =
    args.model === 'resnet'
      ? resnet(w ? { ...common, widths: [w, 2 * w, 4 * w] } : common)
      : inception(common);
  const params = model.parameters();
  const optimizer =
    args.optimizer === 'adam'
      ? new Adam(params, { lr: args.lr })
      : new SGD(params, { lr: args.lr, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const stepsPerEpoch = Math.ceil(trainSet.length / args.batchSize);
  const total = stepsPerEpoch * args.epochs;
  const schedule = cosineSchedule({ base: args.lr, total, warmup: Math.min(100, Math.floor(total / 10)) });
  let bar: ProgressBar | null = null;
  const history: EpochRecord[] = await fit(model, trainSet, {
    epochs: args.epochs,
    batchSize: args.batchSize,
    optimizer,
    schedule,
    validation: testSet,
    seed: args.seed,
    onBatch: (p) => {
      if (p.batch === 1) bar = new ProgressBar(err, `epoch ${p.epoch}/${args.epochs}`, p.batches);
      bar?.update(
        p.batch,
        `loss ${p.loss.toFixed(4)} acc ${percent(p.accuracy)} ${p.imagesPerSecond.toFixed(0)} img/s`,
      );
    },
    onEpoch: (r) =>
      bar?.finish(
        `loss ${r.loss.toFixed(4)} acc ${percent(r.accuracy)} | test loss ${r.valLoss!.toFixed(4)} acc ${percent(r.valAccuracy!)} | ${r.imagesPerSecond.toFixed(0)} img/s, ${r.seconds.toFixed(1)} s`,
      ),
  });
  // The last epoch's validation already evaluated the final weights on the test set.
  const last = history[history.length - 1];
  const final = { accuracy: last.valAccuracy!, loss: last.valLoss! };
  await mkdir(args.out, { recursive: true });
  const checkpoint = join(args.out, 'checkpoint.safetensors');
  await saveCheckpoint(checkpoint, model, {
    optimizer,
    metadata: {
      dataset: args.dataset,
      classes: JSON.stringify(trainSet.classes),
      epochs: String(args.epochs),
    },
  });
  await writeFile(join(args.out, 'history.json'), JSON.stringify(history, null, 2) + '\n');
  await writeFile(
    join(args.out, 'history.svg'),
    historySvg(
      [
        { name: 'train loss', values: history.map((h) => h.loss), color: '#1f77b4' },
        { name: 'test loss', values: history.map((h) => h.valLoss!), color: '#ff7f0e' },
      ],
      [
        { name: 'train accuracy', values: history.map((h) => h.accuracy), color: '#1f77b4' },
        { name: 'test accuracy', values: history.map((h) => h.valAccuracy!), color: '#ff7f0e' },
      ],
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const trainSeconds = history.reduce((s, h) => s + h.seconds, 0);
  const summary = {
    model: args.model,
    dataset: args.dataset,
    testAccuracy: final.accuracy,
    testLoss: final.loss,
    epochs: args.epochs,
    seconds,
    imagesPerSecond: (trainSet.length * args.epochs) / trainSeconds,
    adapter: `${info.backend} (${info.description})`,
    checkpoint,
  };
  err.write(
    `webgrad: test accuracy ${percent(final.accuracy)}, loss ${final.loss.toFixed(4)}; ${seconds.toFixed(0)} s in all; wrote ${checkpoint}, history.json, history.svg\n`,
  );
  if (args.json) console.log(JSON.stringify(summary));
}

async function evalCommand(args: EvalArgs): Promise<void> {
  await stat(args.checkpoint).catch(() => {
    throw new WebgradError(`checkpoint '${args.checkpoint}' does not exist`);
  });
  const info = await init();
  const started = performance.now();
  const { model, optimizerState, metadata } = await loadCheckpoint(args.checkpoint);
  for (const t of Object.values(optimizerState)) t.dispose();
  const dataset = args.dataset ?? metadata.dataset;
  if (!dataset) throw new WebgradError('the checkpoint names no dataset; pass --dataset');
  const testSet = await loadDataset(dataset, 'test', { limit: args.limit, seed: 0 });
  const result = await evaluate(model, testSet);
  const seconds = (performance.now() - started) / 1000;
  err.write(
    `webgrad: ${dataset} test accuracy ${percent(result.accuracy)}, loss ${result.loss.toFixed(4)}\n`,
  );
  if (args.json) {
    console.log(
      JSON.stringify({
        dataset,
        testAccuracy: result.accuracy,
        testLoss: result.loss,
        confusion: result.confusion,
        images: testSet.length,
        seconds,
        imagesPerSecond: testSet.length / seconds,
        adapter: `${info.backend} (${info.description})`,
      }),
    );
  }
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    const args = parseArgs(argv);
    if (args.command === 'help') {
      console.log(USAGE);
      return 0;
    }
    if (args.command === 'train') await train(args);
    else await evalCommand(args);
    return 0;
  } catch (e) {
    // Users get one line, never a stack trace; unexpected errors say so.
    const known = e instanceof WebgradError || (e as NodeJS.ErrnoException)?.code !== undefined;
    err.write(`webgrad: error: ${known ? (e as Error).message : `unexpected: ${String(e)}`}\n`);
    return 1;
  } finally {
    release();
  }
}

process.exitCode = await main(process.argv.slice(2));
