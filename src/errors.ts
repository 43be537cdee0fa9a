// Typed errors: every failure names the op (or component), the argument and what was expected.

/** Base class of every error webgrad throws on purpose. */
export class WebgradError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A shape, rank or dtype does not fit the op. */
export class ShapeError extends WebgradError {}

/** An argument has a wrong value (not a shape problem): a non-finite seed, an unknown option. */
export class ArgumentError extends WebgradError {}

/** A tensor was used after `dispose()`, or after its engine was released. */
export class DisposedError extends WebgradError {}

/** The GPU reported a validation error, ran out of memory, or the device was lost. */
export class GpuError extends WebgradError {}

/** A file (checkpoint, dataset) is truncated, corrupt or not what it claims to be. */
export class FormatError extends WebgradError {}

/** Formats a shape for messages: `[2,3,4]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
