// The CLI's declarative flags: parsing, checks, defaults, repeatable values and generated help.
import { describe, expect, it } from 'vitest';
import { commandHelp, parseFlags, programHelp, type Command } from '../../src/cli/flags.js';
import { ArgumentError } from '../../src/errors.js';

const demo: Command = {
  name: 'demo',
  summary: 'a command for tests',
  description: 'Does nothing.',
  flags: [
    { name: 'size', kind: 'int', min: 1, default: 4, help: 'a size' },
    { name: 'rate', kind: 'number', positive: true, help: 'a rate' },
    { name: 'shift', kind: 'number', help: 'any number' },
    { name: 'mode', kind: 'choice', choices: ['a', 'b'], default: 'a', help: 'a mode' },
    { name: 'file', kind: 'string', metavar: 'FILE', repeatable: true, help: 'files' },
    { name: 'need', kind: 'string', required: true, help: 'required' },
    { name: 'json', kind: 'boolean', help: 'json' },
  ],
  run: async () => {},
};

describe('parseFlags', () => {
  it('fills defaults, reads values in both spellings and keeps repeated values in order', () => {
    const f = parseFlags(demo, ['--need', 'x', '--file', 'a', '--file=b', '--rate=0.5', '--json']);
    expect(f.number('size')).toBe(4);
    expect(f.gave('size')).toBe(false);
    expect(f.number('rate')).toBe(0.5);
    expect(f.choice('mode')).toBe('a');
    expect(f.strings('file')).toEqual(['a', 'b']);
    expect(f.string('file')).toBe('b');
    expect(f.boolean('json')).toBe(true);
    expect(f.boolean('quiet')).toBe(false);
    expect(f.has('shift')).toBe(false);
    expect(parseFlags(demo, ['--need', 'x', '--shift', '-2']).number('shift')).toBe(-2);
  });

  const bad: [string[], RegExp][] = [
    [['--need', 'x', '--size', '0'], /--size must be an integer >= 1, got '0'/],
    [['--need', 'x', '--size', '2.5'], /--size must be an integer >= 1, got '2.5'/],
    [['--need', 'x', '--size', ''], /--size must be an integer >= 1, got ''/],
    [['--need', 'x', '--rate', '-1'], /--rate must be a positive number, got '-1'/],
    [['--need', 'x', '--shift', 'NaN'], /--shift must be a number, got 'NaN'/],
    [['--need', 'x', '--mode', 'c'], /--mode must be one of a, b, got 'c'/],
    [['--need', 'x', '--bogus'], /unknown option '--bogus' for 'demo'/],
    [['--need', 'x', '--json=yes'], /option '--json' takes no value/],
    [['--need'], /option '--need' needs a value/],
    [['--need', '--json'], /option '--need' needs a value/],
    [['stray'], /unexpected argument 'stray'/],
    [[], /demo needs --need VALUE/],
  ];
  for (const [argv, message] of bad) {
    it(`refuses ${JSON.stringify(argv)}`, () => {
      expect(() => parseFlags(demo, argv)).toThrow(ArgumentError);
      expect(() => parseFlags(demo, argv)).toThrow(message);
    });
  }

  it('--help needs no required flag', () => {
    expect(parseFlags(demo, ['--help']).boolean('help')).toBe(true);
  });
});

describe('help', () => {
  it('lists every flag with its placeholder and default, and the common flags', () => {
    const text = commandHelp(demo);
    expect(text).toMatch(/^usage: webgrad demo \[options\]/);
    for (const line of [
      '--size N',
      'a size (default 4)',
      '--mode a|b',
      '--file FILE',
      'files (repeatable)',
      'required (required)',
      '--quiet',
      '--help',
    ]) {
      expect(text).toContain(line);
    }
    expect(programHelp([demo])).toContain('demo  a command for tests');
  });
});
