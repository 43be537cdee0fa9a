// Keeps docs/ops.md true: its table lists exactly opTable's ops, and every tfjs/jax-js/webgrad name in it exists.
import { readFileSync } from 'node:fs';
import * as jax from '@jax-js/jax';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { opTable } from '../../src/ops/table.js';

const doc = readFileSync(new URL('../../docs/ops.md', import.meta.url), 'utf8');

interface Row {
  name: string;
  webgrad: string;
  tfjs: string;
  jax: string;
}

/** The markdown tables of `md` whose header's first cell starts with `first`, as rows of cells. */
function table(md: string, first: string): Row[] {
  const lines = md.split('\n');
  const start = lines.findIndex((l) => l.startsWith('|') && cells(l)[0].startsWith(first));
  expect(start, `a table headed '${first}'`).toBeGreaterThanOrEqual(0);
  const rows: Row[] = [];
  for (let i = start + 2; i < lines.length && lines[i].startsWith('|'); i++) {
    const [name, webgrad, tfjs, jaxCell, ...rest] = cells(lines[i]);
    expect(rest, `row ${name} has 4 cells`).toEqual([]);
    rows.push({ name: name.replace(/^`|`$/g, ''), webgrad, tfjs, jax: jaxCell });
  }
  return rows;
}

function cells(line: string): string[] {
  return line
    .split('|')
    .slice(1, -1)
    .map((c) => c.trim());
}

/** The `pkg.a.b` names a cell mentions (backticked, starting with one of `prefixes`). */
function names(cell: string, prefix: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]).filter((n) => n.startsWith(`${prefix}.`));
}

/** The value at a dotted path below a module, or undefined. */
function resolve(root: unknown, path: string): unknown {
  let v: unknown = root;
  for (const key of path.split('.').slice(1)) v = (v as Record<string, unknown> | undefined)?.[key];
  return v;
}

/** A function or namespace (tf.train, jax.numpy); `tf.X` with an upper-case X is a kernel name constant. */
function exists(root: unknown, path: string): boolean {
  const last = path.split('.').at(-1)!;
  const v = resolve(root, path);
  if (/^[A-Z]/.test(last) && path.startsWith('tf.')) return v === last;
  return typeof v === 'function' || (typeof v === 'object' && v !== null);
}

const opRows = table(doc, 'op (`opTable`)');
const compositeRows = table(doc, 'function');
const none = (cell: string) => cell.startsWith('—');

describe('docs/ops.md', () => {
  it('lists exactly the ops of opTable, in its order', () => {
    expect(opRows.map((r) => r.name)).toEqual(Object.keys(opTable));
  });

  it('names only functions that webgrad, tfjs and jax-js export', () => {
    const missing: string[] = [];
    for (const r of [...opRows, ...compositeRows]) {
      const wgNames = names(r.webgrad, 'wg');
      if (wgNames.length === 0 && !r.webgrad.startsWith('internal'))
        missing.push(`${r.name}: no wg.… name and not 'internal'`);
      for (const n of wgNames) if (!exists(wg, n)) missing.push(`${r.name}: ${n}`);
      for (const n of names(r.tfjs, 'tf')) if (!exists(tf, n)) missing.push(`${r.name}: ${n}`);
      for (const n of names(r.jax, 'jax')) if (!exists(jax, n)) missing.push(`${r.name}: ${n}`);
      if (!none(r.tfjs) && names(r.tfjs, 'tf').length === 0)
        missing.push(`${r.name}: tfjs cell names nothing`);
      if (!none(r.jax) && names(r.jax, 'jax').length === 0)
        missing.push(`${r.name}: jax-js cell names nothing`);
    }
    expect(missing).toEqual([]);
  });

  it("has no '—' that an export of the op's own name contradicts", () => {
    const wrong: string[] = [];
    for (const r of [...opRows, ...compositeRows]) {
      if (none(r.tfjs) && exists(tf, `tf.${r.name}`)) wrong.push(`tf.${r.name}`);
      for (const ns of ['jax', 'jax.numpy', 'jax.nn', 'jax.lax']) {
        if (none(r.jax) && exists(jax, `${ns}.${r.name}`)) wrong.push(`${ns}.${r.name}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('states counts that add up', () => {
    const m =
      /\*\*(\d+) ops\*\*: (\d+) reached through a public function, (\d+) internal\. tfjs has (\d+) of them, jax-js (\d+)\./.exec(
        doc,
      );
    expect(m, 'the counts line').not.toBeNull();
    const internal = opRows.filter((r) => r.webgrad.startsWith('internal')).length;
    expect(m!.slice(1).map(Number)).toEqual([
      opRows.length,
      opRows.length - internal,
      internal,
      opRows.filter((r) => !none(r.tfjs)).length,
      opRows.filter((r) => !none(r.jax)).length,
    ]);
  });

  it('is linked from the README', () => {
    expect(readFileSync(new URL('../../README.md', import.meta.url), 'utf8')).toContain('docs/ops.md');
  });
});
