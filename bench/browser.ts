// The benchmarks in headless Chromium (WebGPU on SwiftShader): serves dist/ and the page bundle on 127.0.0.1.
// Usage: npm run bench:browser -- [--quick] [--ops] [--json FILE] [--filter REGEX] [--reps N] [--target-ms MS]
//   [--zoo full|reduced|off] [--no-jax]
// By default the end-to-end suite of `npm run bench` (--quick: its short run; the zoo at reduced size, as on
// any CPU adapter, and jax-js as a second peer); --ops runs the op rows instead.
// (the npm script builds dist/ first; Debian's `chromium` package provides /usr/bin/chromium).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { bundle } from './bundle.js';
import type { PageOptions, PageResult } from './page.js';
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from './chromium.js';
import { parseZooMode } from './zoo_workloads.js';

const ROOT = resolve(import.meta.dirname, '..');
const PAGE_BUNDLE = join(ROOT, 'node_modules/.cache/webgrad-bench/page.mjs');

const HTML = `<!doctype html>
<meta charset="utf-8">
<title>webgrad vs tfjs</title>
<script type="module">
  import { runBenchmark } from '/page.mjs';
  window.runBenchmark = runBenchmark;
  window.benchReady = true;
</script>`;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.map': 'application/json',
};

/** Serves the page, its bundle and dist/ (nothing else) on an ephemeral port of 127.0.0.1. */
async function serve(): Promise<Server> {
  const dist = join(ROOT, 'dist');
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    let file: string | null = null;
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(HTML);
      return;
    }
    // The browser asks for an icon on its own; answering keeps the console free of 404s.
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (path === '/page.mjs') file = PAGE_BUNDLE;
    else if (path.startsWith('/dist/')) {
      const candidate = normalize(join(ROOT, path));
      if (candidate.startsWith(dist + sep)) file = candidate;
    }
    try {
      if (!file) throw new Error('not served');
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return server;
}

const { values: args } = parseArgs({
  options: {
    json: { type: 'string' },
    quick: { type: 'boolean', default: false },
    ops: { type: 'boolean', default: false },
    filter: { type: 'string', default: '' },
    reps: { type: 'string', default: '3' },
    'target-ms': { type: 'string', default: '200' },
    zoo: { type: 'string', default: 'reduced' },
    'no-jax': { type: 'boolean', default: false },
  },
});
const zoo = parseZooMode(args.zoo);

await bundle('bench/page.ts', PAGE_BUNDLE, 'browser');
const server = await serve();
const profile = mkdtempSync(join(tmpdir(), 'webgrad-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM_PATH,
  headless: true,
  args: CHROMIUM_FLAGS,
});
let result: PageResult;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => console.log(`[page] ${m.text()}`));
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  const { port } = server.address() as AddressInfo;
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => (window as unknown as { benchReady?: boolean }).benchReady === true);
  const options: PageOptions = {
    mode: args.ops ? 'ops' : 'suite',
    quick: args.quick,
    reps: Number(args.reps),
    targetMs: Number(args['target-ms']),
    filter: args.filter,
    zoo,
    jax: !args['no-jax'],
  };
  // No time limit: SwiftShader runs the larger rows slowly.
  result = await page.evaluate(
    (o) => (window as unknown as { runBenchmark(o: PageOptions): Promise<PageResult> }).runBenchmark(o),
    options,
  );
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(`\n${result.table}`);
if (args.json) {
  writeFileSync(
    args.json,
    JSON.stringify({ adapter: result.adapter, date: new Date().toISOString(), rows: result.rows }, null, 2),
  );
  console.log(`wrote ${args.json}`);
}
if (result.rows.some((r) => r.error || ('jax' in r && r.jax?.error))) process.exitCode = 1;
