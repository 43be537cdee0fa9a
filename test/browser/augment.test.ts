// The same augmentation pipeline in headless Chromium: bundled by vite with its module Worker, vs Node.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from '../../bench/chromium.js';
import { runAugment } from './augment_page.js';

const root = resolve(__dirname, '..', '..');
const SPEC =
  'crop:pad=2,mode=reflect;flip;affine:degrees=12,scale=0.9..1.1,shear=4;jitter:brightness=0.1;erase:p=0.5;mixup:alpha=0.4;cutmix:alpha=1';
const HTML = `<!doctype html><meta charset="utf-8"><script type="module">
import { runAugment } from './page.js';
window.runAugment = runAugment;
window.ready = true;
</script>`;

let out = '';
let profile = '';
let server: Server;
let context: BrowserContext;

beforeAll(async () => {
  if (!existsSync(join(root, 'dist', 'augment', 'worker.js'))) {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  }
  out = mkdtempSync(join(tmpdir(), 'webgrad-augment-page-'));
  // A user's browser bundle: vite follows `new Worker(new URL('./worker.js', import.meta.url))` in pool.ts.
  await build({
    configFile: false,
    root,
    base: './',
    logLevel: 'error',
    build: {
      outDir: out,
      emptyOutDir: true,
      minify: false,
      target: 'es2022',
      lib: { entry: join(root, 'test/browser/augment_page.ts'), formats: ['es'], fileName: 'page' },
    },
    worker: { format: 'es' },
  });
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(HTML);
      return;
    }
    const file = normalize(join(out, path));
    if (!file.startsWith(out + sep) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    const type = extname(file) === '.js' ? 'text/javascript' : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type }).end(readFileSync(file));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  profile = mkdtempSync(join(tmpdir(), 'webgrad-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_FLAGS,
  });
});

afterAll(async () => {
  await context?.close();
  server?.close();
  for (const dir of [out, profile]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('augmentation in headless Chromium', () => {
  it('module Workers give the batches of the inline run, and of Node', async () => {
    const page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const { port } = server.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    const [inline, workers] = await page.evaluate(
      (spec) =>
        (window as unknown as { runAugment(s: string, w: number): Promise<number[][][]> }).runAugment(
          spec,
          2,
        ),
      SPEC,
    );
    expect(errors).toEqual([]);
    expect(inline.length).toBe(8);
    expect(workers).toEqual(inline);
    // Node runs the same source (inline and with worker threads). Another JS engine's Math.log and Math.pow
    // may differ in the last bit, so mixup's lambda (column 3) is compared to 1e-12; everything else is equal.
    const [nodeInline, nodeWorkers] = await runAugment(SPEC, 2);
    expect(nodeWorkers).toEqual(nodeInline);
    const strip = (rows: number[][]) => rows.map((r) => [...r.slice(0, 3), ...r.slice(4)]);
    expect(strip(nodeInline)).toEqual(strip(inline));
    nodeInline.forEach((row, i) => expect(Math.abs(row[3] - inline[i][3])).toBeLessThan(1e-12));
  });
});
