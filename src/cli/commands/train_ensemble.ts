// `webgrad train --ensemble K`: K runs of train with consecutive seeds, then the score of their ensemble.
import { join } from 'node:path';
import { ArgumentError } from '../../errors.js';
import type { Network } from '../../nn/models.js';
import { loadCheckpoint } from '../../train/checkpoint.js';
import { ensemble } from '../../train/ensemble.js';
import { evaluate } from '../../train/fit.js';
import { folderImage, hasTrainTest, loadDataset } from '../datasets.js';
import { report, type Command, type CommandIO, type Flags } from '../flags.js';
import { percent } from '../format.js';

/** One member's summary, as train --json prints it. */
interface MemberSummary {
  checkpoint: string;
  testAccuracy: number;
  testLoss: number;
  seconds: number;
  imagesPerSecond: number;
  adapter: string;
}

/**
 * Trains the members one after another (measured faster here than interleaving them in one step: see
 * docs/test-time.md), member k exactly as `train --seed <seed + k> --out <out>/member-<k>` would, then
 * evaluates their mean-prob ensemble on the test split.
 */
export async function trainEnsemble(train: Command, flags: Flags, io: CommandIO): Promise<void> {
  const started = performance.now();
  const count = flags.number('ensemble')!;
  const seed = flags.number('seed')!;
  const out = flags.string('out')!;
  const dataset = flags.string('dataset')!;
  const builtIn = dataset === 'mnist' || dataset === 'fashion-mnist';
  if (!builtIn && !(await hasTrainTest(dataset))) {
    // A single folder is split by --seed: members with other seeds would train on each other's test images.
    throw new ArgumentError(
      '--ensemble needs mnist, fashion-mnist or a folder with train/ and test/ subfolders',
    );
  }
  const members: (MemberSummary & { seed: number })[] = [];
  for (let k = 0; k < count; k++) {
    io.message(`webgrad: ensemble member ${k + 1}/${count} (seed ${seed + k})`);
    let summary: MemberSummary | null = null;
    const memberIo: CommandIO = { ...io, result: (line) => (summary = JSON.parse(line) as MemberSummary) };
    await train.run(
      flags.with({ ensemble: undefined, json: true, seed: seed + k, out: join(out, `member-${k}`) }),
      memberIo,
    );
    members.push({ ...summary!, seed: seed + k });
  }
  const models: Network[] = [];
  for (const m of members) {
    const { model, optimizerState } = await loadCheckpoint(m.checkpoint);
    for (const t of Object.values(optimizerState)) t.dispose();
    models.push(model);
  }
  const channels = flags.choice<'1' | '3'>('channels');
  const image = folderImage(dataset, flags.number('image-size'), channels && Number(channels));
  const testSet = await loadDataset(dataset, 'test', { limit: flags.number('limit') ?? null, seed, image });
  const result = await evaluate(ensemble(models), testSet);
  const seconds = (performance.now() - started) / 1000;
  const line = `ensemble of ${count}: test accuracy ${percent(result.accuracy)}, loss ${result.loss.toFixed(4)}; members ${members.map((m) => percent(m.testAccuracy)).join(', ')}; ${seconds.toFixed(0)} s in all`;
  report(io, flags, line, {
    dataset,
    ensemble: count,
    combine: 'mean-prob',
    testAccuracy: result.accuracy,
    testLoss: result.loss,
    members: members.map((m) => ({
      checkpoint: m.checkpoint,
      seed: m.seed,
      testAccuracy: m.testAccuracy,
      testLoss: m.testLoss,
      seconds: m.seconds,
    })),
    seconds,
    adapter: members[0].adapter,
  });
}
