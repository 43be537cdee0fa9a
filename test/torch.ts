// Runs scripts/torch_fixtures.py with Debian's PyTorch into a temp dir; tells tests whether PyTorch is there.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PYTHON = process.env.WEBGRAD_PYTHON ?? '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, '..', 'scripts', 'torch_fixtures.py');

function probe(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  if (r.error) return `${PYTHON} not found (${r.error.message})`;
  if (r.status !== 0) return `${PYTHON} has no torch/torchvision: ${r.stderr.trim().split('\n').pop()}`;
  return null;
}

/** Why the PyTorch parity tests cannot run here (printed when they skip), or null when they can. */
export const torchMissing = probe();
if (torchMissing) console.log(`PyTorch parity tests skipped: ${torchMissing}`);

/** Runs the fixture script with `args` (the output dir is made here and passed first); returns that dir. */
export function torchFixtures(command: string, ...args: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'webgrad-torch-'));
  runTorch(command, dir, ...args);
  return dir;
}

/** Runs the fixture script; throws with its stderr when it fails. */
export function runTorch(...args: string[]): void {
  const r = spawnSync(PYTHON, [SCRIPT, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`torch_fixtures.py ${args.join(' ')} failed:\n${r.stderr}`);
}

/** A raw little-endian float32 file. */
export function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Relative L2 error ||got - want|| / ||want||. */
export function relativeL2(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / den);
}
