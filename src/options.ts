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

/**
 * The fusion switches: the scheduler's five graph passes, in the order they run (`concatStore`: a channel concat's
 * inputs stored in place by their producers, graph/fusion/concat_store.ts), then two fusions chosen when ops
 * are recorded: `batchNormSingle` (a short batch norm as one kernel per direction instead of three: statistics,
 * apply and their gradients; src/ops/batchnorm_single.ts) and `groupedUpdate` (one optimizer kernel updates a
 * group of parameters instead of one kernel each; src/optim/optimizer.ts).
 */
export const FUSION_PASSES = [
  'foldBatchNorm',
  'reluMask',
  'epilogue',
  'elementwise',
  'concatStore',
  'batchNormSingle',
  'groupedUpdate',
] as const;
export type FusionPass = (typeof FUSION_PASSES)[number];

/**
 * Which fusion passes run: `true` (every pass, the default), `false` (none, every op its own kernel) or one
 * switch per pass, where a pass left out keeps its default (on).
 */
export type FusionOptions = boolean | { readonly [P in FusionPass]?: boolean };

/** The passes switched on by `options`; throws ArgumentError for an unknown pass or a non-boolean switch. */
export function resolveFusion(options: FusionOptions | undefined): Record<FusionPass, boolean> {
  const on = {} as Record<FusionPass, boolean>;
  if (options === undefined || typeof options === 'boolean') {
    for (const p of FUSION_PASSES) on[p] = options ?? true;
    return on;
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ArgumentError(
      `init: option 'fusion' must be a boolean or an object of passes (${FUSION_PASSES.join(', ')}), got ${JSON.stringify(options) ?? String(options)}`,
    );
  }
  checkOptionKeys("init: option 'fusion'", options, FUSION_PASSES);
  for (const p of FUSION_PASSES) {
    const v = options[p];
    if (v !== undefined && typeof v !== 'boolean') {
      throw new ArgumentError(`init: fusion pass '${p}' must be a boolean, got ${JSON.stringify(v)}`);
    }
    on[p] = v ?? true;
  }
  return on;
}
