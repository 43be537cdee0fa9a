// withOutDir (src/cli/out_dir.ts): a command that fails leaves no empty output folder behind, keeps what it wrote.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withOutDir } from '../../src/cli/out_dir.js';
import { FileError } from '../../src/index.js';

const work = mkdtempSync(join(tmpdir(), 'webgrad-out-dir-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const fail = () => Promise.reject(new Error('the run failed'));

describe('withOutDir', () => {
  it('removes the folders it made (parents too) when the work fails before writing', async () => {
    const out = join(work, 'a', 'b', 'run');
    await expect(withOutDir('train --out', out, fail)).rejects.toThrow('the run failed');
    expect(existsSync(join(work, 'a'))).toBe(false);
    expect(existsSync(work)).toBe(true);
  });

  it('keeps a folder that existed before, and one the failed work wrote into', async () => {
    const before = join(work, 'existing');
    mkdirSync(before);
    await expect(withOutDir('train --out', before, fail)).rejects.toThrow('the run failed');
    expect(existsSync(before)).toBe(true);
    const out = join(work, 'c', 'run');
    const wrote = () => {
      mkdirSync(join(out, 'features'));
      writeFileSync(join(out, 'features', 'part-0'), 'x');
      return fail();
    };
    await expect(withOutDir('transfer --out', out, wrote)).rejects.toThrow('the run failed');
    expect(existsSync(join(out, 'features', 'part-0'))).toBe(true);
  });

  it('returns the work result and keeps the folder on success; a path under a file is a FileError', async () => {
    const out = join(work, 'ok');
    await expect(withOutDir('train --out', out, () => Promise.resolve(7))).resolves.toBe(7);
    expect(existsSync(out)).toBe(true);
    writeFileSync(join(work, 'file'), '');
    const bad = withOutDir('train --out', join(work, 'file', 'run'), () => Promise.resolve(1));
    await expect(bad).rejects.toBeInstanceOf(FileError);
    await expect(bad).rejects.toThrow(/train --out/);
  });
});
