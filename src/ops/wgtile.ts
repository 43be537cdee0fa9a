// Workgroup-memory tile shapes of the GPU GEMM-style kernels (matmul_wgtile, conv2d_*_wgtile) and their checks.
import { ArgumentError } from '../errors.js';
import { hasSubgroups } from '../gpu/device.js';

/**
 * A workgroup tile: TX x TY invocations, each computing RM x RN outputs, over KT-deep slabs. The workgroup's
 * output tile is (TY*RM) rows by (TX*RN) columns; its two double-buffered slabs take 8*(BM + BN)*KT bytes.
 */
export interface WgTile {
  tx: number;
  ty: number;
  rm: number;
  rn: number;
  kt: number;
}

/** The fixed GPU tile when tuning is off: 64x64 outputs, 16x16 invocations of 4x4, 16-deep slabs (16 KiB). */
export const DEFAULT_WGTILE: WgTile = { tx: 16, ty: 16, rm: 4, rn: 4, kt: 16 };

/** The tiles the tuner times, all within WebGPU's default limits (256 invocations, 16 KiB workgroup memory). */
export const WGTILE_CANDIDATES: readonly WgTile[] = [
  DEFAULT_WGTILE,
  { tx: 16, ty: 16, rm: 4, rn: 4, kt: 8 },
  { tx: 16, ty: 8, rm: 8, rn: 4, kt: 8 },
  { tx: 8, ty: 8, rm: 4, rn: 4, kt: 16 },
  { tx: 16, ty: 16, rm: 2, rn: 2, kt: 16 },
];

/** Rows and columns of a tile's output block. */
export function tileBlock(t: WgTile): { bm: number; bn: number } {
  return { bm: t.ty * t.rm, bn: t.tx * t.rn };
}

/** Whether the device can run this tile (invocations and workgroup memory), per `limits`. */
export function tileFits(t: WgTile, limits: Readonly<Record<string, number>>): boolean {
  const { bm, bn } = tileBlock(t);
  return (
    t.tx * t.ty <= (limits.maxComputeInvocationsPerWorkgroup ?? 256) &&
    t.tx <= (limits.maxComputeWorkgroupSizeX ?? 256) &&
    t.ty <= (limits.maxComputeWorkgroupSizeY ?? 256) &&
    8 * (bm + bn) * t.kt <= (limits.maxComputeWorkgroupStorageSize ?? 16384)
  );
}

/** The shader constants of a tile; throws ArgumentError (naming `op`) for a tile the kernels cannot hold. */
export function tileConstants(op: string, t: WgTile): Record<string, number> {
  const ok =
    [t.tx, t.ty, t.rm, t.rn, t.kt].every((v) => Number.isInteger(v) && v >= 1) && t.rm <= 8 && t.rn <= 8;
  if (!ok) {
    throw new ArgumentError(
      `${op}: workgroup tile ${JSON.stringify(t)} must have positive integer sizes with rm, rn <= 8`,
    );
  }
  return { TX: t.tx, TY: t.ty, RM: t.rm, RN: t.rn, KT: t.kt };
}

/**
 * Throws ArgumentError unless the device, by its `limits`, has the 'subgroups' feature that the subgroup kernel
 * variants need. `what` names the op and what asked for one: "matmul: option 'kernel' 'subgroup'".
 */
export function requireSubgroups(what: string, limits: Readonly<Record<string, number>>): void {
  if (!hasSubgroups(limits)) {
    throw new ArgumentError(`${what} needs a device with the 'subgroups' feature, which this adapter lacks`);
  }
}
