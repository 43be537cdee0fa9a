// Transfer-learning benchmark: head epochs on cached features vs through the frozen ResNet-18 trunk (64x64), and
// the time and memory to load a torchvision ResNet-50 .pth. Usage: npx tsx bench/transfer.ts [--images N]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SGD, fit, info, init, io, release, transfer, zoo } from '../src/index.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

async function loadResnet50(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'webgrad-bench-'));
  const r = spawnSync(
    '/usr/bin/python3',
    [join(import.meta.dirname, '..', 'scripts', 'torch_fixtures.py'), 'models', dir, 'resnet50'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) {
    console.log(
      `ResNet-50 .pth load: skipped (PyTorch fixture failed: ${r.stderr.trim().split('\n').pop()})`,
    );
    return;
  }
  const path = join(dir, 'resnet50.pth');
  const fileBytes = statSync(path).size;
  const model = zoo.resnet50({ classes: 10 });
  global.gc?.();
  const before = process.memoryUsage();
  const start = performance.now();
  const bytes = readFileSync(path);
  const entries = io.decodeTorchWeights(
    new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    path,
  );
  const decodeMs = performance.now() - start;
  const after = process.memoryUsage();
  await io.loadTorchWeights(model, path);
  const totalMs = performance.now() - start;
  // Host memory held right after decoding: the file bytes plus every converted tensor (external + array buffers).
  const held = after.arrayBuffers - before.arrayBuffers;
  console.log(
    `ResNet-50 .pth (${mb(fileBytes)} MiB, ${Object.keys(entries).length} tensors): decode ${decodeMs.toFixed(0)} ms, ` +
      `decode + loadTorchWeights (a second read, layout conversion, upload) ${totalMs.toFixed(0)} ms; ` +
      `array-buffer memory held after decode ${mb(held)} MiB = ${(held / fileBytes).toFixed(2)}x the file; ` +
      `process peak RSS ${mb(process.resourceUsage().maxRSS * 1024)} MiB`,
  );
  model.dispose();
}

async function headEpochs(): Promise<void> {
  const n = arg('images', 256);
  const size = 64;
  const per = size * size * 3;
  const images = new Float32Array(n * per);
  for (let i = 0; i < images.length; i++) images[i] = Math.sin(i * 12.9898) * 0.5;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
  const data = {
    images,
    labels,
    shape: [size, size, 3] as [number, number, number],
    classes: [...'0123456789'],
    length: n,
  };
  const model = zoo.resnet18({ classes: 10, inputShape: [size, size, 3] });
  transfer.freezeTrunk(model);
  const batchSize = 32;
  const through = await fit(model, data, {
    epochs: 3,
    batchSize,
    optimizer: new SGD(model.parameters(), { lr: 0.01 }),
  });
  const dir = mkdtempSync(join(tmpdir(), 'webgrad-bench-features-'));
  const built = await transfer.cacheFeatures(model, data, { dir, batchSize });
  const features = await transfer.loadFeatures(dir, { model });
  const head = new transfer.FeatureHead(model, built.upTo);
  const cached = await fit(head, features, {
    epochs: 5,
    batchSize,
    optimizer: new SGD(head.parameters(), { lr: 0.01 }),
  });
  // The first epoch of each compiles pipelines: the medians are over the later ones.
  const tThrough = median(through.slice(1).map((e) => e.seconds));
  const tCached = median(cached.slice(1).map((e) => e.seconds));
  console.log(
    `ResNet-18 head, ${n} images at ${size}x${size}, batch ${batchSize}: epoch through the frozen trunk ${(tThrough * 1000).toFixed(0)} ms ` +
      `(epochs ${through.map((e) => e.seconds.toFixed(2)).join(', ')} s), on cached features ${(tCached * 1000).toFixed(1)} ms ` +
      `(epochs ${cached.map((e) => e.seconds.toFixed(3)).join(', ')} s): ${(tThrough / tCached).toFixed(0)}x faster; ` +
      `cache build ${built.seconds.toFixed(2)} s`,
  );
  model.dispose();
}

await init();
const a = info();
console.log(`adapter: ${a.backend} (${a.description})`);
await loadResnet50();
await headEpochs();
release();
