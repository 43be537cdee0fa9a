// Checkpoints in the safetensors format: pure encode/decode (browsers too) and atomic Node file save/load.
import { ArgumentError, FormatError, describeValue, fileError, fmtShape } from '../errors.js';
import { tensor } from '../graph/create.js';
import { Tensor } from '../graph/tensor.js';
import { sizeOf } from '../ops/types.js';
import { requireNode } from '../platform.js';
import { ELEMENT_BYTES, decodeElements, encodeElements } from './dtypes.js';

/**
 * Element types webgrad reads and writes, little-endian: F32, F16 and BF16 hold floats, I32 and I64 integers.
 * In memory a float entry's data is a Float32Array (F16 and BF16 widen exactly) and an integer entry's an
 * Int32Array (an I64 value outside int32 is a FormatError); `dtype` is the type on disk.
 */
export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64';
const DTYPES: readonly SafetensorsDType[] = ['F32', 'F16', 'BF16', 'I32', 'I64'];
const isInteger = (d: SafetensorsDType) => d === 'I32' || d === 'I64';

/** One named array of a safetensors file. */
export interface SafetensorsEntry {
  dtype: SafetensorsDType;
  shape: number[];
  /** Float32Array for F32/F16/BF16, Int32Array for I32/I64. */
  data: Float32Array | Int32Array;
}

export interface SafetensorsContents {
  /** By name; a null-prototype object, so a file's names (even `__proto__`) are plain keys. */
  tensors: Record<string, SafetensorsEntry>;
  /** The header's optional `__metadata__` string map ({} when absent), null-prototype like `tensors`. */
  metadata: Record<string, string>;
}

/**
 * An empty object without a prototype: names from files and users become plain keys, and no key (`__proto__`,
 * `constructor`, `toString`) reaches Object.prototype.
 */
export function nameMap<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** The reference implementation refuses headers past 100 MB; so do we, before parsing anything that large. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA = '__metadata__';
// WebGPU buffers and every host webgrad runs on are little-endian, so typed arrays are copied as raw bytes.

/** Bytes of an entry's data on disk. */
function entryBytes(dtype: SafetensorsDType, shape: readonly number[]): number {
  return sizeOf(shape) * ELEMENT_BYTES[dtype];
}

function checkEntry(name: string, e: SafetensorsEntry): void {
  if (e instanceof Tensor) {
    throw new ArgumentError(
      `encodeSafetensors: '${name}' is a Tensor; entries are host values { dtype: 'F32', shape, data } (saveCheckpoint saves a model's tensors)`,
    );
  }
  const want = !DTYPES.includes(e?.dtype) ? null : isInteger(e.dtype) ? Int32Array : Float32Array;
  if (!want)
    throw new ArgumentError(
      `encodeSafetensors: '${name}' has dtype ${e?.dtype}, expected one of ${DTYPES.join(', ')}`,
    );
  if (!(e.data instanceof want)) {
    throw new ArgumentError(`encodeSafetensors: '${name}' is ${e.dtype} but its data is not a ${want.name}`);
  }
  if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ArgumentError(`encodeSafetensors: '${name}' has a bad shape ${JSON.stringify(e.shape)}`);
  }
  if (sizeOf(e.shape) !== e.data.length) {
    throw new ArgumentError(
      `encodeSafetensors: '${name}' has ${e.data.length} values for shape ${fmtShape(e.shape)} (${sizeOf(e.shape)})`,
    );
  }
}

/**
 * Serializes named arrays to safetensors bytes: an 8-byte little-endian header length, a JSON header
 * (`__metadata__` first, then tensors by name, each `{dtype, shape, data_offsets}`), padded with spaces to a
 * multiple of 8 so the data is aligned, then the raw data in header order.
 * Shapes: each entry's data has product(shape) elements.
 */
export function encodeSafetensors(
  entries: Record<string, SafetensorsEntry>,
  metadata?: Record<string, string>,
): Uint8Array {
  if (typeof entries !== 'object' || entries === null) {
    throw new ArgumentError(
      `encodeSafetensors: entries must be an object of named arrays, got ${String(entries)}`,
    );
  }
  const header = nameMap<unknown>();
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new ArgumentError(`encodeSafetensors: metadata '${k}' must be a string`);
    }
    header[METADATA] = metadata;
  }
  const names = Object.keys(entries).sort();
  let offset = 0;
  for (const name of names) {
    if (name === METADATA) throw new ArgumentError(`encodeSafetensors: '${METADATA}' is reserved`);
    const e = entries[name];
    checkEntry(name, e);
    const end = offset + entryBytes(e.dtype, e.shape);
    header[name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, end] };
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const name of names) {
    const raw = encodeElements(entries[name].data, entries[name].dtype);
    out.set(raw, at);
    at += raw.byteLength;
  }
  return out;
}

/**
 * Parses safetensors bytes, checking everything the format promises: header length within the file, a JSON
 * object header, known dtypes (F32, F16, BF16, I32, I64), shapes, offsets that tile the data exactly (sorted by offset:
 * no gap, no overlap, nothing past the end) and sizes that match the shapes. `source` names the file in
 * errors. Throws FormatError. Shapes: each returned entry's data has product(shape) elements.
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsContents {
  const fail = (what: string): never => {
    throw new FormatError(`${source}: not a valid safetensors file: ${what}`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8) || n > BigInt(MAX_HEADER_BYTES)) {
    fail(`header length ${n} exceeds the ${bytes.length - 8} bytes after the length field`);
  }
  const headerLength = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail('header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataBytes = bytes.length - dataStart;
  const metadata = nameMap<string>();
  const spans: { name: string; begin: number; end: number; dtype: SafetensorsDType; shape: number[] }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA) {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
        fail(`'${METADATA}' is not an object`);
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`'${METADATA}' value '${k}' is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== 'object' || info === null) fail(`tensor '${name}' is not an object`);
    if (!DTYPES.includes(info.dtype as SafetensorsDType)) {
      fail(`tensor '${name}' has dtype ${JSON.stringify(info.dtype)}; webgrad reads ${DTYPES.join(', ')}`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      fail(`tensor '${name}' has a bad shape ${JSON.stringify(shape)}`);
    }
    const offsets = info.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      offsets.some((o) => !Number.isSafeInteger(o) || o < 0)
    ) {
      fail(`tensor '${name}' has bad data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end) fail(`tensor '${name}' data_offsets [${begin},${end}] are reversed`);
    if (end > dataBytes) {
      fail(`tensor '${name}' data_offsets [${begin},${end}] are out of range of the ${dataBytes} data bytes`);
    }
    const dtype = info.dtype as SafetensorsDType;
    const expected = entryBytes(dtype, shape as number[]);
    if (end - begin !== expected) {
      fail(
        `tensor '${name}' ${dtype} ${fmtShape(shape as number[])} needs ${expected} bytes, data_offsets give ${end - begin}`,
      );
    }
    spans.push({ name, begin, end, dtype, shape: shape as number[] });
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const s of spans) {
    if (s.begin !== cursor) {
      fail(
        s.begin < cursor
          ? `tensor '${s.name}' data_offsets [${s.begin},${s.end}] overlap the previous tensor (ending at ${cursor})`
          : `tensor '${s.name}' starts at ${s.begin}, leaving a gap after byte ${cursor}`,
      );
    }
    cursor = s.end;
  }
  if (cursor !== dataBytes) fail(`the tensors cover ${cursor} of the ${dataBytes} data bytes`);
  const tensors = nameMap<SafetensorsEntry>();
  for (const s of spans) {
    // Copy: the file's data need not be 4-byte aligned, and the result must not pin the whole file.
    const raw = bytes.slice(dataStart + s.begin, dataStart + s.end);
    tensors[s.name] = {
      dtype: s.dtype,
      shape: s.shape,
      data: decodeElements(raw, s.dtype, sizeOf(s.shape), `${source}: tensor '${s.name}'`),
    };
  }
  return { tensors, metadata };
}

/** Reads every tensor back from the device into entries (float32 as F32, int32 as I32). */
export async function tensorsToEntries(
  record: Record<string, Tensor>,
): Promise<Record<string, SafetensorsEntry>> {
  const out = nameMap<SafetensorsEntry>();
  for (const [name, t] of Object.entries(record)) {
    out[name] =
      t.dtype === 'int32'
        ? { dtype: 'I32', shape: [...t.shape], data: await t.int32Data() }
        : { dtype: 'F32', shape: [...t.shape], data: await t.data() };
  }
  return out;
}

/** Makes a leaf tensor per entry (floats as float32, integers as int32); `requiresGrad` applies to floats. */
export function entriesToTensors(
  entries: Record<string, SafetensorsEntry>,
  options: { requiresGrad?: boolean } = {},
): Record<string, Tensor> {
  const out = nameMap<Tensor>();
  for (const [name, e] of Object.entries(entries)) {
    out[name] = isInteger(e.dtype)
      ? tensor(e.data, e.shape, { dtype: 'int32' })
      : tensor(e.data, e.shape, { requiresGrad: options.requiresGrad ?? false });
  }
  return out;
}

let tempCounter = 0;

/**
 * Writes a safetensors file atomically: the bytes go to a temporary file in the same directory, which is
 * fsynced and renamed over `path`. On any failure the temporary file is removed, a previous file at `path`
 * is left as it was, and a file-system error becomes a FileError naming `op` and `path`. Node only.
 */
export async function writeSafetensorsFile(
  op: string,
  path: string,
  entries: Record<string, SafetensorsEntry>,
  metadata?: Record<string, string>,
): Promise<void> {
  if (typeof path !== 'string' || path === '') {
    throw new ArgumentError(`${op}: path must be a non-empty string, got ${describeValue(path)}`);
  }
  await writeFileAtomic(op, path, encodeSafetensors(entries, metadata));
}

/** The atomic write of writeSafetensorsFile for any bytes (temporary file, fsync, rename, directory fsync). */
export async function writeFileAtomic(op: string, path: string, bytes: Uint8Array): Promise<void> {
  requireNode(op);
  const fs = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  const temp = `${path}.${process.pid}.${++tempCounter}.tmp`;
  let handle: Awaited<ReturnType<typeof fs.open>> | null = null;
  try {
    handle = await fs.open(temp, 'wx');
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = null;
    await fs.rename(temp, path);
  } catch (e) {
    // Cleanup must not hide the error that made the save fail.
    await handle?.close().catch(() => undefined);
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw fileError(op, path, e);
  }
  // The rename itself is durable only once the directory entry is on disk (POSIX; Windows cannot open a
  // directory for syncing).
  if (process.platform !== 'win32') {
    try {
      const dir = await fs.open(dirname(path), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (e) {
      throw fileError(op, path, e);
    }
  }
}

/** Reads and validates a safetensors file for `op`: FileError when it cannot be read, FormatError when corrupt. */
export async function readSafetensorsFile(op: string, path: string): Promise<SafetensorsContents> {
  if (typeof path !== 'string' || path === '') {
    throw new ArgumentError(`${op}: path must be a non-empty string, got ${describeValue(path)}`);
  }
  requireNode(op);
  const fs = await import('node:fs/promises');
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(path);
  } catch (e) {
    throw fileError(op, path, e);
  }
  return decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

/**
 * Writes a safetensors file atomically (temporary file in the same directory, fsync, rename): a failed save
 * leaves neither a temporary file nor a damaged previous file. FileError for a missing or read-only directory.
 * Node only (node:fs is imported on first use, so browser bundles never load it).
 */
export async function saveSafetensors(
  path: string,
  entries: Record<string, SafetensorsEntry>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeSafetensorsFile('saveSafetensors', path, entries, metadata);
}

/** Reads and validates a safetensors file: FileError naming the path when it cannot be read, FormatError when
 * corrupt. Node only. */
export async function loadSafetensors(path: string): Promise<SafetensorsContents> {
  return readSafetensorsFile('loadSafetensors', path);
}
