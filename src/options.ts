// Option and argument checks shared by the optimizers, schedules and data loaders.
import { ArgumentError } from './errors.js';

/**
 * Throws ArgumentError for option keys the owner does not know (a typo must not be silently ignored), and when
 * `options` is not an object at all.
 */
export function checkOptionKeys(owner: string, options: object, known: readonly string[]): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ArgumentError(
      `${owner}: options must be an object, got ${JSON.stringify(options) ?? String(options)}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new ArgumentError(`${owner}: unknown option '${key}' (known: ${known.join(', ')})`);
    }
  }
}

/** Throws ArgumentError unless `value` is a finite number in [min, max] (max exclusive when `openMax`). */
export function checkRange(
  owner: string,
  name: string,
  value: number,
  min: number,
  max = Infinity,
  openMax = false,
): void {
  const ok = Number.isFinite(value) && value >= min && (openMax ? value < max : value <= max);
  if (!ok) {
    const upper = max === Infinity ? '' : openMax ? ` and < ${max}` : ` and <= ${max}`;
    throw new ArgumentError(`${owner}: '${name}' must be a finite number >= ${min}${upper}, got ${value}`);
  }
}

/** Throws ArgumentError unless `value` is an integer >= min. */
export function checkInteger(owner: string, name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new ArgumentError(`${owner}: '${name}' must be an integer >= ${min}, got ${value}`);
  }
}
