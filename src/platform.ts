// Node detection for the helpers that need a file system or installed packages (they refuse in a browser).
import { PlatformError } from './errors.js';

/** Throws PlatformError naming `op` unless this is Node.js (a browser, a worker or Deno without Node APIs). */
export function requireNode(op: string): void {
  const versions = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions;
  if (typeof versions?.node !== 'string') throw new PlatformError(op);
}
