// Checks that ride along with a flush: u32 flags written by check kernels, read back with the flush's verdict.
import { NonFiniteError, fmtShape, type WebgradError } from '../errors.js';
import type { Dispatch, GpuRuntime } from '../gpu/runtime.js';
import { splitLimits } from '../ops/split.js';
import { ELEMENTWISE_WG, workgroupsFor } from '../ops/util.js';
import type { Tensor } from './tensor.js';

/** A flag no check kernel has lowered: nothing was found. */
const CLEAR = 0xffffffff;

/** Whether `debug.checkFinite` is on (set by `init({ checkFinite })` or by assigning it). */
export const debug = {
  /**
   * Check the float outputs of every op for NaN and Infinity, and the values of leaves when they are uploaded.
   * The first op (in execution order) that writes one fails the reads of its flush with a NonFiniteError naming
   * it. One extra dispatch per op output and one small readback per flush.
   */
  checkFinite: false,
};

/**
 * The check slots of one flush. Slots are handed out in execution order, so the first slot whose flag changed
 * names the first failing op. The flags buffer is made on the first request, sized for the whole flush.
 */
export class FlushChecks {
  private readonly describers: ((value: number) => WebgradError)[] = [];
  private flags: GPUBuffer | null = null;
  private staging: GPUBuffer | null = null;
  /** A failure found on the host before any kernel ran (a non-finite leaf); it wins over every slot. */
  hostFailure: WebgradError | null = null;

  constructor(
    private readonly runtime: GpuRuntime,
    /** The most slots this flush can use. */
    private readonly capacity: number,
  ) {}

  /** Reserves a slot; `describe` builds the error from the flag's value when a kernel lowered it. */
  slot(describe: (value: number) => WebgradError): { flags: GPUBuffer; slot: number } {
    if (this.describers.length >= this.capacity) {
      throw new Error(`FlushChecks: more than the ${this.capacity} slots planned for this flush`);
    }
    if (!this.flags) {
      const bytes = Math.max(16, this.capacity * 4);
      this.flags = this.runtime.device.createBuffer({
        size: bytes,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      this.runtime.device.queue.writeBuffer(this.flags, 0, new Uint32Array(bytes / 4).fill(CLEAR));
    }
    this.describers.push(describe);
    return { flags: this.flags, slot: this.describers.length - 1 };
  }

  /**
   * The dispatch that flags NaN or Infinity in `t`'s values (bound as `buffer`), written by `op` as `target`
   * (`output 0`, `input 0 (in place)`); `where` says which op of the flush it was.
   */
  finite(op: string, where: string, target: string, t: Tensor, buffer: GPUBuffer): Dispatch[] {
    const { flags, slot } = this.slot((value) => {
      const index = value >>> 1;
      const kind = value & 1 ? 'Infinity' : 'NaN';
      return new NonFiniteError(
        `checkFinite: ${op} ${where} wrote ${kind} to ${target} ${fmtShape(t.shape)} (first at element ${index}); ` +
          'every op before it in this flush wrote finite values',
        op,
        target,
      );
    });
    // One dispatch per window of at most one binding, at aligned offsets (outputs of split ops: ops/split.ts).
    const lim = splitLimits(this.runtime.info.limits);
    const window = Math.max(1, Math.floor(lim.bytes / lim.align)) * (lim.align / 4);
    const dispatches: Dispatch[] = [];
    for (let start = 0; start < t.size; start += window) {
      const n = Math.min(window, t.size - start);
      const whole = start === 0 && n === t.size;
      dispatches.push({
        shader: 'check_finite',
        constants: { WG: ELEMENTWISE_WG },
        uniforms: [n, slot, start],
        buffers: [buffer, flags],
        ranges: whole ? undefined : [{ offset: start * 4, size: n * 4 }, undefined],
        workgroups: workgroupsFor(n),
      });
    }
    return dispatches;
  }

  /** Copies the flags for reading, if any slot was used; call once, before the submit is encoded. */
  copy(): { from: GPUBuffer; to: GPUBuffer; bytes: number } | null {
    if (!this.flags) return null;
    this.staging = this.runtime.device.createBuffer({
      size: this.flags.size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    return { from: this.flags, to: this.staging, bytes: this.flags.size };
  }

  /** After the submit: the first failure, or null. Frees the buffers. */
  async verdict(): Promise<WebgradError | null> {
    const { flags, staging } = this;
    try {
      if (this.hostFailure || !staging) return this.hostFailure;
      await this.runtime.unlessEnded(staging.mapAsync(GPUMapMode.READ));
      const values = new Uint32Array(staging.getMappedRange().slice(0, this.describers.length * 4));
      staging.unmap();
      const first = values.findIndex((v) => v !== CLEAR);
      return first < 0 ? null : this.describers[first](values[first]);
    } finally {
      flags?.destroy();
      staging?.destroy();
    }
  }
}

/** The first non-finite value of host data, as [index, kind], or null. */
export function firstNonFinite(values: Float32Array): [number, 'NaN' | 'Infinity'] | null {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) return [i, Number.isNaN(v) ? 'NaN' : 'Infinity'];
  }
  return null;
}
