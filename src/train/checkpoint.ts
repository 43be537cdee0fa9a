// Checkpoints: a network's state dict, its optimizer's state and its config in one safetensors file.
import { ArgumentError, FormatError } from '../errors.js';
import type { Tensor } from '../graph/tensor.js';
import {
  entriesToTensors,
  nameMap,
  readSafetensorsFile,
  tensorsToEntries,
  writeSafetensorsFile,
  type SafetensorsEntry,
} from '../io/safetensors.js';
import { Network, buildModel, type ModelConfig } from '../nn/models.js';
import { Optimizer } from '../optim/optimizer.js';
import { checkOptionKeys } from '../options.js';
import { requireNode } from '../platform.js';
import { buildZoo } from '../zoo/build.js';
import { ZooModel, type ZooConfig } from '../zoo/model.js';

/** A model a checkpoint holds: one of webgrad's own networks or a zoo (torchvision) architecture. */
export type CheckpointModel = Network | ZooModel;

const FORMAT = 'webgrad-checkpoint/1';

export interface LoadedCheckpoint<M extends CheckpointModel = Network> {
  model: M;
  /** Optimizer state to pass to `optimizer.loadStateDict` (empty if none was saved). */
  optimizerState: Record<string, Tensor>;
  /** Free-form metadata given at save time, plus `format` and `config`. */
  metadata: Record<string, string>;
}

/** The metadata keys saveCheckpoint writes itself; a caller's value for them would be lost. */
const RESERVED_METADATA = ['format', 'config'];

function checkSaveArguments(model: CheckpointModel, options: SaveCheckpointOptions): void {
  if (!(model instanceof Network || model instanceof ZooModel)) {
    throw new ArgumentError(
      `saveCheckpoint: argument 'model' must be a Network (resnet, inception) or a zoo model, got ${String(model)}`,
    );
  }
  checkOptionKeys('saveCheckpoint', options, ['optimizer', 'metadata']);
  if (options.optimizer !== undefined && !(options.optimizer instanceof Optimizer)) {
    throw new ArgumentError(`saveCheckpoint: option 'optimizer' must be an optimizer (SGD, Adam, AdamW)`);
  }
  for (const key of RESERVED_METADATA) {
    if (options.metadata !== undefined && Object.hasOwn(options.metadata, key)) {
      throw new ArgumentError(
        `saveCheckpoint: metadata key '${key}' is written by saveCheckpoint itself; use another name`,
      );
    }
  }
}

export interface SaveCheckpointOptions {
  /** Its state (moments, step counts) is saved as `optimizer.*` entries. */
  optimizer?: Optimizer;
  /** Free-form string metadata, kept in the file's header (`format` and `config` are taken). */
  metadata?: Record<string, string>;
}

/**
 * Saves the model (`model.*` entries), the optimizer state (`optimizer.*`) and the model config atomically:
 * a failed save leaves an earlier checkpoint at `path` intact and no temporary file; a missing or read-only
 * directory is a FileError naming the path.
 */
export async function saveCheckpoint(
  path: string,
  model: CheckpointModel,
  options: SaveCheckpointOptions = {},
): Promise<void> {
  requireNode('saveCheckpoint');
  checkSaveArguments(model, options);
  const named = nameMap<Tensor>();
  for (const [n, t] of Object.entries(model.stateDict())) named[`model.${n}`] = t;
  const optimizerState = options.optimizer?.stateDict() ?? {};
  for (const [n, t] of Object.entries(optimizerState)) named[`optimizer.${n}`] = t;
  try {
    const entries = await tensorsToEntries(named);
    await writeSafetensorsFile('saveCheckpoint', path, entries, {
      ...options.metadata,
      format: FORMAT,
      config: JSON.stringify(model.config),
    });
  } finally {
    // The step counters are fresh tensors made for this save; the buffers belong to the optimizer.
    for (const [n, t] of Object.entries(optimizerState)) if (n.endsWith('.step')) t.dispose();
  }
}

/**
 * Loads a checkpoint, rebuilding the network from its stored config. FileError if the file cannot be read,
 * FormatError if it is not a webgrad checkpoint, is corrupt, or its weights do not fit its config.
 */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const loaded = await loadModelCheckpoint(path);
  if (loaded.model instanceof Network) return loaded as LoadedCheckpoint;
  const arch = (loaded.model.config as ZooConfig).arch;
  loaded.model.dispose();
  for (const t of Object.values(loaded.optimizerState)) t.dispose();
  throw new FormatError(`${path}: holds a zoo model (${arch}); load it with loadModelCheckpoint`);
}

/**
 * loadCheckpoint for any model kind: webgrad's own networks and zoo (torchvision) architectures, rebuilt from
 * the stored config. Same errors as loadCheckpoint.
 */
export async function loadModelCheckpoint(path: string): Promise<LoadedCheckpoint<CheckpointModel>> {
  const { tensors, metadata } = await readSafetensorsFile('loadCheckpoint', path);
  if (metadata.format !== FORMAT) {
    throw new FormatError(
      `${path}: not a webgrad checkpoint (metadata format is '${metadata.format ?? 'missing'}')`,
    );
  }
  let config: ModelConfig | ZooConfig;
  try {
    config = JSON.parse(metadata.config) as ModelConfig | ZooConfig;
  } catch {
    throw new FormatError(`${path}: the model config in the metadata is not valid JSON`);
  }
  let model: CheckpointModel;
  try {
    model = config.kind === 'zoo' ? buildZoo(config) : buildModel(config);
  } catch (e) {
    throw new FormatError(
      `${path}: the model config in the metadata does not build a model (${(e as Error).message})`,
    );
  }
  const modelValues = nameMap<SafetensorsEntry>();
  const optimizerEntries = nameMap<SafetensorsEntry>();
  for (const [name, entry] of Object.entries(tensors)) {
    if (name.startsWith('model.')) modelValues[name.slice(6)] = entry;
    else if (name.startsWith('optimizer.')) optimizerEntries[name.slice(10)] = entry;
    else throw new FormatError(`${path}: unexpected entry '${name}' (expected model.* or optimizer.*)`);
  }
  try {
    model.loadStateDict(modelValues);
  } catch (e) {
    model.dispose();
    throw new FormatError(`${path}: ${(e as Error).message}`);
  }
  return { model, optimizerState: entriesToTensors(optimizerEntries), metadata };
}
