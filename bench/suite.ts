// End-to-end benchmark in Node: ResNet/Inception training steps and inference, webgrad vs tfjs-backend-webgpu.
// Usage: npm run bench -- [--quick] [--json FILE] [--filter REGEX] [--runs N]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as wg from '../src/index.js';
import { countTfjsDispatches } from './harness.js';
import { setupTfjsWebgpu } from './tfjs_webgpu.js';
import { FULL_OPTIONS, QUICK_OPTIONS, rowLine, suiteRows, suiteTable } from './workloads.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    filter: { type: 'string' },
    runs: { type: 'string' },
  },
});

const info = await wg.init();
if (info.backend === 'browser')
  throw new Error('bench runs in Node; the browser page calls suiteRows itself');
const { tf, adapter: tfjsAdapter } = await setupTfjsWebgpu(info.backend);
const adapter = `${info.backend}: ${info.description}`;
console.log(`webgrad on ${adapter}; tfjs ${tf.version_core} webgpu on ${tfjsAdapter}`);

const base = args.quick ? QUICK_OPTIONS : FULL_OPTIONS;
const options = {
  ...base,
  runs: args.runs ? Number(args.runs) : base.runs,
  filter: args.filter ? new RegExp(args.filter) : null,
};
if (!(Number.isInteger(options.runs) && options.runs > 0))
  throw new Error(`--runs must be a positive integer`);
const engines = { wg, tf, tfjsDispatches: countTfjsDispatches(tf) };
const date = new Date().toISOString();
const started = performance.now();
const rows = await suiteRows(engines, adapter, options, (r) => console.log(rowLine(r)));
console.log(`\n${suiteTable(adapter, date, rows)}`);
console.log(`\n${((performance.now() - started) / 1000).toFixed(0)} s`);
if (args.json) {
  writeFileSync(args.json, JSON.stringify({ adapter, date, quick: args.quick, rows }, null, 2));
  console.log(`wrote ${args.json}`);
}
tf.disposeVariables();
tf.engine().reset();
wg.release();
if (rows.some((r) => r.error)) process.exitCode = 1;
