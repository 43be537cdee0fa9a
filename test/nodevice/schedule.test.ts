// Learning-rate schedules: exact values at the warm-up, decay and end points, and option validation.
import { describe, expect, it } from 'vitest';
import { ArgumentError, cosineSchedule, stepSchedule } from '../../src/index.js';

describe('stepSchedule', () => {
  it('decays by gamma every stepSize indices', () => {
    const s = stepSchedule({ base: 0.1, gamma: 0.5, stepSize: 3 });
    expect([0, 1, 2, 3, 5, 6, 9].map(s)).toEqual([0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.0125]);
  });

  it('warms up linearly, then counts decay from the end of warm-up', () => {
    const s = stepSchedule({ base: 0.4, gamma: 0.1, stepSize: 2, warmup: 4 });
    expect([0, 1, 2, 3].map(s)).toEqual([0.1, 0.2, 0.30000000000000004, 0.4]);
    expect(s(4)).toBe(0.4);
    expect(s(5)).toBe(0.4);
    expect(s(6)).toBeCloseTo(0.04, 15);
  });

  it('rejects bad options and indices', () => {
    expect(() => stepSchedule({ base: 0.1, gamma: 0.5, stepSize: 0 })).toThrow(
      /'stepSize' must be an integer >= 1/,
    );
    expect(() => stepSchedule({ base: 0.1, gamma: 0.5, stepSize: 1, warm: 3 } as never)).toThrow(
      /unknown option 'warm'/,
    );
    expect(() => stepSchedule({ base: 0.1, gamma: 0.5, stepSize: 1 })(-1)).toThrow(ArgumentError);
    expect(() => stepSchedule({ base: 0.1, gamma: 0.5, stepSize: 1 })(1.5)).toThrow(/'index'/);
  });
});

describe('cosineSchedule', () => {
  it('goes from base to min over [warmup, total] and stays at min', () => {
    const s = cosineSchedule({ base: 1, min: 0.1, total: 10 });
    expect(s(0)).toBe(1);
    expect(s(5)).toBeCloseTo(0.55, 15);
    expect(s(10)).toBe(0.1);
    expect(s(20)).toBe(0.1);
    for (let i = 1; i <= 10; i++) expect(s(i)).toBeLessThan(s(i - 1));
  });

  it('warms up linearly, then starts the cosine at base', () => {
    const s = cosineSchedule({ base: 0.2, total: 12, warmup: 2 });
    expect(s(0)).toBe(0.1);
    expect(s(1)).toBe(0.2);
    expect(s(2)).toBe(0.2);
    expect(s(7)).toBeCloseTo(0.1, 15);
    expect(s(12)).toBe(0);
  });

  it('rejects bad options', () => {
    expect(() => cosineSchedule({ base: 0.1, total: 3, warmup: 3 })).toThrow(
      /'total' must be an integer >= 4/,
    );
    expect(() => cosineSchedule({ base: 0.1, total: 10, min: 0.2 })).toThrow(/'min'/);
    expect(() => cosineSchedule({ base: NaN, total: 10 })).toThrow(ArgumentError);
  });
});
