// The plan as a readable text table, and WEBGRAD_DEBUG: 1 prints a line per flush, 2 its kernels, 3 their WGSL.
import type { Plan, PlanKernel } from './plan.js';

function readDebugLevel(): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const level = Number(env?.WEBGRAD_DEBUG ?? 0);
  return Number.isInteger(level) && level > 0 ? Math.min(level, 3) : 0;
}

/** WEBGRAD_DEBUG as read when webgrad was loaded (0 when unset or not a positive integer). */
export let debugLevel = readDebugLevel();

/** Changes the level for this process (tests, the CLI's --debug). */
export function setDebugLevel(level: number): void {
  debugLevel = level;
}

/** `1234567` → `1.23M`. */
export function fmtCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** Bytes in KiB/MiB. */
export function fmtBytes(n: number): string {
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function nodesCell(k: PlanKernel): string {
  if (k.nodes.length === 0) return '(check)';
  return k.nodes.map((n) => `${n.op}#${n.id}`).join('+');
}

/** Left-aligned text columns; numeric columns right-aligned. */
export function table(
  header: readonly string[],
  rows: readonly string[][],
  numeric: readonly boolean[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** One line: dispatches, nodes, fusions, FLOPs, bytes, memory. */
export function planSummary(p: Plan): string {
  const m = p.memory;
  return (
    `${p.dispatches} kernels for ${p.nodes} nodes (${p.pruned} pruned, ${p.fusions.length} fused; passes: ` +
    `${p.passes.join(', ') || 'none'}), ${fmtCount(p.flops)} FLOPs, read ${fmtBytes(p.bytesRead)}, ` +
    `written ${fmtBytes(p.bytesWritten)}; memory peak ${fmtBytes(p.peakBytes)} (start ${fmtBytes(m.startBytes)}), ` +
    `${m.acquired} buffers handed out, ${m.reused} reused, ${fmtBytes(m.createdBytes)} created`
  );
}

/** The plan as a text table, one kernel a row, then the summary; WGSL after it when the kernels carry it. */
export function formatPlan(p: Plan): string {
  const header = ['#', 'shader', 'variant', 'workgroups', 'nodes', 'flops', 'read', 'written', 'bufs'];
  const rows = p.kernels.map((k) => [
    String(k.index),
    k.shader,
    k.variant,
    String(k.workgroups),
    nodesCell(k),
    fmtCount(k.flops),
    fmtBytes(k.bytesRead),
    fmtBytes(k.bytesWritten),
    String(k.buffers),
  ]);
  const numeric = [true, false, false, true, false, true, true, true, true];
  const parts = [table(header, rows, numeric), planSummary(p)];
  for (const k of p.kernels)
    if (k.wgsl) parts.push(`--- kernel ${k.index}: ${k.shader} ${k.variant}\n${k.wgsl}`);
  return parts.join('\n');
}

/** WEBGRAD_DEBUG output for one flush, on stderr. */
export function printPlan(p: Plan, level: number): void {
  console.error(`[webgrad] flush: ${level >= 2 ? formatPlan(p) : planSummary(p)}`);
}
