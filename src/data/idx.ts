// Parser for the IDX format of the original MNIST files (big-endian header, unsigned bytes).
import { ArgumentError, FormatError } from '../errors.js';

/**
 * Parses an IDX file of unsigned bytes: magic 0x00 0x00 0x08 <rank>, then `rank` big-endian u32 sizes, then the
 * data. Checks the magic, the expected rank and that the data size matches exactly.
 * Shapes: returns dims (length `rank`) and data with product(dims) bytes.
 */
export function parseIdx(
  bytes: Uint8Array,
  rank: number,
  source = 'IDX data',
): { dims: number[]; data: Uint8Array } {
  if (!(bytes instanceof Uint8Array))
    throw new ArgumentError(`parseIdx: argument 'bytes' must be a Uint8Array`);
  if (!Number.isInteger(rank) || rank < 1 || rank > 255) {
    throw new ArgumentError(`parseIdx: argument 'rank' must be an integer in [1, 255], got ${String(rank)}`);
  }
  const fail = (what: string): never => {
    throw new FormatError(`${source}: not a valid IDX file: ${what}`);
  };
  if (bytes.length < 4) fail(`${bytes.length} bytes is too short for the magic number`);
  const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08 || bytes[3] !== rank) {
    fail(
      `magic number 0x${magic}, expected 0x000008${rank.toString(16).padStart(2, '0')} (unsigned bytes, rank ${rank})`,
    );
  }
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) fail(`${bytes.length} bytes is too short for a rank-${rank} header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - headerBytes !== size) {
    fail(`dims [${dims.join(',')}] need ${size} data bytes, the file has ${bytes.length - headerBytes}`);
  }
  return { dims, data: bytes.subarray(headerBytes) };
}
