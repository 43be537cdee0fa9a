// Size checks against the device's limits, made when ops are recorded and tensors created, not inside Dawn; and
// the lower limits an engine can be told to plan against (InitOptions.limits).
import { ArgumentError, LimitError } from '../errors.js';
import { checkOptionKeys } from '../options.js';

/**
 * Limits the engine plans against instead of the device's: each may only be stricter than the device's (a
 * smaller buffer or binding, a coarser offset alignment). Ops that split large tensors (matmul, dense, conv2d
 * and its backward passes) then split at these sizes; every other op refuses larger tensors with a LimitError.
 * Uses: keep every binding small on a device whose driver struggles with large ones, and test the splitting
 * without allocating gigabytes.
 */
export interface PlanningLimits {
  /** Largest byte size one kernel binds: a positive multiple of 4, at least 256. */
  maxStorageBufferBindingSize?: number;
  /** Largest byte size of one buffer (one tensor): a positive multiple of 4, at least 256. */
  maxBufferSize?: number;
  /** Byte alignment of a bound window's offset: a power of two, at least the device's. */
  minStorageBufferOffsetAlignment?: number;
}

const PLANNING_LIMITS: readonly (keyof PlanningLimits)[] = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'minStorageBufferOffsetAlignment',
];

/** Throws ArgumentError unless `caps` is a valid InitOptions.limits (keys, integer values, their form). */
export function checkPlanningLimits(caps: PlanningLimits | undefined): void {
  if (caps === undefined) return;
  checkOptionKeys("init: option 'limits'", caps, PLANNING_LIMITS);
  for (const key of PLANNING_LIMITS) {
    const v = caps[key];
    if (v === undefined) continue;
    const align = key === 'minStorageBufferOffsetAlignment';
    const ok = Number.isSafeInteger(v) && (align ? v >= 4 && (v & (v - 1)) === 0 : v >= 256 && v % 4 === 0);
    if (!ok) {
      const want = align ? 'a power of two of at least 4' : 'an integer multiple of 4 of at least 256';
      throw new ArgumentError(`init: limit '${key}' must be ${want}, got ${JSON.stringify(v)}`);
    }
  }
}

/**
 * The device's limits with `caps` applied: what the engine plans against. Throws ArgumentError for a cap less
 * strict than the device's own limit (the engine cannot bind more than the device allows).
 */
export function applyPlanningLimits(
  device: Readonly<Record<string, number>>,
  caps: PlanningLimits | undefined,
): Record<string, number> {
  const out = { ...device };
  for (const key of PLANNING_LIMITS) {
    const v = caps?.[key];
    if (v === undefined) continue;
    const own = device[key];
    const align = key === 'minStorageBufferOffsetAlignment';
    if (own !== undefined && (align ? v < own : v > own)) {
      throw new ArgumentError(
        `init: limit '${key}' of ${v} is ${align ? 'finer' : 'larger'} than the device's ${own}; it can only be ${align ? 'coarser' : 'smaller'}`,
      );
    }
    out[key] = v;
  }
  return out;
}

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
 * Whether a buffer of `bytes` fits the device: at most maxBufferSize, and, when bound whole, at most
 * maxStorageBufferBindingSize (the test `checkBufferBytes` makes, without building its message: the hot path
 * of recording asks it for every tensor).
 */
export function fitsBuffer(
  bytes: number,
  limits: Readonly<Record<string, number>>,
  boundWhole: boolean,
): boolean {
  if (!Number.isSafeInteger(bytes) || bytes > (limits.maxBufferSize ?? Infinity)) return false;
  return !boundWhole || bytes <= (limits.maxStorageBufferBindingSize ?? Infinity);
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
  if (fitsBuffer(bytes, limits, boundWhole)) return;
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
