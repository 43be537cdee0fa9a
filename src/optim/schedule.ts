// Learning-rate schedules: functions from the step (or epoch) index to the learning rate, with linear warm-up.
import { checkInteger, checkOptionKeys, checkRange } from '../options.js';

/** Maps a step or epoch index (0, 1, 2, ...) to a learning rate. */
export type Schedule = (index: number) => number;

export interface StepScheduleOptions {
  /** The learning rate after warm-up, before any decay. */
  base: number;
  /** Factor applied every `stepSize` indices. */
  gamma: number;
  /** Indices between decays. */
  stepSize: number;
  /** Indices of linear warm-up before the schedule starts (default 0). */
  warmup?: number;
}

export interface CosineScheduleOptions {
  /** The learning rate after warm-up, at the top of the cosine. */
  base: number;
  /** Index at which the cosine reaches `min` (warm-up included); the rate stays at `min` after it. */
  total: number;
  /** The final learning rate (default 0). */
  min?: number;
  /** Indices of linear warm-up before the cosine starts (default 0). */
  warmup?: number;
}

/** Linear warm-up: index i < warmup gets base * (i + 1) / warmup, so the last warm-up index reaches base. */
function warm(base: number, warmup: number, index: number): number {
  return (base * (index + 1)) / warmup;
}

/**
 * Step decay: base * gamma^floor((index - warmup) / stepSize) after `warmup` indices of linear warm-up.
 * Shapes: none (scalar in, scalar out).
 */
export function stepSchedule(options: StepScheduleOptions): Schedule {
  checkOptionKeys('stepSchedule', options, ['base', 'gamma', 'stepSize', 'warmup']);
  const { base, gamma, stepSize, warmup = 0 } = options;
  checkRange('stepSchedule', 'base', base, 0);
  checkRange('stepSchedule', 'gamma', gamma, 0);
  checkInteger('stepSchedule', 'stepSize', stepSize, 1);
  checkInteger('stepSchedule', 'warmup', warmup, 0);
  return (index) => {
    checkInteger('stepSchedule', 'index', index, 0);
    if (index < warmup) return warm(base, warmup, index);
    return base * gamma ** Math.floor((index - warmup) / stepSize);
  };
}

/**
 * Cosine annealing from base to min over indices [warmup, total], after `warmup` indices of linear warm-up:
 * min + (base - min) * (1 + cos(pi * (index - warmup) / (total - warmup))) / 2, and min from `total` on.
 * Shapes: none (scalar in, scalar out).
 */
export function cosineSchedule(options: CosineScheduleOptions): Schedule {
  checkOptionKeys('cosineSchedule', options, ['base', 'total', 'min', 'warmup']);
  const { base, total, min = 0, warmup = 0 } = options;
  checkRange('cosineSchedule', 'base', base, 0);
  checkRange('cosineSchedule', 'min', min, 0, base);
  checkInteger('cosineSchedule', 'warmup', warmup, 0);
  checkInteger('cosineSchedule', 'total', total, warmup + 1);
  return (index) => {
    checkInteger('cosineSchedule', 'index', index, 0);
    if (index < warmup) return warm(base, warmup, index);
    if (index >= total) return min;
    return min + ((base - min) * (1 + Math.cos((Math.PI * (index - warmup)) / (total - warmup)))) / 2;
  };
}
