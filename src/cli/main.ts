#!/usr/bin/env node
// The `webgrad` command: finds the subcommand, parses its flags, runs it; errors become one line on stderr.
import { createRequire } from 'node:module';
import { release } from '../engine.js';
import { WebgradError } from '../errors.js';
import { debug } from '../graph/checks.js';
import { evalCommand } from './commands/eval.js';
import { trainCommand } from './commands/train.js';
import { transferCommand } from './commands/transfer.js';
import { commandHelp, parseFlags, programHelp, type Command, type CommandIO } from './flags.js';

/** Every subcommand; each lives in its own file under commands/. */
export const COMMANDS: readonly Command[] = [trainCommand, evalCommand, transferCommand];

function version(): string {
  // dist/cli/main.js and src/cli/main.ts both sit two levels below the package root.
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
  return pkg.version;
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
      const command = COMMANDS.find((c) => c.name === rest[0]);
      process.stdout.write(`${command ? commandHelp(command) : programHelp(COMMANDS)}\n`);
      return 0;
    }
    if (name === '--version' || name === '-v') {
      process.stdout.write(`webgrad ${version()}\n`);
      return 0;
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) {
      throw new WebgradError(
        `unknown command '${name}' (expected ${COMMANDS.map((c) => c.name).join(', ')}; see webgrad --help)`,
      );
    }
    const flags = parseFlags(command, rest);
    if (flags.boolean('help')) {
      process.stdout.write(`${commandHelp(command)}\n`);
      return 0;
    }
    debug.checkFinite = flags.boolean('check-finite');
    const quiet = flags.boolean('quiet');
    const io: CommandIO = {
      result: (line) => process.stdout.write(`${line}\n`),
      message: (line) => {
        if (!quiet) process.stderr.write(`${line}\n`);
      },
      progress: quiet ? null : process.stderr,
    };
    await command.run(flags, io);
    return 0;
  } catch (e) {
    // Users get one line, never a stack trace; unexpected errors say so.
    const known = e instanceof WebgradError || (e as NodeJS.ErrnoException)?.code !== undefined;
    process.stderr.write(`webgrad: error: ${known ? (e as Error).message : `unexpected: ${String(e)}`}\n`);
    return 1;
  } finally {
    release();
  }
}

process.exitCode = await main(process.argv.slice(2));
