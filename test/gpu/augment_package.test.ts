// The built package's augmentation from plain Node: webgrad/augment's workers run dist/augment/worker.js.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');
let project = '';

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'augment', 'worker.js'))) {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  }
  project = mkdtempSync(join(tmpdir(), 'webgrad-augment-consumer-'));
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(root, join(project, 'node_modules', 'webgrad'), 'dir');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module' }));
});

afterAll(() => rmSync(project, { recursive: true, force: true }));

describe('webgrad/augment from dist', () => {
  it('runs workers from the built package, matches the inline batches, and lets the process exit', () => {
    writeFileSync(
      join(project, 'main.mjs'),
      `import { BatchLoader, PRESETS } from 'webgrad/augment';
const n = 20, per = 12 * 12;
const images = Float32Array.from({ length: n * per }, (_, i) => (i % 97) / 97);
const ds = { images, labels: Int32Array.from({ length: n }, (_, i) => i % 4), shape: [12, 12, 1], classes: ['a', 'b', 'c', 'd'], length: n };
const sums = [];
for (const workers of [0, 2]) {
  const loader = await BatchLoader.open(ds, { batchSize: 6, epochs: 2, augment: 'digits;erase:p=0.5', workers });
  let s = 0;
  for (let b = await loader.next(); b; b = await loader.next()) for (const v of b.images) s = s * 1.0000001 + v;
  await loader.close();
  sums.push(s);
}
console.log(JSON.stringify({ sums, presets: Object.keys(PRESETS) }));
`,
    );
    const run = spawnSync(process.execPath, ['main.mjs'], {
      cwd: project,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout.trim());
    expect(out.sums[1]).toBe(out.sums[0]);
    expect(out.presets).toEqual(['standard', 'digits']);
  });
});
