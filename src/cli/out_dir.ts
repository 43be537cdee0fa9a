// The output folder of a command: made (and proven writable) before any work, so a bad --out fails in a second.
import { access, constants, mkdir, writeFile } from 'node:fs/promises';
import { fileError } from '../errors.js';

/**
 * Creates `dir` (and its parents) and checks that files can be written there; a FileError naming `owner`, the
 * path and the system's code otherwise (a path under a file, a read-only file system, no permission).
 */
export async function prepareOutDir(owner: string, dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (e) {
    throw fileError(owner, dir, e);
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
