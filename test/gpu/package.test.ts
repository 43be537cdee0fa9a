// The built package imported from plain Node (no bundler, no test runner): init, ops, backward, data, exit.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');
let project = '';

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'index.js'))) {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  }
  project = mkdtempSync(join(tmpdir(), 'webgrad-consumer-'));
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(root, join(project, 'node_modules', 'webgrad'), 'dir');
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ type: 'module', dependencies: { webgrad: '*' } }),
  );
});

afterAll(() => rmSync(project, { recursive: true, force: true }));

describe('package', () => {
  it('works from plain Node and lets the process exit after release()', () => {
    writeFileSync(
      join(project, 'main.mjs'),
      `import * as wg from 'webgrad';
const info = await wg.init();
const a = wg.tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true });
const loss = wg.mean(wg.mul(wg.relu(a), a));
loss.backward();
console.log(JSON.stringify({ backend: info.backend, loss: await loss.item(), grad: Array.from(await a.grad.data()) }));
wg.release();
`,
    );
    const run = spawnSync(process.execPath, ['main.mjs'], {
      cwd: project,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    expect(out.loss).toBeCloseTo(7.5, 5);
    expect(out.grad).toEqual([0.5, 1, 1.5, 2]);
  });
});
