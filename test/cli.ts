// The built `webgrad` command for the CLI tests: its path, a build when dist/ lacks it, and a run in a folder.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
export const CLI_BIN = join(root, 'dist', 'cli', 'main.js');

/** Builds dist/ when the CLI is missing from it (the test command builds first; a lone vitest run may not). */
export function ensureCliBuilt(): void {
  if (!existsSync(CLI_BIN))
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
}

/** Runs `webgrad ...args` to completion in `cwd`, capturing stdout and stderr as text. */
export function runCli(cwd: string, ...args: string[]) {
  return spawnSync(process.execPath, [CLI_BIN, ...args], { cwd, encoding: 'utf8', timeout: 300_000 });
}
