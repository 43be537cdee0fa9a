// Engine lifetime in child processes: every order of init/release/work exits by itself with status 0.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');
const dist = pathToFileURL(join(root, 'dist', 'index.js')).href;
const distState = pathToFileURL(join(root, 'dist', 'graph', 'state.js')).href;
let dir = '';

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'index.js'))) {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  }
  dir = mkdtempSync(join(tmpdir(), 'webgrad-lifetime-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs `body` as an ES module (with `wg` imported) in a fresh Node process and returns its stdout lines and its
 * stderr. The process must exit by itself, with `status` (default 0), within the timeout: a hang, a crash or a
 * signal fails.
 */
function runProcess(
  name: string,
  body: string,
  env = process.env,
  status = 0,
): { lines: string[]; stderr: string } {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, `import * as wg from '${dist}';\nimport { state } from '${distState}';\n${body}\n`);
  const run = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000, env });
  const context = `${name}: status ${run.status}, signal ${run.signal}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
  expect(run.signal, context).toBeNull();
  expect(run.status, context).toBe(status);
  return { lines: run.stdout.trim().split('\n'), stderr: run.stderr };
}

const runScript = (name: string, body: string) => runProcess(name, body).lines;

/** Whether the Vulkan loader would find a driver manifest here (then auto mode rightly probes for a GPU). */
function vulkanManifestPresent(): boolean {
  const dirs = [
    '/etc/vulkan/icd.d',
    '/usr/share/vulkan/icd.d',
    '/usr/local/share/vulkan/icd.d',
    '/etc/xdg/vulkan/icd.d',
  ];
  return dirs.some((d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith('.json')));
}

/** Prints `label: <error class>` for a promise that must reject, `label: resolved` otherwise. */
const settle = `const settle = async (label, p) => {
  try { await p; console.log(label + ': resolved'); } catch (e) { console.log(label + ': ' + e.name); }
};`;

describe('exits cleanly in every order of calls', () => {
  it('a script that ends right after init() (no release)', () => {
    expect(runScript('init-only', `await wg.init(); console.log('done');`)).toEqual(['done']);
  });

  it('a script that ends right after init() and release(), three times over', () => {
    for (let i = 0; i < 3; i++) {
      expect(runScript(`init-release-${i}`, `await wg.init(); wg.release(); console.log('done');`)).toEqual([
        'done',
      ]);
    }
  });

  it('release() while submitted work is still running on the device', () => {
    const out = runScript(
      'release-busy',
      `await wg.init();
const x = wg.randn([384, 384], { seed: 1 });
let y = x;
for (let i = 0; i < 8; i++) y = wg.matmul(y, x);
wg.flush();
wg.release();
console.log('done');`,
    );
    expect(out).toEqual(['done']);
  });

  it('release() with reads in flight and reads still queued: both reject with DisposedError', () => {
    const out = runScript(
      'release-reads',
      `${settle}
await wg.init();
const x = wg.randn([256, 256], { seed: 2 });
const inFlight = wg.matmul(x, x).data();
const queued = wg.add(x, x).dataOnFlush();
const flushed = wg.flush();
wg.release();
await settle('in flight', inFlight);
await settle('queued', queued);
await settle('flush', flushed);
console.log('released');`,
    );
    expect(out).toEqual([
      'in flight: DisposedError',
      'queued: DisposedError',
      'flush: DisposedError',
      'released',
    ]);
  });

  it('reads abandoned by an exception, then release() in a finally: no unhandled rejection', () => {
    const { lines, stderr } = runProcess(
      'abandoned-reads',
      `await wg.init();
try {
  const x = wg.randn([128, 128], { seed: 5 });
  wg.matmul(x, x).data();
  x.dataOnFlush();
  wg.flush();
  wg.add(x, x).dataOnFlush();
  throw new Error('the program failed');
} catch (e) {
  console.log(e.message);
} finally {
  wg.release();
}`,
    );
    expect(lines).toEqual(['the program failed']);
    expect(stderr).not.toMatch(/Unhandled|DisposedError|\n\s+at /);
  });

  it('release() while init() is still opening the device, then a working init()', () => {
    const out = runScript(
      'release-opening',
      `${settle}
const opening = wg.init();
wg.release();
await settle('init', opening);
await wg.init();
console.log(Array.from(await wg.tensor([1, 2]).data()).join(','));
wg.release();`,
    );
    expect(out).toEqual(['init: DisposedError', '1,2']);
  });

  it('two concurrent init() calls share one device', () => {
    const out = runScript(
      'concurrent-init',
      `const [a, b] = await Promise.all([wg.init(), wg.init()]);
const device = state.runtime.device;
console.log(a === b, state.runtime.device === device);
console.log(Array.from(await wg.add(wg.tensor([1]), wg.tensor([2])).data()).join(','));
wg.release();`,
    );
    expect(out).toEqual(['true true', '3']);
  });

  it('init() calls made while the device opens: other settings are refused, checkFinite applies', () => {
    const out = runScript(
      'concurrent-options',
      `${settle}
const first = wg.init();
await settle('fusion', wg.init({ fusion: false }));
const second = wg.init({ checkFinite: true });
await first;
console.log('same info', (await second) === wg.info(), 'checkFinite', wg.debug.checkFinite);
wg.release();`,
    );
    expect(out).toEqual(['fusion: ArgumentError', 'same info true checkFinite true']);
  });

  it('a script that ends with a read it never awaited and without release()', () => {
    const out = runScript(
      'unawaited-read',
      `await wg.init();
const x = wg.randn([128, 128], { seed: 3 });
wg.matmul(x, x).data().then((v) => console.log('read', v.length));
console.log('end of script');`,
    );
    expect(out).toEqual(['end of script', 'read 16384']);
  });

  it('device loss (destroyed) fails reads in flight and the next op; release() + init() works again', () => {
    const out = runScript(
      'device-lost',
      `${settle}
await wg.init();
const x = wg.randn([128, 128], { seed: 4 });
const inFlight = wg.matmul(x, x).data();
const queued = wg.add(x, x).dataOnFlush();
state.runtime.device.destroy();
await settle('in flight', inFlight);
await settle('queued', queued);
try { wg.add(x, x); console.log('next op: ran'); } catch (e) { console.log('next op: ' + e.name); }
wg.release();
await wg.init();
console.log(Array.from(await wg.scale(wg.tensor([1, 2]), 3).data()).join(','));
wg.release();`,
    );
    expect(out).toEqual(['in flight: GpuError', 'queued: GpuError', 'next op: GpuError', '3,6']);
  });

  it('release() before any init(), twice; a script that never awaits its init()', () => {
    expect(runScript('release-first', `wg.release(); wg.release(); console.log('done');`)).toEqual(['done']);
    expect(runScript('init-not-awaited', `wg.init(); console.log('done');`)).toEqual(['done']);
  });

  it('an uncaught exception with a read in flight: status 1 and the error, no crash or hang', () => {
    const { lines, stderr } = runProcess(
      'uncaught',
      `await wg.init();
const x = wg.randn([256, 256], { seed: 5 });
wg.matmul(x, x).data();
console.log('throwing');
throw new Error('user code failed');`,
      process.env,
      1,
    );
    expect(lines).toEqual(['throwing']);
    expect(stderr).toMatch(/Error: user code failed/);
  });

  it('process.exit() while submitted work is still running, with and without a status', () => {
    const work = `await wg.init();
const x = wg.randn([512, 512], { seed: 6 });
wg.matmul(x, x).data();
console.log('exiting');`;
    expect(runScript('exit-busy', `${work}\nprocess.exit();`)).toEqual(['exiting']);
    expect(runProcess('exit-busy-3', `${work}\nprocess.exit(3);`, process.env, 3).lines).toEqual(['exiting']);
  });

  it('many init/release cycles with work, some released before their reads finish', () => {
    const out = runScript(
      'cycles',
      `let rejected = 0;
for (let i = 0; i < 6; i++) {
  await wg.init();
  const x = wg.randn([64, 64], { seed: i });
  const p = wg.matmul(x, x).data();
  if (i % 2) { wg.release(); await p.catch(() => rejected++); }
  else { await p; wg.release(); }
}
console.log('rejected', rejected);`,
    );
    expect(out).toEqual(['rejected 3']);
  });
});

describe('Dawn stays quiet where it can', () => {
  it('auto mode without a Vulkan driver probes no Vulkan, and EGL never tries Wayland or X11', () => {
    const env = { ...process.env };
    for (const k of [
      'EGL_PLATFORM',
      'WEBGRAD_BACKEND',
      'VK_ICD_FILENAMES',
      'VK_DRIVER_FILES',
      'XDG_RUNTIME_DIR',
    ])
      delete env[k];
    const { lines, stderr } = runProcess(
      'quiet-auto',
      `const info = await wg.init(); console.log(info.backend); wg.release();`,
      env,
    );
    expect(stderr).not.toMatch(/XDG_RUNTIME_DIR|eglInitialize|wayland/i);
    if (!vulkanManifestPresent()) {
      expect(lines).toEqual(['llvmpipe']);
      expect(stderr).not.toMatch(/vkCreateInstance|Couldn't load Vulkan|VK_ERROR/);
    }
  });
});
