// PyTorch as the bench's arbiter (Node only): runs scripts/peer_oracle.py on a zoo row's checked tensors.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Wg from '../src/index.js';
import type { OracleVerdict, TorchOracle } from './workloads.js';

const PYTHON = process.env.WEBGRAD_PYTHON ?? '/usr/bin/python3';
// From the repository root, where `npm run bench` runs (the bundle lives elsewhere).
const SCRIPT = join(process.cwd(), 'scripts', 'peer_oracle.py');

/**
 * The oracle when `PYTHON` has torch and torchvision (Debian's python3-torch / python3-torchvision), else null
 * with the reason. It writes the row's tensors (bench/workloads.ts's `start/…`, `webgrad/…`, `tfjs/…`,
 * `jax-js/…` keys) to a temporary safetensors file and reads back the script's verdict.
 */
export function torchOracle(wg: typeof Wg): { oracle: TorchOracle | null; why: string } {
  if (!existsSync(SCRIPT)) return { oracle: null, why: `no ${SCRIPT}` };
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return { oracle: null, why: `${PYTHON} has no torch/torchvision` };
  const oracle: TorchOracle = (arch, tensors) => {
    const dir = mkdtempSync(join(tmpdir(), 'webgrad-oracle-'));
    try {
      const file = join(dir, 'row.safetensors');
      const entries = Object.fromEntries(
        [...tensors].map(([key, data]) => [key, { dtype: 'F32' as const, shape: [data.length], data }]),
      );
      writeFileSync(file, wg.io.encodeSafetensors(entries));
      const out = join(dir, 'verdict.json');
      const r = spawnSync(PYTHON, [SCRIPT, file, arch, '--json', out], {
        encoding: 'utf8',
        maxBuffer: 1 << 26,
      });
      if (r.status !== 0) throw new Error(`peer_oracle.py ${arch} failed:\n${r.stderr}`);
      return (JSON.parse(readFileSync(out, 'utf8')) as { verdict: OracleVerdict }).verdict;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  return { oracle, why: `PyTorch (${PYTHON})` };
}
