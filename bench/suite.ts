// End-to-end benchmark in Node: ResNet/Inception and torchvision zoo training steps and inference, webgrad vs
// tfjs-backend-webgpu and jax-js on the same adapter.
// Usage: npm run bench -- [--quick] [--json FILE] [--filter REGEX] [--runs N] [--zoo full|reduced|off] [--no-jax]
//   [--dump DIR] [--no-torch]
// (--zoo defaults to full on a real GPU, reduced on CPU adapters: bench/zoo_workloads.ts; --dump writes every
// tensor the equivalence check compares to DIR/<workload>.safetensors, for scripts/peer_oracle.py; a zoo training
// check that fails the fixed tolerances is decided by PyTorch where /usr/bin/python3 has it, unless --no-torch).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as wg from '../src/index.js';
import { countTfjsDispatches } from './harness.js';
import { setupTfjsWebgpu } from './tfjs_webgpu.js';
import { openJax } from './jax_models.js';
import { torchOracle } from './torch_oracle.js';
import { FULL_OPTIONS, QUICK_OPTIONS, rowLine, suiteRows, suiteTable } from './workloads.js';
import { defaultZooMode, parseZooMode } from './zoo_workloads.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    filter: { type: 'string' },
    runs: { type: 'string' },
    zoo: { type: 'string' },
    'no-jax': { type: 'boolean', default: false },
    dump: { type: 'string' },
    'no-torch': { type: 'boolean', default: false },
  },
});

const info = await wg.init();
if (info.backend === 'browser')
  throw new Error('bench runs in Node; the browser page calls suiteRows itself');
const { tf, adapter: tfjsAdapter } = await setupTfjsWebgpu(info.backend);
const adapter = `${info.backend}: ${info.description}`;
console.log(`webgrad on ${adapter}; tfjs ${tf.version_core} webgpu on ${tfjsAdapter}`);
const jax = args['no-jax'] ? null : await openJax();
if (jax) console.log(`jax-js webgpu on ${jax.adapter}`);

/** --dump: the checked tensors of the row being run, by key, written once the row is done. */
const dumped = new Map<string, Float32Array>();
const dumpDir = args.dump;
if (dumpDir) mkdirSync(dumpDir, { recursive: true });
const record = dumpDir
  ? (_workload: string, key: string, values: ArrayLike<number>) => dumped.set(key, Float32Array.from(values))
  : undefined;
const writeDump = (workload: string) => {
  if (!dumpDir || dumped.size === 0) return;
  const entries = Object.fromEntries(
    [...dumped].map(([key, data]) => [key, { dtype: 'F32' as const, shape: [data.length], data }]),
  );
  writeFileSync(
    join(dumpDir, `${workload.replaceAll(' ', '_')}.safetensors`),
    wg.io.encodeSafetensors(entries),
  );
  dumped.clear();
};
// PyTorch decides zoo training checks that fail the fixed tolerances (TorchOracle in bench/workloads.ts).
const torch = args['no-torch'] ? { oracle: null, why: '--no-torch' } : torchOracle(wg);
console.log(
  `zoo training checks beyond the fixed tolerances: ${torch.oracle ? 'decided by' : 'fail, no oracle:'} ${torch.why}`,
);
const base = args.quick ? QUICK_OPTIONS : FULL_OPTIONS;
const options = {
  ...base,
  runs: args.runs ? Number(args.runs) : base.runs,
  filter: args.filter ? new RegExp(args.filter) : null,
  zoo: args.zoo === undefined ? defaultZooMode(info.backend) : parseZooMode(args.zoo),
  // The jax-js targets: 3x on llvmpipe, 1.5x on SwiftShader; none on a real GPU.
  jaxTarget: { llvmpipe: 3, swiftshader: 1.5, gpu: null }[info.backend],
  record,
  oracle: torch.oracle ?? undefined,
};
if (!(Number.isInteger(options.runs) && options.runs > 0))
  throw new Error(`--runs must be a positive integer`);
const engines = { wg, tf, jax: jax?.jax ?? null, tfjsDispatches: countTfjsDispatches(tf) };
const date = new Date().toISOString();
const started = performance.now();
const rows = await suiteRows(engines, adapter, options, (r) => {
  console.log(rowLine(r));
  writeDump(r.workload);
});
console.log(`\n${suiteTable(adapter, date, rows)}`);
console.log(`\n${((performance.now() - started) / 1000).toFixed(0)} s`);
if (args.json) {
  const run = { quick: args.quick, zoo: options.zoo, jax: jax !== null, runs: options.runs };
  writeFileSync(args.json, JSON.stringify({ adapter, date, ...run, rows }, null, 2));
  console.log(`wrote ${args.json}`);
}
tf.disposeVariables();
tf.engine().reset();
wg.release();
if (rows.some((r) => r.error || r.jax?.error)) process.exitCode = 1;
