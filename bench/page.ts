// Browser side of the benchmarks (end-to-end suite or op rows): webgrad's built ESM (dist/) and tfjs-backend-webgpu
// on the page's navigator.gpu.
import * as tf from '@tensorflow/tfjs-core';
// As in Node: tfjs-core alone registers no gradients.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
// Registers the 'webgpu' backend (the page has navigator.gpu when this module loads).
import '@tensorflow/tfjs-backend-webgpu';
import type * as Wg from '../src/index.js';
import {
  countTfjsDispatches,
  markdownTable,
  runRows,
  type RowResult,
  type TimingOptions,
} from './harness.js';
import { opRows } from './rows.js';
import { FULL_OPTIONS, QUICK_OPTIONS, rowLine, suiteRows, suiteTable, type SuiteRow } from './workloads.js';

/** Where the page's server puts webgrad's build; loaded at run time, so the bundle holds no copy of webgrad. */
const WEBGRAD_URL = '/dist/index.js';

export interface PageOptions extends TimingOptions {
  /** 'suite': the end-to-end workloads of `npm run bench`; 'ops': the op rows of `npm run bench:ops`. */
  mode: 'suite' | 'ops';
  /** Suite only: the short run (QUICK_OPTIONS). */
  quick: boolean;
  /** Source of a RegExp over row names ("op pass shape" or the workload); empty runs every row. */
  filter: string;
}

export interface PageResult {
  adapter: string;
  rows: (RowResult | SuiteRow)[];
  table: string;
}

/** Opens both engines on the page's WebGPU adapter, runs the rows and releases webgrad's device. */
export async function runBenchmark(options: PageOptions): Promise<PageResult> {
  const wg = (await import(/* @vite-ignore */ WEBGRAD_URL)) as typeof Wg;
  const info = await wg.init({ backend: 'browser' });
  const adapter = `browser: ${info.description}${info.vendor ? ` (${info.vendor} ${info.architecture})` : ''}`;
  // Small tensors would otherwise run on tfjs's CPU kernels; the benchmark compares GPU kernels.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend failed to initialize');
  console.log(`webgrad on ${adapter}; tfjs ${tf.version_core} on webgpu`);
  const engines = { wg, tf, tfjsDispatches: countTfjsDispatches(tf) };
  const filter = options.filter ? new RegExp(options.filter) : null;
  try {
    if (options.mode === 'suite') {
      const suite = { ...(options.quick ? QUICK_OPTIONS : FULL_OPTIONS), filter };
      const rows = await suiteRows(engines, adapter, suite, (r) => console.log(rowLine(r)));
      return { adapter, rows, table: suiteTable(adapter, new Date().toISOString(), rows) };
    }
    const rows = await runRows(opRows(wg, tf), engines, options, filter);
    return { adapter, rows, table: markdownTable(adapter, rows) };
  } finally {
    wg.release();
  }
}
