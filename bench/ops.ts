// Op benchmark in Node: webgrad vs tfjs-backend-webgpu in one process on the same adapter; prints a table.
// Usage: npm run bench:ops -- [--json FILE] [--filter REGEX] [--reps N] [--target-ms MS]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as wg from '../src/index.js';
import { countTfjsDispatches, markdownTable, runRows } from './harness.js';
import { measurePeak } from './peak.js';
import { opRows } from './rows.js';
import { setupTfjsWebgpu } from './tfjs_webgpu.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'string' },
    filter: { type: 'string' },
    reps: { type: 'string', default: '5' },
    'target-ms': { type: 'string', default: '200' },
  },
});

const info = await wg.init();
if (info.backend === 'browser') throw new Error('bench:ops runs in Node; use bench:browser for browsers');
const { tf, adapter: tfjsAdapter } = await setupTfjsWebgpu(info.backend);
const adapter = `${info.backend}: ${info.description}`;
console.log(`webgrad on ${adapter}; tfjs ${tf.version_core} webgpu on ${tfjsAdapter}`);

const peakGflops = await measurePeak(wg);
const tuner = wg.tuneInfo()!;
console.log(
  `measured FP32 peak ${peakGflops.toFixed(1)} GFLOP/s; tuner ${tuner.enabled ? `on (cache ${tuner.cacheDir ?? 'in memory'})` : 'off (WEBGRAD_TUNE=0)'}`,
);
const engines = { wg, tf, tfjsDispatches: countTfjsDispatches(tf) };
const options = { reps: Number(args.reps), targetMs: Number(args['target-ms']) };
const rows = await runRows(opRows(wg, tf), engines, options, args.filter ? new RegExp(args.filter) : null);
console.log(`\n${markdownTable(adapter, rows, peakGflops)}`);
if (args.json) {
  const date = new Date().toISOString();
  const tuning = { enabled: tuner.enabled, timed: wg.tuneInfo()!.timed };
  writeFileSync(args.json, JSON.stringify({ adapter, date, peakGflops, tuning, rows }, null, 2));
  console.log(`wrote ${args.json}`);
}
tf.disposeVariables();
tf.engine().reset();
wg.release();
if (rows.some((r) => r.error)) process.exitCode = 1;
