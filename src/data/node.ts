// Node-only file access for the data loaders, imported on first use so browser bundles never load node:*.
import { ArgumentError } from '../errors.js';

/** Reads a whole file. */
export async function readBytes(path: string): Promise<Uint8Array> {
  const fs = await import('node:fs/promises');
  const buffer = await fs.readFile(path);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** A file inside an installed npm package (the package found the way Node's require would). */
export async function packageFile(name: string, relative: string, owner: string): Promise<string> {
  const { createRequire } = await import('node:module');
  const { dirname, join } = await import('node:path');
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
  } catch {
    throw new ArgumentError(`${owner}: the npm package '${name}' is not installed`);
  }
  return join(dir, relative);
}
