// Browser side of the op benchmark: webgrad's built ESM (dist/) and tfjs-backend-webgpu on the page's navigator.gpu.
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

/** Where the page's server puts webgrad's build; loaded at run time, so the bundle holds no copy of webgrad. */
const WEBGRAD_URL = '/dist/index.js';

export interface PageOptions extends TimingOptions {
  /** Source of a RegExp over "op pass shape"; empty runs every row. */
  filter: string;
}

export interface PageResult {
  adapter: string;
  rows: RowResult[];
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
  let rows: RowResult[];
  try {
    rows = await runRows(
      opRows(wg, tf),
      engines,
      options,
      options.filter ? new RegExp(options.filter) : null,
    );
  } finally {
    wg.release();
  }
  return { adapter, rows, table: markdownTable(adapter, rows) };
}
