// PyTorch's zip checkpoint format (torch.save since 1.6): a restricted read of state dicts and a writer torch.load reads.
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { FormatError, fmtShape } from '../errors.js';
import { sizeOf } from '../ops/types.js';
import { ELEMENT_BYTES, decodeElements, encodeElements, type DiskDType } from './dtypes.js';
import { PickleGlobal, PickleWriter, readPickle, type PickleCall, type PickleValue } from './pickle.js';
import { nameMap } from './safetensors.js';

/** One tensor of a state dict: on-disk dtype, shape, and float32 (floats) or int32 (ints) values. */
export interface TorchEntry {
  dtype: DiskDType;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Storage classes a state dict may name, and the element type each holds. */
const STORAGES: Record<string, DiskDType> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
};
const STORAGE_OF: Partial<Record<DiskDType, string>> = { F32: 'FloatStorage', I64: 'LongStorage' };

/** The globals torch.load(weights_only=True) would need for a state dict; nothing else is accepted. */
const ALLOWED = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  ...Object.keys(STORAGES).map((s) => `torch.${s}`),
]);

/** Whether bytes start like a zip archive (a local file header). */
export function isZip(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04
  );
}

const isTuple = (v: PickleValue): v is { kind: 'tuple'; items: PickleValue[] } =>
  typeof v === 'object' && v !== null && 'kind' in v && v.kind === 'tuple';
const isCall = (v: PickleValue, name: string): v is PickleCall =>
  typeof v === 'object' && v !== null && 'kind' in v && v.kind === 'call' && v.func.qualified === name;
const ints = (v: PickleValue): number[] | null =>
  isTuple(v) && v.items.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
    ? (v.items as number[])
    : null;

/**
 * Reads a `torch.save(model.state_dict())` file: the zip (fflate), its `data.pkl` through the restricted
 * unpickler, then each storage it references from `data/<key>`, one at a time, converted at once to float32 /
 * int32 (so peak memory stays near the file plus its tensors). FormatError naming `source` for a corrupt zip,
 * a refused global or opcode, a missing or truncated storage, or anything that is not a flat state dict.
 * Shapes: each entry's data has product(shape) elements, row-major (PyTorch's own layout, not yet converted).
 */
export function decodePth(bytes: Uint8Array, source: string): Record<string, TorchEntry> {
  const fail = (what: string): never => {
    throw new FormatError(`${source}: ${what}`);
  };
  if (!isZip(bytes)) {
    fail(
      'not a PyTorch zip checkpoint (PyTorch before 1.6 wrote another format: re-save it with a newer torch)',
    );
  }
  const unzip = (want: (name: string) => boolean) => {
    try {
      return unzipSync(bytes, { filter: (f) => want(f.name) });
    } catch (e) {
      return fail(`corrupt zip archive (${(e as Error).message})`);
    }
  };
  const names: string[] = [];
  const pickled = unzip((n) => (names.push(n), n.endsWith('data.pkl') && !n.slice(0, -8).includes('/data/')));
  const pklName =
    Object.keys(pickled)[0] ?? fail(`no data.pkl in the archive (entries: ${names.slice(0, 5).join(', ')})`);
  const prefix = pklName.slice(0, -'data.pkl'.length);
  const root = readPickle(pickled[pklName], ALLOWED, source);

  const dict: [PickleValue, PickleValue][] = isCall(root, 'collections.OrderedDict')
    ? root.items
    : typeof root === 'object' && root !== null && 'kind' in root && root.kind === 'dict'
      ? root.items
      : fail('the pickle is not a state dict (expected an OrderedDict of tensors)');

  const storages = new Map<string, Float32Array | Int32Array>();
  const storage = (ref: PickleValue, what: string): [Float32Array | Int32Array, DiskDType] => {
    const id =
      typeof ref === 'object' && ref !== null && 'kind' in ref && ref.kind === 'persistent' ? ref.id : null;
    if (!id || !isTuple(id) || id.items[0] !== 'storage' || id.items.length < 5) {
      return fail(`${what}: storage reference is not ('storage', type, key, location, numel)`);
    }
    const [, type, key, , numel] = id.items;
    const dtype = type instanceof PickleGlobal ? STORAGES[type.name] : undefined;
    if (!dtype || typeof key !== 'string' || !Number.isSafeInteger(numel)) {
      return fail(
        `${what}: unsupported storage ${type instanceof PickleGlobal ? type.qualified : String(type)}`,
      );
    }
    let data = storages.get(key);
    if (!data) {
      const path = `${prefix}data/${key}`;
      const raw =
        unzip((n) => n === path)[path] ?? fail(`${what}: storage '${path}' is missing from the archive`);
      const bytesNeeded = (numel as number) * ELEMENT_BYTES[dtype];
      if (raw.length < bytesNeeded) {
        fail(
          `${what}: storage '${path}' is truncated: ${raw.length} bytes, ${numel} ${dtype} elements need ${bytesNeeded}`,
        );
      }
      data = decodeElements(raw.subarray(0, bytesNeeded), dtype, numel as number, `${source}: ${what}`);
      storages.set(key, data);
    }
    return [data, dtype];
  };

  const out = nameMap<TorchEntry>();
  for (const [name, value] of dict) {
    if (typeof name !== 'string') fail('a state-dict key is not a string');
    const what = `tensor '${name as string}'`;
    let t = value;
    if (isCall(t, 'torch._utils._rebuild_parameter')) t = t.args[0];
    if (!isCall(t, 'torch._utils._rebuild_tensor_v2') || t.args.length < 4) {
      fail(`${what} is not a tensor (expected torch._utils._rebuild_tensor_v2)`);
    }
    const [ref, offset, sizeV, strideV] = (t as PickleCall).args;
    const shape = ints(sizeV);
    const stride = ints(strideV);
    if (!shape || !stride || stride.length !== shape.length || !Number.isSafeInteger(offset)) {
      fail(`${what} has a bad size, stride or offset`);
    }
    const [data, dtype] = storage(ref, what);
    out[name as string] = {
      dtype,
      shape: shape!,
      data: gather(data, offset as number, shape!, stride!, what, source),
    };
  }
  return out;
}

/** The row-major elements of a strided view; the storage itself when the view is all of it, contiguous. */
function gather(
  data: Float32Array | Int32Array,
  offset: number,
  shape: number[],
  stride: number[],
  what: string,
  source: string,
): Float32Array | Int32Array {
  const n = sizeOf(shape);
  let last = offset;
  for (let i = 0; i < shape.length; i++) if (shape[i] > 0) last += (shape[i] - 1) * stride[i];
  if (n > 0 && last >= data.length) {
    throw new FormatError(
      `${source}: ${what} ${fmtShape(shape)} reaches element ${last} of a storage of ${data.length}`,
    );
  }
  let contiguous = true;
  for (let i = shape.length - 1, s = 1; i >= 0; s *= shape[i], i--)
    if (shape[i] > 1 && stride[i] !== s) contiguous = false;
  if (contiguous) return offset === 0 && n === data.length ? data : data.slice(offset, offset + n);
  const out = new (data.constructor as typeof Float32Array | typeof Int32Array)(n);
  const index = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let at = offset;
    for (let i = 0; i < shape.length; i++) at += index[i] * stride[i];
    out[k] = data[at];
    for (let i = shape.length - 1; i >= 0 && ++index[i] === shape[i]; i--) index[i] = 0;
  }
  return out;
}

function rowMajorStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  for (let i = shape.length - 1, s = 1; i >= 0; s *= shape[i], i--) strides[i] = s;
  return strides;
}

/**
 * A zip that torch.load (weights_only=True too) reads as an OrderedDict of tensors: `archive/data.pkl` (pickle
 * protocol 2: OrderedDict, _rebuild_tensor_v2, one FloatStorage / LongStorage persistent id per tensor),
 * `archive/data/<key>` (raw little-endian elements, stored uncompressed) and `archive/version`.
 * Shapes: each entry's data is row-major with product(shape) elements (PyTorch layout); dtype F32 or I64.
 */
export function encodePth(entries: Record<string, TorchEntry>): Uint8Array {
  const p = new PickleWriter();
  const files: Zippable = {};
  p.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  Object.entries(entries).forEach(([name, e], key) => {
    const storageType = STORAGE_OF[e.dtype];
    if (!storageType)
      throw new FormatError(`encodePth: '${name}' has dtype ${e.dtype}; PyTorch export writes F32 and I64`);
    p.str(name);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.mark();
    p.mark()
      .str('storage')
      .global('torch', storageType)
      .str(String(key))
      .str('cpu')
      .int(e.data.length)
      .tuple();
    p.persistentId();
    p.int(0);
    p.mark();
    for (const d of e.shape) p.int(d);
    p.tuple();
    p.mark();
    for (const st of rowMajorStrides(e.shape)) p.int(st);
    p.tuple();
    p.bool(false);
    p.global('collections', 'OrderedDict').emptyTuple().reduce();
    p.tuple().reduce();
    files[`archive/data/${key}`] = [encodeElements(e.data, e.dtype), { level: 0 }];
  });
  p.setItems().stop();
  return zipSync(
    {
      'archive/data.pkl': [p.finish(), { level: 0 }],
      ...files,
      'archive/version': [new TextEncoder().encode('3\n'), { level: 0 }],
    },
    { level: 0 },
  );
}
