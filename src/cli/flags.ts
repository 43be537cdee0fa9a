// Declarative command-line flags: each command lists its flags once; parsing, checks and --help come from that list.
import { ArgumentError } from '../errors.js';

interface FlagBase {
  /** Without the leading dashes: `batch-size`. */
  name: string;
  /** One line for --help. */
  help: string;
  /** The value's placeholder in --help (`N`, `FILE`); defaults by kind. */
  metavar?: string;
  /** Must be given (an error names the command and the flag). */
  required?: boolean;
}

/** A flag's kind decides how its value is read and checked. */
export type FlagSpec = FlagBase &
  (
    | { kind: 'boolean' }
    | { kind: 'string'; default?: string; repeatable?: boolean }
    | { kind: 'int'; default?: number; min: number }
    | { kind: 'number'; default?: number; positive?: boolean }
    | { kind: 'choice'; choices: readonly string[]; default?: string }
  );

/** Flags every command accepts. */
export const COMMON_FLAGS: readonly FlagSpec[] = [
  { name: 'quiet', kind: 'boolean', help: 'print only results and errors (no progress or messages)' },
  {
    name: 'check-finite',
    kind: 'boolean',
    help: 'stop with an error naming the first op that writes NaN or Infinity (debug.checkFinite; slower)',
  },
  { name: 'help', kind: 'boolean', help: 'show this help and exit' },
];

/** A command of the `webgrad` bin: its flags, and what it does with them. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** A paragraph for the command's --help. */
  description: string;
  flags: readonly FlagSpec[];
  run(flags: Flags, io: CommandIO): Promise<void>;
}

/** Where a command writes: results to stdout, messages and progress to stderr (silenced by --quiet). */
export interface CommandIO {
  /** A result line (stdout). */
  result(line: string): void;
  /** A message line (stderr), dropped with --quiet. */
  message(line: string): void;
  /** The stream for progress bars, or null with --quiet. */
  progress: NodeJS.WriteStream | null;
}

/**
 * Ends a command: `line` on stdout, or with --json the `summary` object as one JSON line on stdout and
 * `line` as a message on stderr.
 */
export function report(io: CommandIO, flags: Flags, line: string, summary: Record<string, unknown>): void {
  if (!flags.boolean('json')) {
    io.result(line);
    return;
  }
  io.message(`webgrad: ${line}`);
  io.result(JSON.stringify(summary));
}

type Value = string | number | boolean | string[];

/** The parsed, checked values of one command's flags (defaults filled in). */
export class Flags {
  constructor(
    private readonly values: ReadonlyMap<string, Value>,
    /** The flags the user wrote, as opposed to defaults. */
    private readonly written: ReadonlySet<string>,
  ) {}

  /**
   * A copy with some values replaced (counted as written) or removed (undefined): the same command run again
   * with other settings, as `train --ensemble` runs `train` once per member.
   */
  with(overrides: Record<string, Value | undefined>): Flags {
    const values = new Map(this.values);
    const written = new Set(this.written);
    for (const [name, v] of Object.entries(overrides)) {
      if (v === undefined) {
        values.delete(name);
        written.delete(name);
      } else {
        values.set(name, v);
        written.add(name);
      }
    }
    return new Flags(values, written);
  }

  /** Whether the flag has a value (given, or by default). */
  has(name: string): boolean {
    return this.values.has(name);
  }

  /** Whether the user wrote the flag. */
  gave(name: string): boolean {
    return this.written.has(name);
  }

  /** A string or choice flag's value (a repeatable flag's last one); undefined when absent without default. */
  string(name: string): string | undefined {
    const v = this.values.get(name);
    return Array.isArray(v) ? v.at(-1) : (v as string | undefined);
  }

  /** Every value of a repeatable string flag, in order. */
  strings(name: string): string[] {
    const v = this.values.get(name);
    return Array.isArray(v) ? v : v === undefined ? [] : [String(v)];
  }

  number(name: string): number | undefined {
    return this.values.get(name) as number | undefined;
  }

  boolean(name: string): boolean {
    return this.values.get(name) === true;
  }

  /** A choice flag's value, typed as one of its choices. */
  choice<T extends string>(name: string): T | undefined {
    return this.values.get(name) as T | undefined;
  }
}

function readValue(spec: FlagSpec, raw: string): Value {
  switch (spec.kind) {
    case 'int': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isInteger(v) || v < spec.min)
        throw new ArgumentError(`--${spec.name} must be an integer >= ${spec.min}, got '${raw}'`);
      return v;
    }
    case 'number': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v) || (spec.positive && !(v > 0)))
        throw new ArgumentError(
          `--${spec.name} must be a ${spec.positive ? 'positive ' : ''}number, got '${raw}'`,
        );
      return v;
    }
    case 'choice':
      if (!spec.choices.includes(raw))
        throw new ArgumentError(`--${spec.name} must be one of ${spec.choices.join(', ')}, got '${raw}'`);
      return raw;
    default:
      return raw;
  }
}

/** Parses `argv` (after the command name) against the command's flags plus the common ones. */
export function parseFlags(command: Command, argv: readonly string[]): Flags {
  const specs = [...command.flags, ...COMMON_FLAGS];
  const values = new Map<string, Value>();
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    // -h is --help's short form, as at the top level (`webgrad -h`).
    const arg = argv[i] === '-h' ? '--help' : argv[i];
    if (!arg.startsWith('--')) throw new ArgumentError(`unexpected argument '${arg}'`);
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    const spec = specs.find((s) => s.name === name);
    if (!spec) throw new ArgumentError(`unknown option '--${name}' for '${command.name}'`);
    given.add(name);
    if (spec.kind === 'boolean') {
      if (inline !== undefined) throw new ArgumentError(`option '--${name}' takes no value`);
      values.set(name, true);
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined || raw.startsWith('--'))
      throw new ArgumentError(`option '--${name}' needs a value`);
    const value = readValue(spec, raw);
    if (spec.kind === 'string' && spec.repeatable) {
      values.set(name, [...((values.get(name) as string[] | undefined) ?? []), raw]);
    } else {
      values.set(name, value);
    }
  }
  if (values.has('help')) return new Flags(values, given);
  for (const spec of specs) {
    if (values.has(spec.name)) continue;
    if (spec.required)
      throw new ArgumentError(`${command.name} needs --${spec.name} ${metavar(spec)}`.trimEnd());
    if ('default' in spec && spec.default !== undefined) values.set(spec.name, spec.default);
  }
  return new Flags(values, given);
}

function metavar(spec: FlagSpec): string {
  if (spec.kind === 'boolean') return '';
  if (spec.metavar) return spec.metavar;
  if (spec.kind === 'choice') return spec.choices.join('|');
  return spec.kind === 'string' ? 'VALUE' : spec.kind === 'int' ? 'N' : 'X';
}

/** The command's --help text: usage, description, one line per flag with its default. */
export function commandHelp(command: Command): string {
  const rows = [...command.flags, ...COMMON_FLAGS].map((spec) => {
    const left = `--${spec.name}${spec.kind === 'boolean' ? '' : ` ${metavar(spec)}`}`;
    const extras: string[] = [];
    if ('default' in spec && spec.default !== undefined) extras.push(`default ${spec.default}`);
    if (spec.required) extras.push('required');
    if (spec.kind === 'string' && spec.repeatable) extras.push('repeatable');
    return [left, `${spec.help}${extras.length ? ` (${extras.join(', ')})` : ''}`];
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [
    `usage: webgrad ${command.name} [options]`,
    '',
    command.description,
    '',
    'options:',
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`),
  ].join('\n');
}

/** The top-level --help: the commands with their summaries. */
export function programHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    'usage: webgrad <command> [options]',
    '       webgrad <command> --help | webgrad --version',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
  ].join('\n');
}
