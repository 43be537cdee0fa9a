// Augmentation specs: the transform kinds and their hyperparameters, presets, the text form and its parser.
import { ArgumentError } from '../errors.js';

/** Random crop of the zero- or reflect-padded image back to its own size (offsets uniform in [0, 2*pad]). */
export interface CropStep {
  kind: 'crop';
  /** Pixels of padding on every side (default 4). */
  pad?: number;
  /** 'zero' pads with 0 (torchvision RandomCrop's default), 'reflect' mirrors without repeating the edge. */
  mode?: 'zero' | 'reflect';
}

/** Horizontal flip with probability p (default 0.5). */
export interface FlipStep {
  kind: 'flip';
  p?: number;
}

/**
 * Random affine warp about the image center, sampled bilinearly (pixel centers at +0.5, taps outside the image
 * read `fill`): rotation uniform in [-degrees, degrees], shear (x) uniform in [-shear, shear] degrees, scale
 * uniform in [scale[0], scale[1]], translation uniform in [-translate, translate] times the width / height.
 */
export interface AffineStep {
  kind: 'affine';
  degrees?: number;
  translate?: number;
  scale?: [number, number];
  shear?: number;
  fill?: number;
}

/**
 * Brightness and contrast jitter: x * b with b uniform in [1 - brightness, 1 + brightness], then
 * (x - m) * c + m with m the image's mean and c uniform in [1 - contrast, 1 + contrast]. No clamping, so
 * normalized data stays valid.
 */
export interface JitterStep {
  kind: 'jitter';
  brightness?: number;
  contrast?: number;
}

/**
 * Random erasing (Zhong et al., torchvision RandomErasing): with probability p, a rectangle with area a share in
 * [scale[0], scale[1]] of the image and aspect ratio (h/w) log-uniform in [ratio[0], ratio[1]] is set to `value`.
 */
export interface EraseStep {
  kind: 'erase';
  p?: number;
  scale?: [number, number];
  ratio?: [number, number];
  value?: number;
}

/** Cutout (DeVries and Taylor): with probability p, a size x size square centered anywhere (clipped) set to `value`. */
export interface CutoutStep {
  kind: 'cutout';
  size?: number;
  p?: number;
  value?: number;
}

/** Mixup (Zhang et al.), per batch: x = l x + (1 - l) x[perm], lambda ~ Beta(alpha, alpha); labels mixed alike. */
export interface MixupStep {
  kind: 'mixup';
  alpha?: number;
}

/** CutMix (Yun et al.), per batch: a box of area share (1 - lambda) pasted from x[perm]; lambda from its real area. */
export interface CutmixStep {
  kind: 'cutmix';
  alpha?: number;
}

/** One step of a pipeline. Per-image steps run in order; mixup and cutmix act on the whole batch, after them. */
export type AugmentStep =
  CropStep | FlipStep | AffineStep | JitterStep | EraseStep | CutoutStep | MixupStep | CutmixStep;

/** A pipeline: steps in order (preset names expand to their steps). */
export type AugmentSpec = readonly AugmentStep[];

/** Presets users know: the CIFAR/ResNet recipe and small warps for digits (no flip: a mirrored 2 is no 2). */
export const PRESETS: Readonly<Record<string, AugmentSpec>> = {
  standard: [
    { kind: 'crop', pad: 4, mode: 'zero' },
    { kind: 'flip', p: 0.5 },
  ],
  digits: [{ kind: 'affine', degrees: 10, translate: 0.1, scale: [0.9, 1.1], shear: 0 }],
};

type Param =
  { type: 'number'; min: number; max?: number } | { type: 'range'; min: number } | { type: 'mode' };

const PARAMS: Readonly<Record<AugmentStep['kind'], Readonly<Record<string, Param>>>> = {
  crop: { pad: { type: 'number', min: 0 }, mode: { type: 'mode' } },
  flip: { p: { type: 'number', min: 0, max: 1 } },
  affine: {
    degrees: { type: 'number', min: 0, max: 180 },
    translate: { type: 'number', min: 0, max: 1 },
    scale: { type: 'range', min: Number.MIN_VALUE },
    shear: { type: 'number', min: 0, max: 89 },
    fill: { type: 'number', min: -Infinity },
  },
  jitter: { brightness: { type: 'number', min: 0, max: 1 }, contrast: { type: 'number', min: 0, max: 1 } },
  erase: {
    p: { type: 'number', min: 0, max: 1 },
    scale: { type: 'range', min: Number.MIN_VALUE },
    ratio: { type: 'range', min: Number.MIN_VALUE },
    value: { type: 'number', min: -Infinity },
  },
  cutout: {
    size: { type: 'number', min: 1 },
    p: { type: 'number', min: 0, max: 1 },
    value: { type: 'number', min: -Infinity },
  },
  mixup: { alpha: { type: 'number', min: Number.MIN_VALUE } },
  cutmix: { alpha: { type: 'number', min: Number.MIN_VALUE } },
};

const KINDS = Object.keys(PARAMS);

function bad(where: string, message: string): never {
  throw new ArgumentError(`augment: ${where}: ${message}`);
}

/** Checks one parameter value against its rule; `where` names the step for the message. */
function checkParam(where: string, key: string, rule: Param, v: unknown): void {
  if (rule.type === 'mode') {
    if (v !== 'zero' && v !== 'reflect')
      bad(where, `'${key}' must be 'zero' or 'reflect', got ${JSON.stringify(v)}`);
    return;
  }
  if (rule.type === 'range') {
    const ok =
      Array.isArray(v) &&
      v.length === 2 &&
      v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= rule.min) &&
      v[0] <= v[1];
    if (!ok)
      bad(
        where,
        `'${key}' must be [lo, hi] with ${rule.min > 0 ? '0 < ' : ''}lo <= hi, got ${JSON.stringify(v)}`,
      );
    return;
  }
  const ok =
    typeof v === 'number' && Number.isFinite(v) && v >= rule.min && (rule.max === undefined || v <= rule.max);
  if (!ok) {
    const lo =
      rule.min === -Infinity
        ? 'a finite number'
        : `a number >= ${rule.min === Number.MIN_VALUE ? '> 0' : rule.min}`;
    bad(
      where,
      `'${key}' must be ${lo}${rule.max === undefined ? '' : ` and <= ${rule.max}`}, got ${JSON.stringify(v)}`,
    );
  }
}

/** Checks one step; `i` is its place as the user wrote it, for the message. */
function checkStep(step: AugmentStep, i: number, shape?: readonly [number, number, number]): AugmentStep {
  if (typeof step !== 'object' || step === null || !KINDS.includes((step as AugmentStep).kind)) {
    bad(`step ${i}`, `'kind' must be one of ${KINDS.join(', ')}, got ${JSON.stringify(step)}`);
  }
  const where = `step ${i} (${step.kind})`;
  const rules = PARAMS[step.kind];
  for (const [key, v] of Object.entries(step)) {
    if (key === 'kind') continue;
    const rule = rules[key];
    if (!rule) bad(where, `unknown parameter '${key}' (known: ${Object.keys(rules).join(', ') || 'none'})`);
    checkParam(where, key, rule, v);
  }
  if (step.kind === 'crop' || step.kind === 'cutout') {
    const [name, v] = step.kind === 'crop' ? ['pad', step.pad ?? 4] : ['size', step.size ?? 8];
    if (!Number.isInteger(v)) bad(where, `'${name}' must be an integer, got ${v}`);
  }
  if (step.kind === 'crop' && shape && step.mode === 'reflect') {
    const pad = step.pad ?? 4;
    if (pad >= shape[0] || pad >= shape[1])
      bad(where, `reflect padding ${pad} needs images larger than it, got ${shape[0]}x${shape[1]}`);
  }
  return Object.freeze({ ...step }) as AugmentStep;
}

/**
 * Checks a pipeline (unknown kinds, unknown or out-of-range parameters, a crop padding that reflect cannot
 * mirror) and returns a frozen copy. `shape` is [H, W, C] of the images it will run on, when known.
 */
export function checkSpec(spec: AugmentSpec, shape?: readonly [number, number, number]): AugmentSpec {
  if (!Array.isArray(spec)) bad('spec', `expected an array of steps, got ${JSON.stringify(spec)}`);
  return Object.freeze(spec.map((step: AugmentStep, i: number) => checkStep(step, i, shape)));
}

function parseValue(
  kind: AugmentStep['kind'],
  where: string,
  key: string,
  raw: string,
): number | string | [number, number] {
  const rule = PARAMS[kind][key];
  if (rule?.type === 'mode') return raw;
  const parts = raw.split('..');
  const nums = parts.map((p) => (p.trim() === '' ? NaN : Number(p)));
  if (nums.some((n) => !Number.isFinite(n)) || parts.length > 2)
    bad(where, `'${key}=${raw}' is not a number or a range lo..hi`);
  if (rule?.type === 'range') return parts.length === 2 ? [nums[0], nums[1]] : [nums[0], nums[0]];
  if (parts.length === 2) bad(where, `'${key}' takes one number, got the range '${raw}'`);
  return nums[0];
}

/**
 * Parses the text form: steps separated by ';' (or '+'), each a preset name or `kind[:key=value,...]`, ranges as
 * `lo..hi`. Examples: `standard`, `digits;erase:p=0.25`, `crop:pad=4,mode=reflect;flip;mixup:alpha=0.2`,
 * `affine:degrees=15,scale=0.8..1.2`. ArgumentError names the step and the parameter that is wrong.
 */
export function parseSpec(text: string): AugmentSpec {
  if (typeof text !== 'string' || text.trim() === '')
    bad('spec', `expected a preset or steps, got ${JSON.stringify(text)}`);
  const steps: AugmentStep[] = [];
  for (const [i, item] of text.split(/[;+]/).entries()) {
    const [name, args = ''] = item.trim().split(/:(.*)/s, 2);
    if (name in PRESETS && args === '') {
      steps.push(...PRESETS[name]);
      continue;
    }
    if (!KINDS.includes(name)) {
      bad(
        `step ${i}`,
        `'${name}' is neither a preset (${Object.keys(PRESETS).join(', ')}) nor a kind (${KINDS.join(', ')})`,
      );
    }
    const where = `step ${i} (${name})`;
    const step: Record<string, unknown> = { kind: name };
    for (const pair of args.split(',').filter((p) => p.trim() !== '')) {
      const [key, raw] = pair.split('=', 2).map((s) => s?.trim());
      if (!key || raw === undefined || raw === '') bad(where, `expected key=value, got '${pair}'`);
      step[key] = parseValue(name as AugmentStep['kind'], where, key, raw);
    }
    steps.push(checkStep(step as unknown as AugmentStep, i));
  }
  return Object.freeze(steps);
}

/** A preset name, the text form, or steps: resolved to checked steps. */
export function resolveSpec(
  spec: string | AugmentSpec,
  shape?: readonly [number, number, number],
): AugmentSpec {
  return checkSpec(typeof spec === 'string' ? parseSpec(spec) : spec, shape);
}
