// `webgrad eval`: scores a checkpoint on a test split.
import { stat } from 'node:fs/promises';
import { init } from '../../engine.js';
import { WebgradError } from '../../errors.js';
import { loadCheckpoint } from '../../train/checkpoint.js';
import { evaluate } from '../../train/fit.js';
import { loadDataset } from '../datasets.js';
import type { Command } from '../flags.js';
import { percent } from '../format.js';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'score a checkpoint on a test split',
  description:
    'Loads a checkpoint written by `webgrad train` and evaluates it in inference mode on the test split of\n' +
    '--dataset (default: the dataset it was trained on).',
  flags: [
    {
      name: 'checkpoint',
      kind: 'string',
      metavar: 'FILE',
      required: true,
      help: 'a checkpoint.safetensors written by train',
    },
    {
      name: 'dataset',
      kind: 'string',
      metavar: 'mnist|fashion-mnist|FOLDER',
      help: "the test data (default: the checkpoint's dataset)",
    },
    { name: 'limit', kind: 'int', min: 1, help: 'keep the first N test images' },
    { name: 'json', kind: 'boolean', help: 'print the result as one JSON object on stdout' },
  ],
  async run(flags, io) {
    const path = flags.string('checkpoint')!;
    await stat(path).catch(() => {
      throw new WebgradError(`checkpoint '${path}' does not exist`);
    });
    const info = await init();
    const started = performance.now();
    const { model, optimizerState, metadata } = await loadCheckpoint(path);
    for (const t of Object.values(optimizerState)) t.dispose();
    const dataset = flags.string('dataset') ?? metadata.dataset;
    if (!dataset) throw new WebgradError('the checkpoint names no dataset; pass --dataset');
    const testSet = await loadDataset(dataset, 'test', { limit: flags.number('limit') ?? null, seed: 0 });
    const result = await evaluate(model, testSet);
    const seconds = (performance.now() - started) / 1000;
    const line = `${dataset} test accuracy ${percent(result.accuracy)}, loss ${result.loss.toFixed(4)}`;
    if (!flags.boolean('json')) {
      io.result(line);
      return;
    }
    io.message(`webgrad: ${line}`);
    io.result(
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
  },
};
