// The output folder of a command: made (and proven writable) before any work, so a bad --out fails in a second,
// and removed again if the command fails before writing anything into it.
import { access, constants, mkdir, readdir, rmdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileError } from '../errors.js';

/**
 * Creates `dir` (and its parents) and checks that files can be written there; a FileError naming `owner`, the
 * path and the system's code otherwise (a path under a file, a read-only file system, no permission). Then runs
 * `work`; if it throws, the folders this call created are removed again while they are still empty (a failed
 * run leaves no empty output folder behind; one it wrote into, e.g. a feature cache, is kept), and the error
 * is rethrown.
 */
export async function withOutDir<T>(owner: string, dir: string, work: () => Promise<T>): Promise<T> {
  let firstCreated: string | undefined;
  try {
    firstCreated = await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (e) {
    throw fileError(owner, dir, e);
  }
  try {
    return await work();
  } catch (e) {
    if (firstCreated !== undefined) await removeEmptyUpTo(resolve(dir), resolve(firstCreated));
    throw e;
  }
}

/** Removes `dir` and its parents up to `top` (inclusive) while each is empty; stops at the first that is not. */
async function removeEmptyUpTo(dir: string, top: string): Promise<void> {
  for (let d = dir; ; d = dirname(d)) {
    try {
      if ((await readdir(d)).length > 0) return;
      await rmdir(d);
    } catch {
      return; // gone already, or not ours to remove: leave it
    }
    if (d === top || dirname(d) === d) return;
  }
}

/** Writes a text file of the output folder; a FileError naming `owner` and the path if it cannot. */
export async function writeOutFile(owner: string, path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text);
  } catch (e) {
    throw fileError(owner, path, e);
  }
}
