// Browser side of the benchmarks (end-to-end suite or op rows): webgrad's built ESM (dist/), tfjs-backend-webgpu and
// jax-js on the page's navigator.gpu.
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
import { openJax } from './jax_models.js';
import { opRows } from './rows.js';
import { FULL_OPTIONS, QUICK_OPTIONS, rowLine, suiteRows, suiteTable, type SuiteRow } from './workloads.js';
import type { ZooMode } from './zoo_workloads.js';

/** Where the page's server puts webgrad's build; loaded at run time, so the bundle holds no copy of webgrad. */
const WEBGRAD_URL = '/dist/index.js';

export interface PageOptions extends TimingOptions {
  /** 'suite': the end-to-end workloads of `npm run bench`; 'ops': the op rows of `npm run bench:ops`. */
  mode: 'suite' | 'ops';
  /** Suite only: the short run (QUICK_OPTIONS). */
  quick: boolean;
  /** Source of a RegExp over row names ("op pass shape" or the workload); empty runs every row. */
  filter: string;
  /** Suite only: the torchvision zoo workloads at full (224 px) or reduced size, or none. */
  zoo: ZooMode;
  /** Suite only: jax-js as a second peer column. */
  jax: boolean;
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
  const filter = options.filter ? new RegExp(options.filter) : null;
  try {
    if (options.mode === 'suite') {
      const jax = options.jax ? await openJax() : null;
      if (jax) console.log(`jax-js webgpu on ${jax.adapter}`);
      const engines = { wg, tf, jax: jax?.jax ?? null, tfjsDispatches: countTfjsDispatches(tf) };
      // The issue's jax-js target on SwiftShader (the adapter of a browser without a GPU) is 1.5x.
      const jaxTarget = /swiftshader/i.test(adapter) ? 1.5 : null;
      const suite = {
        ...(options.quick ? QUICK_OPTIONS : FULL_OPTIONS),
        filter,
        zoo: options.zoo,
        jaxTarget,
      };
      const rows = await suiteRows(engines, adapter, suite, (r) => console.log(rowLine(r)));
      return { adapter, rows, table: suiteTable(adapter, new Date().toISOString(), rows) };
    }
    const engines = { wg, tf, tfjsDispatches: countTfjsDispatches(tf) };
    const rows = await runRows(opRows(wg, tf), engines, options, filter);
    return { adapter, rows, table: markdownTable(adapter, rows) };
  } finally {
    wg.release();
  }
}
