// The README tells the truth about the API: every `wg.x` it names exists, every name of its API table is an
// export (or a member of the object the row describes), and its TypeScript examples type-check against the source.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';

const root = resolve(__dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const errorsDoc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');

/** The value at a dotted path below `base`, or undefined where any step is missing. */
function lookup(base: unknown, path: string): unknown {
  let v = base;
  for (const part of path.split('.')) v = v == null ? undefined : (v as Record<string, unknown>)[part];
  return v;
}

/** Every `wg.a.b` path in a text, code blocks and inline code alike. */
function wgPaths(text: string): string[] {
  return [
    ...new Set([...text.matchAll(/\bwg\.([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)/g)].map((m) => m[1])),
  ];
}

/** The fenced blocks of a language, in order. */
function codeBlocks(text: string, lang: string): string[] {
  return [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
}

describe('the README names only what exists', () => {
  it('every wg.x path in the README and docs/errors.md is exported', () => {
    const paths = [...wgPaths(readme), ...wgPaths(errorsDoc)];
    expect(paths.length).toBeGreaterThan(30);
    expect(paths.filter((p) => lookup(wg, p) === undefined)).toEqual([]);
  });

  it('every name in the API table is an export, one of its row namespace, or a member of what the row describes', () => {
    const table = readme.slice(readme.indexOf('| area '), readme.indexOf('## In a browser'));
    const model = wg.resnet({ inputShape: [4, 4, 1], classes: 2, widths: [2], blocks: [1] });
    const owners: Record<string, unknown[]> = {
      // Where a bare name may live besides the package's top level; `t.` names a tensor.
      tensors: [wg.tensor([1], [1])],
      'models (`wg.nn`)': [wg.nn, model],
      optimizers: [new wg.SGD(model.parameters(), { lr: 0.1 })],
      'data (`wg.data`)': [wg.data],
      'files (`wg.io`)': [wg.io],
    };
    const missing: string[] = [];
    let count = 0;
    for (const row of table.split('\n').slice(2)) {
      const [, area, api] = row.split('|').map((c) => c.trim());
      if (!api) continue;
      // Argument names of the row's signatures (`tidy(fn)` ... `fn`), and options in parentheses (`(seed)`), are
      // not API names.
      const args = new Set([...api.matchAll(/`[\w.]+\(([^`]*)\)/g)].flatMap((m) => m[1].match(/\w+/g) ?? []));
      for (const [, before, chunk] of api.matchAll(/(.)`(?:await )?([A-Za-z_][\w.]*)/g)) {
        const name = chunk.replace(/^wg\./, '');
        if (before === '(' || name === 'wg' || name === 'await' || args.has(name)) continue;
        count++;
        const path = name.startsWith('t.') ? name.slice(2) : name;
        const places = [wg, ...(owners[area] ?? [])];
        if (!places.some((p) => lookup(p, path) !== undefined)) missing.push(`${area}: ${name}`);
      }
    }
    expect(count).toBeGreaterThan(60);
    expect(missing).toEqual([]);
  });

  it('checkpoint functions live on wg, not wg.io; assignValues is exported', () => {
    expect(typeof wg.saveCheckpoint).toBe('function');
    expect(typeof wg.loadCheckpoint).toBe('function');
    expect(lookup(wg.io, 'saveCheckpoint')).toBeUndefined();
    expect(typeof wg.assignValues).toBe('function');
    expect(readme).not.toMatch(/wg\.io\.(save|load)Checkpoint/);
  });
});

describe("the README's TypeScript examples type-check against the source", () => {
  it('the tour, the tensor example and the defineOp example compile under strict settings', () => {
    const [tour, tensors, userOp, ...rest] = codeBlocks(readme, 'ts');
    expect(rest).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'webgrad-readme-'));
    try {
      symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
      // The second block continues the first ("model and optimizer as above").
      writeFileSync(join(dir, 'tour.ts'), `${tour}${tensors}export {};\n`);
      // The defineOp example leaves its WGSL text, its helpers and its input to the reader.
      writeFileSync(
        join(dir, 'user_op.ts'),
        `import * as wg from 'webgrad';
declare const SILU_WGSL: string;
declare function n(t: { shape: readonly number[] }): number;
declare function siluGrad(dy: wg.Tensor, x: wg.Tensor): wg.Tensor;
declare const x: wg.Tensor;
${userOp}export {};\n`,
      );
      const [checks] = codeBlocks(errorsDoc, 'ts');
      writeFileSync(join(dir, 'errors_doc.ts'), `import * as wg from 'webgrad';\n${checks}export {};\n`);
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          extends: join(root, 'tsconfig.json'),
          compilerOptions: {
            noEmit: true,
            rootDir: '/',
            module: 'ESNext',
            moduleResolution: 'Bundler',
            paths: { webgrad: [join(root, 'src', 'index.ts')] },
            typeRoots: [join(root, 'node_modules', '@types'), join(root, 'node_modules')],
          },
          include: ['*.ts'],
        }),
      );
      const tsc = spawnSync(
        process.execPath,
        [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir],
        {
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
      expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
