// Training-step time of the default ResNet with the engine's safety checks: the hot path, and debug.checkFinite.
// Run: npx tsx bench/engine_overhead.ts [steps=20] [repeats=5]
import * as wg from '../src/index.js';

const steps = Number(process.argv[2] ?? 20);
const repeats = Number(process.argv[3] ?? 5);
const batch = 32;
const info = await wg.init();
const model = wg.resnet({ inputShape: [28, 28, 1], classes: 10, seed: 1 });
const optimizer = new wg.Adam(model.parameters(), { lr: 1e-3 });
const rng = new wg.Rng(7);
const pixels = Float32Array.from({ length: batch * 28 * 28 }, () => rng.next());
const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);

/** Milliseconds per step over `n` steps recorded as fit() does: fresh batch tensors, one submit, pipelined reads. */
async function timeSteps(n: number): Promise<number> {
  const start = performance.now();
  let previous: Promise<unknown> | null = null;
  for (let i = 0; i < n; i++) {
    const x = wg.tensor(pixels, [batch, 28, 28, 1]);
    const y = wg.tensor(labels, [batch], { dtype: 'int32' });
    const loss = wg.tidy(() => {
      const l = wg.softmaxCrossEntropy(model.forward(x), y);
      l.backward();
      return l;
    });
    const read = loss.dataOnFlush();
    optimizer.step();
    optimizer.zeroGrad();
    for (const t of [x, y, loss]) t.dispose();
    await previous;
    previous = read;
  }
  await previous;
  return (performance.now() - start) / n;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const modes: [string, boolean][] = [['checks (default)', false]];
// `debug` exists from the hardening on; an older checkout times the hot path only.
const debug = (wg as { debug?: { checkFinite: boolean } }).debug;
if (debug) modes.push(['debug.checkFinite', true]);
console.log(
  `adapter: ${info.backend} (${info.description}); ResNet default, batch ${batch}, ${steps} steps x ${repeats}`,
);
console.log('| mode | median ms/step | min | max |');
console.log('| --- | --- | --- | --- |');
for (const [name, on] of modes) {
  if (debug) debug.checkFinite = on;
  await timeSteps(5);
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) times.push(await timeSteps(steps));
  const f = (v: number) => v.toFixed(1);
  console.log(`| ${name} | ${f(median(times))} | ${f(Math.min(...times))} | ${f(Math.max(...times))} |`);
}
wg.release();
