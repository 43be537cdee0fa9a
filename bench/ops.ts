// Op benchmark in Node: webgrad vs tfjs-backend-webgpu in one process on the same adapter; prints a table.
// Usage: npm run bench:ops -- [--json FILE] [--filter REGEX] [--reps N] [--target-ms MS]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as wg from '../src/index.js';
import { countTfjsDispatches, markdownTable, runRow, type RowResult } from './harness.js';
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

const engines = { wg, tf, tfjsDispatches: countTfjsDispatches(tf) };
const options = { reps: Number(args.reps), targetMs: Number(args['target-ms']) };
const filter = args.filter ? new RegExp(args.filter) : null;
const rows: RowResult[] = [];
for (const row of opRows(wg, tf)) {
  const name = `${row.op} ${row.pass} ${row.shape}`;
  if (filter && !filter.test(name)) continue;
  const r = await runRow(row, engines, options);
  console.log(
    r.error
      ? `${name}: ${r.error}`
      : `${name}: webgrad ${r.webgradMs.toFixed(3)} ms, tfjs ${r.tfjsMs.toFixed(3)} ms (${r.speedup.toFixed(2)}x)`,
  );
  rows.push(r);
}
console.log(`\n${markdownTable(adapter, rows)}`);
if (args.json) {
  writeFileSync(args.json, JSON.stringify({ adapter, date: new Date().toISOString(), rows }, null, 2));
  console.log(`wrote ${args.json}`);
}
tf.disposeVariables();
tf.engine().reset();
wg.release();
if (rows.some((r) => r.error)) process.exitCode = 1;
