// PyTorch weights in and out: torchvision state dicts (.pth zip or .safetensors) ↔ a webgrad module, layouts converted once.
import { ArgumentError, FormatError, describeValue, fileError, fmtShape } from '../errors.js';
import { checkOptionKeys } from '../options.js';
import { Module, type StateValue } from '../nn/module.js';
import { decodePth, encodePth, isZip, type TorchEntry } from './pth.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  nameMap,
  writeFileAtomic,
  type SafetensorsEntry,
} from './safetensors.js';

/** ArgumentError unless `model` is a Module (a zoo model, or any module with torchvision's names). */
function checkModule(op: string, model: unknown): void {
  if (!(model instanceof Module)) {
    throw new ArgumentError(
      `${op}: argument 'model' must be a Module (e.g. wg.zoo.resnet18), got ${describeValue(model)}`,
    );
  }
}

export interface LoadTorchOptions {
  /** Default true: a missing, unexpected or mis-shaped key is a FormatError listing the names. */
  strict?: boolean;
}

/** What a non-strict load left out: model entries the file lacks, file entries the model lacks. */
export interface LoadTorchResult {
  missing: string[];
  unexpected: string[];
}

/**
 * PyTorch layout → webgrad layout: 4-D conv filters OIHW → HWIO, 2-D Linear weights [out, in] → [in, out];
 * other ranks unchanged. Shapes: data row-major for `shape` → data row-major for the returned shape.
 */
export function fromTorchLayout(
  shape: readonly number[],
  data: Float32Array | Int32Array,
): StateValue & { shape: number[] } {
  if (shape.length === 4) {
    const [o, i, h, w] = shape;
    const out = new Float32Array(data.length);
    for (let a = 0; a < o; a++)
      for (let b = 0; b < i; b++)
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++)
            out[((y * w + x) * i + b) * o + a] = data[((a * i + b) * h + y) * w + x];
    return { shape: [h, w, i, o], data: out };
  }
  if (shape.length === 2) return { shape: [shape[1], shape[0]], data: transpose(data, shape[0], shape[1]) };
  return { shape: [...shape], data };
}

/** webgrad layout → PyTorch layout (the inverse of fromTorchLayout). */
export function toTorchLayout(
  shape: readonly number[],
  data: Float32Array,
): { shape: number[]; data: Float32Array } {
  if (shape.length === 4) {
    const [h, w, i, o] = shape;
    const out = new Float32Array(data.length);
    for (let a = 0; a < o; a++)
      for (let b = 0; b < i; b++)
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++)
            out[((a * i + b) * h + y) * w + x] = data[((y * w + x) * i + b) * o + a];
    return { shape: [o, i, h, w], data: out };
  }
  if (shape.length === 2) return { shape: [shape[1], shape[0]], data: transpose(data, shape[0], shape[1]) };
  return { shape: [...shape], data };
}

function transpose(data: Float32Array | Int32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** Parses either format from bytes: a zip is a .pth, anything else must be safetensors. */
export function decodeTorchWeights(bytes: Uint8Array, source = 'weights'): Record<string, TorchEntry> {
  if (isZip(bytes)) return decodePth(bytes, source);
  return decodeSafetensors(bytes, source).tensors;
}

const BATCHES = '.num_batches_tracked';

/**
 * Loads a torchvision-style state dict into `model` (a zoo model, or any module with the same names).
 * `source`: a path (Node) or the bytes of a `.pth`/`.pt` (torch.save of a state dict) or `.safetensors`.
 * Layouts are converted once (OIHW → HWIO, Linear [out,in] → [in,out]); `num_batches_tracked` is read and
 * dropped. Everything is checked before anything is assigned. FormatError for a corrupt file, a refused pickle,
 * or (strict) missing / unexpected / mis-shaped keys, listing the names; FileError when the path cannot be read.
 */
export async function loadTorchWeights(
  model: Module,
  source: string | Uint8Array,
  options: LoadTorchOptions = {},
): Promise<LoadTorchResult> {
  checkModule('loadTorchWeights', model);
  checkOptionKeys('loadTorchWeights', options, ['strict']);
  const { strict = true } = options;
  if (typeof strict !== 'boolean')
    throw new ArgumentError(`loadTorchWeights: argument 'strict' must be a boolean`);
  let bytes: Uint8Array;
  let name = 'weights';
  if (typeof source === 'string') {
    name = source;
    const fs = await import('node:fs/promises');
    try {
      const b = await fs.readFile(source);
      bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      throw fileError('loadTorchWeights', source, e);
    }
  } else if (source instanceof Uint8Array) {
    bytes = source;
  } else {
    throw new ArgumentError(
      `loadTorchWeights: argument 'source' must be a path or a Uint8Array, got ${typeof source}`,
    );
  }
  const entries = decodeTorchWeights(bytes, name);
  const own = model.stateDict();
  const values = nameMap<StateValue>();
  const unexpected: string[] = [];
  const misshaped: string[] = [];
  for (const [key, e] of Object.entries(entries)) {
    if (key.endsWith(BATCHES) && Object.hasOwn(own, `${key.slice(0, -BATCHES.length)}.running_mean`))
      continue;
    if (!Object.hasOwn(own, key)) {
      unexpected.push(key);
      continue;
    }
    if (e.data instanceof Int32Array) {
      misshaped.push(`${key} (integer ${e.dtype}, expected a float tensor)`);
      continue;
    }
    const v = fromTorchLayout(e.shape, e.data);
    const want = own[key].shape;
    if (v.shape.length !== want.length || v.shape.some((d, i) => d !== want[i])) {
      misshaped.push(`${key} (file ${fmtShape(e.shape)}, model ${fmtShape(want)} in webgrad layout)`);
      continue;
    }
    values[key] = v;
  }
  const missing = Object.keys(own).filter(
    (k) => !Object.hasOwn(values, k) && !misshaped.some((m) => m.startsWith(`${k} `)),
  );
  // Mis-shaped keys are always an error, as in PyTorch's load_state_dict(strict=False).
  const problems = [
    misshaped.length ? `mis-shaped ${misshaped.join(', ')}` : '',
    strict && missing.length ? `missing ${missing.join(', ')}` : '',
    strict && unexpected.length ? `unexpected ${unexpected.join(', ')}` : '',
  ].filter(Boolean);
  if (problems.length) throw new FormatError(`loadTorchWeights: ${name}: ${problems.join('; ')}`);
  model.loadStateDict(values, { strict: false });
  return { missing, unexpected };
}

export type TorchFormat = 'safetensors' | 'pth';

/**
 * The model's state dict in PyTorch's names and layouts (HWIO → OIHW, [in,out] → [out,in]) with a
 * `num_batches_tracked` (int64 0) beside every batch norm's running statistics, so PyTorch's
 * `load_state_dict(strict=True)` takes it. format 'safetensors' (default) or 'pth' (a zip torch.load reads).
 */
export async function encodeTorchWeights(
  model: Module,
  { format = 'safetensors' }: { format?: TorchFormat } = {},
): Promise<Uint8Array> {
  if (format !== 'safetensors' && format !== 'pth') {
    throw new ArgumentError(
      `encodeTorchWeights: argument 'format' must be 'safetensors' or 'pth', got ${JSON.stringify(format)}`,
    );
  }
  const entries = nameMap<SafetensorsEntry>();
  for (const [key, t] of Object.entries(model.stateDict())) {
    const { shape, data } = toTorchLayout(t.shape, await t.data());
    entries[key] = { dtype: 'F32', shape, data };
    if (key.endsWith('.running_var')) {
      entries[`${key.slice(0, -'.running_var'.length)}${BATCHES}`] = {
        dtype: 'I64',
        shape: [],
        data: new Int32Array(1),
      };
    }
  }
  return format === 'pth' ? encodePth(entries) : encodeSafetensors(entries);
}

/**
 * Writes encodeTorchWeights atomically to `path`: `.pth`/`.pt` as PyTorch's zip, anything else as safetensors.
 * FileError naming the path when it cannot be written. Node only.
 */
export async function saveTorchWeights(path: string, model: Module): Promise<void> {
  if (typeof path !== 'string' || path === '') {
    throw new ArgumentError(
      `saveTorchWeights: argument 'path' must be a non-empty string, got ${describeValue(path)} (the arguments are (path, model))`,
    );
  }
  checkModule('saveTorchWeights', model);
  const format: TorchFormat = /\.(pth|pt)$/i.test(path) ? 'pth' : 'safetensors';
  await writeFileAtomic('saveTorchWeights', path, await encodeTorchWeights(model, { format }));
}
