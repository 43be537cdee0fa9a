// wg.explain(fn): records fn (a forward, a training step) without running it and returns its plan.
import { ArgumentError } from '../errors.js';
import { checkOptionKeys } from '../options.js';
import type { Plan } from './plan.js';
import { formatPlan } from './plan_text.js';
import { collectPlans } from './scheduler.js';

export interface ExplainOptions {
  /** Include each kernel's generated WGSL (`kernels[i].wgsl`; default false). */
  wgsl?: boolean;
}

/** The plan of everything `fn` recorded: one Plan per flush it caused (an optimizer step flushes), in order. */
export interface Explanation extends Plan {
  /** The plans of each flush; the top-level fields add them up (kernels renumbered in order). */
  flushes: Plan[];
  /** The readable table of every flush. */
  text: string;
}

/**
 * Plans `fn` without running it: the ops it records, and the flushes it causes, are planned as usual (pruning,
 * fusion, buffers) but never submitted. Work recorded before the call is flushed first, for real. Afterwards
 * nothing of `fn` is pending: values it made cannot be read (DisposedError), and values it would overwrite in
 * place (optimizer updates) keep theirs; host state fn changes is put back (leaf `.grad`, optimizer step counts and
 * state, seeded layers' call counts: src/graph/explain_undo.ts), so explaining a step changes no later step. A read `fn` awaits rejects, since nothing is computed: if `fn` lets
 * that rejection end it (a step that awaits its loss), the plan up to there is returned; code of `fn` after
 * that await does not run.
 */
export async function explain(fn: () => unknown, options: ExplainOptions = {}): Promise<Explanation> {
  checkOptionKeys('explain', options, ['wgsl']);
  if (typeof fn !== 'function') throw new ArgumentError('explain: fn must be a function');
  if (options.wgsl !== undefined && typeof options.wgsl !== 'boolean') {
    throw new ArgumentError(`explain: option 'wgsl' must be a boolean, got ${JSON.stringify(options.wgsl)}`);
  }
  const flushes = await collectPlans(fn, options.wgsl ?? false);
  return combine(flushes);
}

function combine(flushes: Plan[]): Explanation {
  const sum = (f: (p: Plan) => number) => flushes.reduce((s, p) => s + f(p), 0);
  let index = 0;
  const kernels = flushes.flatMap((p) => p.kernels.map((k) => ({ ...k, index: index++ })));
  const peakBytes = Math.max(0, ...flushes.map((p) => p.peakBytes));
  const text = flushes.map((p, i) => `flush ${i + 1} of ${flushes.length}\n${formatPlan(p)}`).join('\n\n');
  return {
    kernels,
    nodes: sum((p) => p.nodes),
    pruned: sum((p) => p.pruned),
    fusions: flushes.flatMap((p) => p.fusions),
    dispatches: kernels.length,
    flops: sum((p) => p.flops),
    bytesRead: sum((p) => p.bytesRead),
    bytesWritten: sum((p) => p.bytesWritten),
    passes: flushes[0]?.passes ?? [],
    memory: {
      peakBytes,
      startBytes: flushes[0]?.memory.startBytes ?? 0,
      acquired: sum((p) => p.memory.acquired),
      reused: sum((p) => p.memory.reused),
      createdBytes: sum((p) => p.memory.createdBytes),
    },
    peakBytes,
    flushes,
    text: text || '(nothing recorded)',
  };
}
