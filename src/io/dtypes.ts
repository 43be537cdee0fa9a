// Element conversions between on-disk dtypes (F16, BF16, I64, F64) and webgrad's float32/int32 host arrays.
import { FormatError } from '../errors.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bits → float32 value (exact: every half is a float32). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** float32 value → IEEE half bits, round to nearest even (overflow to infinity, as PyTorch's .half()). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const frac = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (frac ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal half: shift the full mantissa (with its implicit 1) and round to nearest even.
    const m = frac | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let out = m >>> shift;
    if (rest > half || (rest === half && out & 1)) out++;
    return sign | out;
  }
  let out = (e << 10) | (frac >>> 13);
  const rest = frac & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && out & 1)) out++;
  return sign | out;
}

/** bfloat16 bits → float32 value (exact). */
export function bfloat16ToFloat(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/** float32 value → bfloat16 bits, round to nearest even (NaN stays NaN). */
export function floatToBfloat16(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Little-endian int64 values → int32; FormatError naming `what` when one does not fit. */
export function int64ToInt32(bytes: Uint8Array, count: number, what: string): Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = view.getBigInt64(i * 8, true);
    if (v > 2147483647n || v < -2147483648n) {
      throw new FormatError(`${what}: int64 value ${v} at index ${i} does not fit webgrad's int32`);
    }
    out[i] = Number(v);
  }
  return out;
}

/** Bytes per element of each on-disk float/int type webgrad reads. */
export const ELEMENT_BYTES = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 } as const;
export type DiskDType = keyof typeof ELEMENT_BYTES;

/**
 * Raw little-endian elements of `dtype` → a float32 (floats) or int32 (ints) host array. `bytes.length` must be
 * count * ELEMENT_BYTES[dtype] (the caller checks and names the file).
 */
export function decodeElements(
  bytes: Uint8Array,
  dtype: DiskDType,
  count: number,
  what: string,
): Float32Array | Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      return bytes.byteOffset % 4 === 0 && bytes.buffer instanceof ArrayBuffer
        ? new Float32Array(bytes.buffer, bytes.byteOffset, count)
        : new Float32Array(bytes.slice().buffer);
    case 'I32':
      return bytes.byteOffset % 4 === 0 && bytes.buffer instanceof ArrayBuffer
        ? new Int32Array(bytes.buffer, bytes.byteOffset, count)
        : new Int32Array(bytes.slice().buffer);
    case 'F64': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = bfloat16ToFloat(view.getUint16(i * 2, true));
      return out;
    }
    case 'I64':
      return int64ToInt32(bytes, count, what);
  }
}

/** A float32/int32 host array → raw little-endian elements of `dtype` (F16/BF16 rounded to nearest even). */
export function encodeElements(data: Float32Array | Int32Array, dtype: DiskDType): Uint8Array {
  if (dtype === 'F32' || dtype === 'I32')
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.length * ELEMENT_BYTES[dtype]);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (dtype === 'F16') view.setUint16(i * 2, floatToHalf(data[i]), true);
    else if (dtype === 'BF16') view.setUint16(i * 2, floatToBfloat16(data[i]), true);
    else if (dtype === 'I64') view.setBigInt64(i * 8, BigInt(data[i]), true);
    else view.setFloat64(i * 8, data[i], true);
  }
  return out;
}
