// Command-line parsing for the `webgrad` bin: typed options, one-line errors for anything wrong.
import { ArgumentError } from '../errors.js';

export interface TrainArgs {
  command: 'train';
  model: 'resnet' | 'inception';
  dataset: string;
  epochs: number;
  batchSize: number;
  optimizer: 'sgd' | 'adam';
  lr: number;
  out: string;
  json: boolean;
  limit: number | null;
  seed: number;
  /** ResNet only: channels of the first stage (the stages have width, 2x, 4x); null for the model default. */
  width: number | null;
}

export interface EvalArgs {
  command: 'eval';
  checkpoint: string;
  dataset: string | null;
  json: boolean;
  limit: number | null;
}

export type Args = TrainArgs | EvalArgs | { command: 'help' };

export const USAGE = `usage:
  webgrad train [--model resnet|inception] [--dataset mnist|fashion-mnist|<folder>] [--epochs N]
                [--batch-size N] [--optimizer sgd|adam] [--lr X] [--width N] [--out DIR] [--limit N]
                [--seed N] [--json]
  webgrad eval --checkpoint FILE [--dataset mnist|fashion-mnist|<folder>] [--limit N] [--json]`;

/** Defaults of `webgrad train`: the README's main job (MNIST, ResNet). */
export const TRAIN_DEFAULTS = {
  model: 'resnet',
  dataset: 'mnist',
  epochs: 3,
  batchSize: 128,
  optimizer: 'adam',
  lr: 0.01,
  out: 'webgrad-run',
} as const;

const FLAGS: Record<string, readonly string[]> = {
  train: [
    'model',
    'dataset',
    'epochs',
    'batch-size',
    'optimizer',
    'lr',
    'width',
    'out',
    'json',
    'limit',
    'seed',
  ],
  eval: ['checkpoint', 'dataset', 'json', 'limit'],
};

function parseFlags(command: string, argv: readonly string[]): Map<string, string | true> {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new ArgumentError(`unexpected argument '${arg}'`);
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (!FLAGS[command].includes(name))
      throw new ArgumentError(`unknown option '--${name}' for '${command}'`);
    if (name === 'json') {
      flags.set(name, true);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || value.startsWith('--'))
      throw new ArgumentError(`option '--${name}' needs a value`);
    flags.set(name, value);
  }
  return flags;
}

function int(flags: Map<string, string | true>, name: string, fallback: number, min: number): number {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min)
    throw new ArgumentError(`--${name} must be an integer >= ${min}, got '${raw}'`);
  return v;
}

function choice<T extends string>(
  flags: Map<string, string | true>,
  name: string,
  fallback: T,
  options: T[],
): T {
  const raw = (flags.get(name) as string | undefined) ?? fallback;
  if (!options.includes(raw as T)) {
    throw new ArgumentError(`--${name} must be one of ${options.join(', ')}, got '${raw}'`);
  }
  return raw as T;
}

export function parseArgs(argv: readonly string[]): Args {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h')
    return { command: 'help' };
  if (!(command in FLAGS)) throw new ArgumentError(`unknown command '${command}' (expected train or eval)`);
  const flags = parseFlags(command, rest);
  const limit = flags.has('limit') ? int(flags, 'limit', 0, 1) : null;
  if (command === 'eval') {
    const checkpoint = flags.get('checkpoint');
    if (typeof checkpoint !== 'string') throw new ArgumentError('eval needs --checkpoint FILE');
    return {
      command,
      checkpoint,
      dataset: (flags.get('dataset') as string) ?? null,
      json: flags.has('json'),
      limit,
    };
  }
  const lrRaw = flags.get('lr');
  const lr = lrRaw === undefined ? TRAIN_DEFAULTS.lr : Number(lrRaw);
  if (!(lr > 0) || !Number.isFinite(lr))
    throw new ArgumentError(`--lr must be a positive number, got '${lrRaw}'`);
  const model = choice(flags, 'model', TRAIN_DEFAULTS.model, ['resnet', 'inception']);
  if (flags.has('width') && model !== 'resnet')
    throw new ArgumentError('--width applies to --model resnet only');
  return {
    command: 'train',
    model,
    dataset: (flags.get('dataset') as string) ?? TRAIN_DEFAULTS.dataset,
    epochs: int(flags, 'epochs', TRAIN_DEFAULTS.epochs, 1),
    batchSize: int(flags, 'batch-size', TRAIN_DEFAULTS.batchSize, 1),
    optimizer: choice(flags, 'optimizer', TRAIN_DEFAULTS.optimizer, ['sgd', 'adam']),
    lr,
    out: (flags.get('out') as string) ?? TRAIN_DEFAULTS.out,
    json: flags.has('json'),
    limit,
    seed: int(flags, 'seed', 0, 0),
    width: flags.has('width') ? int(flags, 'width', 0, 1) : null,
  };
}
