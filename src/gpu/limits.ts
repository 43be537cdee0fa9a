// Size checks against the device's limits, made when ops are recorded and tensors created, not inside Dawn.
import { LimitError } from '../errors.js';

/** Formats a byte count for messages: `134217728 bytes (128 MiB)`. */
export function fmtBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let unit = '';
  for (const u of units) {
    if (v < 1024) break;
    v /= 1024;
    unit = u;
  }
  return unit ? `${bytes} bytes (${Number(v.toPrecision(4))} ${unit})` : `${bytes} bytes`;
}

/**
 * Throws LimitError unless a buffer of `bytes` fits the device: at most `maxBufferSize`, and, when it is bound
 * whole by a kernel, at most `maxStorageBufferBindingSize`. `what` names the op and the tensor.
 */
export function checkBufferBytes(
  what: string,
  bytes: number,
  limits: Readonly<Record<string, number>>,
  boundWhole: boolean,
): void {
  const maxBuffer = limits.maxBufferSize ?? Infinity;
  if (!Number.isSafeInteger(bytes) || bytes > maxBuffer) {
    throw new LimitError(
      `${what} needs ${fmtBytes(bytes)}, more than the device's maxBufferSize of ${fmtBytes(maxBuffer)}`,
      'maxBufferSize',
      bytes,
    );
  }
  const maxBinding = limits.maxStorageBufferBindingSize ?? Infinity;
  if (boundWhole && bytes > maxBinding) {
    throw new LimitError(
      `${what} needs ${fmtBytes(bytes)}, more than the device's maxStorageBufferBindingSize of ${fmtBytes(maxBinding)} (the largest buffer one kernel can bind)`,
      'maxStorageBufferBindingSize',
      bytes,
    );
  }
}

/** Throws LimitError when a dispatch needs more workgroups than x times y of maxComputeWorkgroupsPerDimension. */
export function checkWorkgroups(what: string, workgroups: number, max: number): void {
  if (workgroups > max) {
    throw new LimitError(
      `${what} needs ${workgroups} workgroups in one dispatch, more than the device's ${max} (maxComputeWorkgroupsPerDimension squared)`,
      'maxComputeWorkgroupsPerDimension',
      workgroups,
    );
  }
}
