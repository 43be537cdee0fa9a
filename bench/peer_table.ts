// The README's peer table from `npm run bench -- --json` files: per workload, each pass's times and ratios.
// Usage: npx tsx bench/peer_table.ts PASS1.json [PASS2.json ...]
import { readFileSync } from 'node:fs';
import type { SuiteRow } from './workloads.js';

interface SuiteFile {
  adapter: string;
  date: string;
  zoo?: string;
  rows: SuiteRow[];
}

/** JSON writes NaN as null; both print as '-'. */
function fixed(v: number | null | undefined, digits: number): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '-';
}

const files = process.argv.slice(2);
if (files.length === 0) throw new Error('usage: npx tsx bench/peer_table.ts PASS1.json [PASS2.json ...]');
const passes = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as SuiteFile);
const names = passes[0].rows.map((r) => r.workload);
const per = (name: string) => passes.map((p) => p.rows.find((r) => r.workload === name));
const join = (values: string[]) => values.join(' / ');

console.log(
  `Adapter: ${passes[0].adapter}. Passes: ${passes.map((p) => p.date).join(', ')}. ` +
    'Each cell: pass 1 / pass 2 / ...; ms are medians per step; tfjs / wg and jax-js / wg are time ratios ' +
    '(above 1: webgrad faster); a target is met when every pass meets it.',
);
console.log('');
console.log('| workload | webgrad ms | tfjs ms | jax-js ms | tfjs / wg | target | jax-js / wg | target |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const name of names) {
  const rows = per(name);
  const cell = (f: (r: SuiteRow) => number | null | undefined, digits: number) =>
    join(rows.map((r) => (r ? fixed(f(r), digits) : '-')));
  const met = (ok: (r: SuiteRow) => boolean) =>
    rows.every((r) => r && !r.error && ok(r)) ? 'met' : 'not met';
  const first = rows[0]!;
  const jaxTarget = first.jax?.target;
  console.log(
    `| ${name} | ${cell((r) => r.webgradMs, 1)} | ${cell((r) => r.tfjsMs, 1)} | ${cell((r) => r.jax?.ms, 1)} | ` +
      `${cell((r) => r.speedup, 2)} | ${first.targetSpeedup}x ${met((r) => r.speedup >= r.targetSpeedup)} | ` +
      `${cell((r) => r.jax?.speedup, 2)} | ` +
      `${jaxTarget ? `${jaxTarget}x ${met((r) => !r.jax?.error && (r.jax?.speedup ?? 0) >= jaxTarget)}` : '-'} |`,
  );
}
const problems = passes.flatMap((p, i) =>
  p.rows.flatMap((r) => [
    ...(r.error ? [`- pass ${i + 1}, ${r.workload}: ${r.error}`] : []),
    ...(r.jax?.error ? [`- pass ${i + 1}, ${r.workload}, jax-js: ${r.jax.error}`] : []),
  ]),
);
if (problems.length > 0) console.log(['', 'Not timed:', ...problems].join('\n'));
