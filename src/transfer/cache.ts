// Cached activations: the frozen trunk's outputs written once as safetensors shards plus a manifest, read back as a dataset.
import { ArgumentError, FormatError, fileError } from '../errors.js';
import type { Dataset } from '../data/dataset.js';
import { batches } from '../data/dataset.js';
import { tidy } from '../graph/tidy.js';
import type { Tensor } from '../graph/tensor.js';
import { decodeSafetensors, encodeSafetensors, writeFileAtomic } from '../io/safetensors.js';
import { sizeOf } from '../ops/types.js';
import { poolStage, stageIndex, stagesOf, type TransferModel } from './stages.js';

const FORMAT = 'webgrad-features/1';
const MANIFEST = 'manifest.json';

/** What a cache directory holds; `manifest.json` is written last, so a cut-off build leaves no manifest. */
export interface FeatureManifest {
  format: typeof FORMAT;
  /** SHA-256 of the model config, the cut point and every weight and statistic of the frozen stages. */
  modelHash: string;
  /** SHA-256 of the dataset's shape, classes, images and labels. */
  dataHash: string;
  upTo: string;
  /** Shape of one cached item ([F] for pooled features, [H, W, C] for a feature map). */
  featureShape: number[];
  classes: string[];
  count: number;
  shards: { file: string; count: number }[];
  /** Seconds the build took (forwards, readbacks, writes). */
  seconds: number;
}

export interface CacheOptions {
  /** Directory for the shards and manifest (created if missing). */
  dir: string;
  /** Last frozen stage whose output is cached (default: the pooling stage, so the head is only the classifier). */
  upTo?: string;
  /** Images per forward (default 64). */
  batchSize?: number;
  /** Items per shard file (default 4096). */
  shardSize?: number;
}

/** Hex SHA-256 (WebCrypto: Node 20+ and browsers). */
async function sha256(parts: Uint8Array[]): Promise<string> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(new ArrayBuffer(total));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = await globalThis.crypto.subtle.digest('SHA-256', all);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

const bytesOf = (a: Float32Array | Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const text = (s: string) => new TextEncoder().encode(s);

/** The prefixes of the stages up to and including `upTo`, after checking they are frozen. */
function frozenPrefixes(op: string, model: TransferModel, upTo: string): string[] {
  const stages = stagesOf(model);
  const prefixes = stages.slice(0, stageIndex(stages, upTo, op) + 1).flatMap((s) => s.prefixes);
  const owned = (n: string) => prefixes.some((p) => n.startsWith(`${p}.`));
  const training = model.namedParameters().filter(([n, t]) => owned(n) && t.requiresGrad);
  if (training.length > 0) {
    throw new ArgumentError(
      `${op}: the stages up to '${upTo}' must be frozen to be cached, but ${training
        .slice(0, 3)
        .map(([n]) => n)
        .join(
          ', ',
        )}${training.length > 3 ? ', ...' : ''} still train (model.freeze() or freezeTrunk() first)`,
    );
  }
  return prefixes;
}

/** SHA-256 naming the frozen part of `model` up to `upTo`: config, cut point, then each entry's name, shape, values. */
export async function frozenHash(model: TransferModel, upTo: string, op = 'frozenHash'): Promise<string> {
  const prefixes = frozenPrefixes(op, model, upTo);
  const { classes: _classes, ...config } = model.config;
  const parts: Uint8Array[] = [text(JSON.stringify({ config, upTo }))];
  for (const [name, t] of Object.entries(model.stateDict())) {
    if (!prefixes.some((p) => name.startsWith(`${p}.`))) continue;
    parts.push(text(`${name}:${t.shape.join('x')}`), bytesOf(await t.data()));
  }
  return sha256(parts);
}

/** SHA-256 of a dataset's shape, classes, images and labels. */
export async function datasetHash(data: Dataset): Promise<string> {
  return sha256([
    text(JSON.stringify({ shape: data.shape, classes: data.classes })),
    bytesOf(data.images),
    bytesOf(data.labels),
  ]);
}

async function readManifest(op: string, dir: string): Promise<FeatureManifest | null> {
  const fs = await import('node:fs/promises');
  const { join } = await import('node:path');
  const path = join(dir, MANIFEST);
  let raw: string;
  try {
    raw = await fs.readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fileError(op, path, e);
  }
  let m: FeatureManifest;
  try {
    m = JSON.parse(raw) as FeatureManifest;
  } catch {
    throw new FormatError(`${path}: not valid JSON`);
  }
  if (m?.format !== FORMAT || !Array.isArray(m.shards) || !Array.isArray(m.featureShape)) {
    throw new FormatError(`${path}: not a webgrad feature cache manifest (format '${String(m?.format)}')`);
  }
  return m;
}

/**
 * Runs the frozen stages of `model` up to `upTo` once, in eval mode and in batches, over `data`, writing
 * their outputs with the labels as safetensors shards (`features-00000.safetensors`, ...; each shard is written
 * as soon as it fills, so the features are never all in memory) and then `manifest.json`. A directory that
 * already holds a cache of the same frozen weights, cut point and data is reused as it is (`reused: true`);
 * a stale one is replaced. ArgumentError if a cached stage still trains. Node only.
 * Shapes: data images [N,H,W,C] → N cached items of the stage's output shape.
 */
export async function cacheFeatures(
  model: TransferModel,
  data: Dataset,
  options: CacheOptions,
): Promise<FeatureManifest & { reused: boolean }> {
  const op = 'cacheFeatures';
  if (
    options === null ||
    typeof options !== 'object' ||
    typeof options.dir !== 'string' ||
    options.dir === ''
  ) {
    throw new ArgumentError(
      `${op}: argument 'options' must be { dir, upTo?, batchSize?, shardSize? } with a directory`,
    );
  }
  const { dir, upTo = poolStage(model), batchSize = 64, shardSize = 4096 } = options;
  for (const [n, v] of [
    ['batchSize', batchSize],
    ['shardSize', shardSize],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      throw new ArgumentError(`${op}: argument '${n}' must be a positive integer, got ${v}`);
  }
  const start = performance.now();
  const modelHash = await frozenHash(model, upTo, op);
  const dataHash = await datasetHash(data);
  const fs = await import('node:fs/promises');
  const { join } = await import('node:path');
  await fs.mkdir(dir, { recursive: true }).catch((e: unknown) => {
    throw fileError(op, dir, e);
  });
  const old = await readManifest(op, dir).catch(() => null);
  if (old && old.modelHash === modelHash && old.dataHash === dataHash && old.upTo === upTo) {
    return { ...old, reused: true };
  }
  // The old manifest goes first: from here until the new one is written the directory is not a cache.
  await fs.rm(join(dir, MANIFEST), { force: true });
  const stages = stagesOf(model);
  const end = stageIndex(stages, upTo, op);
  const wasTraining = model.training;
  model.eval();
  const shards: FeatureManifest['shards'] = [];
  let featureShape: number[] = [];
  let pending: { features: Float32Array[]; labels: Int32Array[]; count: number } = {
    features: [],
    labels: [],
    count: 0,
  };
  const flushShard = async () => {
    if (pending.count === 0) return;
    const file = `features-${String(shards.length).padStart(5, '0')}.safetensors`;
    const features = new Float32Array(pending.count * sizeOf(featureShape));
    let at = 0;
    for (const f of pending.features) features.set(f, (at += f.length) - f.length);
    const labels = new Int32Array(pending.count);
    at = 0;
    for (const l of pending.labels) labels.set(l, (at += l.length) - l.length);
    const bytes = encodeSafetensors({
      features: { dtype: 'F32', shape: [pending.count, ...featureShape], data: features },
      labels: { dtype: 'I32', shape: [pending.count], data: labels },
    });
    await writeFileAtomic(op, join(dir, file), bytes);
    shards.push({ file, count: pending.count });
    pending = { features: [], labels: [], count: 0 };
  };
  try {
    for (const { x, y, labels } of batches(data, batchSize)) {
      const out: Tensor = tidy(() => stages.slice(0, end + 1).reduce((h, s) => s.run(h), x));
      const values = await out.data();
      featureShape = out.shape.slice(1);
      out.dispose();
      x.dispose();
      y.dispose();
      // A batch may straddle shards: split it so every shard but the last holds exactly shardSize items.
      const per = sizeOf(featureShape);
      for (let i = 0; i < labels.length;) {
        const take = Math.min(labels.length - i, shardSize - pending.count);
        pending.features.push(values.subarray(i * per, (i + take) * per));
        pending.labels.push(labels.subarray(i, i + take));
        pending.count += take;
        i += take;
        if (pending.count === shardSize) await flushShard();
      }
    }
    await flushShard();
  } finally {
    model.train(wasTraining);
  }
  const manifest: FeatureManifest = {
    format: FORMAT,
    modelHash,
    dataHash,
    upTo,
    featureShape,
    classes: [...data.classes],
    count: data.length,
    shards,
    seconds: (performance.now() - start) / 1000,
  };
  await writeFileAtomic(op, join(dir, MANIFEST), text(JSON.stringify(manifest, null, 1)));
  return { ...manifest, reused: false };
}

/**
 * A dataset over a feature cache: every shard read and checked against the manifest. With `model`, the cache
 * must come from that model's current frozen weights and config (FormatError naming both hashes otherwise: a
 * stale cache is refused, never used). FormatError for a missing or corrupt manifest or shard. Node only.
 * Shapes: images [N, ...featureShape] (pooled [F] features as [1, 1, F] items), labels [N].
 */
export async function loadFeatures(
  dir: string,
  options: { model?: TransferModel } = {},
): Promise<Dataset & { manifest: FeatureManifest }> {
  const op = 'loadFeatures';
  if (typeof dir !== 'string' || dir === '')
    throw new ArgumentError(`${op}: argument 'dir' must be a directory path`);
  const manifest = await readManifest(op, dir);
  if (!manifest)
    throw new FormatError(`${dir}: no ${MANIFEST}: not a feature cache (or its build did not finish)`);
  if (options.model) {
    const now = await frozenHash(options.model, manifest.upTo, op);
    if (now !== manifest.modelHash) {
      throw new FormatError(
        `${dir}: stale feature cache: made from frozen weights ${manifest.modelHash.slice(0, 12)}, the model's are ${now.slice(0, 12)} (rebuild it with cacheFeatures)`,
      );
    }
  }
  const fs = await import('node:fs/promises');
  const { join } = await import('node:path');
  const per = sizeOf(manifest.featureShape);
  const images = new Float32Array(manifest.count * per);
  const labels = new Int32Array(manifest.count);
  let at = 0;
  for (const shard of manifest.shards) {
    const path = join(dir, shard.file);
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(path);
    } catch (e) {
      throw fileError(op, path, e);
    }
    const { tensors } = decodeSafetensors(
      new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      path,
    );
    const f = tensors.features;
    const l = tensors.labels;
    if (
      !f ||
      !l ||
      f.data.length !== shard.count * per ||
      l.data.length !== shard.count ||
      at + shard.count > manifest.count
    ) {
      throw new FormatError(
        `${path}: does not hold the ${shard.count} items of shape [${manifest.featureShape.join(', ')}] the manifest lists`,
      );
    }
    images.set(f.data, at * per);
    labels.set(l.data, at);
    at += shard.count;
  }
  if (at !== manifest.count)
    throw new FormatError(`${dir}: shards hold ${at} items, the manifest says ${manifest.count}`);
  const fs3 = manifest.featureShape;
  const shape: [number, number, number] = fs3.length === 1 ? [1, 1, fs3[0]] : [fs3[0], fs3[1], fs3[2]];
  return { images, labels, shape, classes: manifest.classes, length: manifest.count, manifest };
}
