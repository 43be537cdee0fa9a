// Size-bucketed pool of storage buffers: released buffers are reused by later allocations of the same bucket.

/**
 * Rounds a byte size up to its bucket: powers of two up to 4 KiB, then four buckets per octave,
 * so a pooled buffer wastes at most a quarter of its size. A bucket never exceeds `max` (the device's
 * largest buffer or binding): a size that fits the device always gets a buffer that does too.
 */
export function bucketSize(bytes: number, max = Infinity): number {
  const n = Math.max(16, Math.ceil(bytes / 4) * 4);
  const step = 2 ** (Math.floor(Math.log2(n)) - 2);
  const bucket = n <= 4096 ? 2 ** Math.ceil(Math.log2(n)) : Math.ceil(n / step) * step;
  return bucket > max ? n : bucket;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  /**
   * The byte size of every buffer this pool created. `GPUBuffer.size` is a call into the WebGPU implementation
   * (Dawn's native binding in Node, about half a microsecond): every node of every step acquires and releases
   * buffers, so the pool remembers the sizes it gave them instead of asking.
   */
  private readonly sizes = new WeakMap<GPUBuffer, number>();
  liveBuffers = 0;
  liveBytes = 0;
  pooledBytes = 0;
  /** Counters for the memory plan (see `resetPlanCounters`): buffers handed out, reused, bytes created, peak. */
  acquired = 0;
  reused = 0;
  createdBytes = 0;
  peakLiveBytes = 0;

  /**
   * @param poison fill every buffer handed out with NaN first (debugging: any kernel that reads memory it did
   * not write, or leaves part of its output unwritten, then shows NaNs instead of passing by luck on zeros).
   */
  constructor(
    private device: GPUDevice,
    private readonly poison = false,
    /** The largest buffer that can be bound whole (min of maxBufferSize and maxStorageBufferBindingSize). */
    private readonly maxBucket = Infinity,
  ) {}

  /**
   * A storage buffer of at least `bytes` bytes, reused from the pool when one of its bucket is free: `prefer`
   * when it is (a replayed flush asks for the buffers its plan had, so its bind groups stay valid).
   */
  acquire(bytes: number, prefer?: GPUBuffer): GPUBuffer {
    const size = bucketSize(bytes, this.maxBucket);
    const list = this.free.get(size);
    let reused: GPUBuffer | undefined;
    const at = prefer && list && this.sizeOf(prefer) === size ? list.lastIndexOf(prefer) : -1;
    if (at >= 0) {
      reused = list![at];
      list![at] = list![list!.length - 1];
      list!.pop();
    } else reused = list?.pop();
    this.liveBuffers++;
    this.liveBytes += size;
    let buffer = reused;
    this.acquired++;
    this.peakLiveBytes = Math.max(this.peakLiveBytes, this.liveBytes);
    if (buffer) {
      this.pooledBytes -= size;
      this.reused++;
    } else {
      this.createdBytes += size;
      buffer = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      this.sizes.set(buffer, size);
    }
    // Queued writes land before the submit that uses the buffer, so the kernels see the NaNs.
    if (this.poison) this.device.queue.writeBuffer(buffer, 0, new Float32Array(size / 4).fill(NaN));
    return buffer;
  }

  /** Starts counting a new memory plan: acquisitions, reuse and the peak from the current live bytes. */
  resetPlanCounters(): void {
    this.acquired = 0;
    this.reused = 0;
    this.createdBytes = 0;
    this.peakLiveBytes = this.liveBytes;
  }

  /** Returns a buffer for reuse; work already submitted that reads it is unaffected (queue order). */
  release(buffer: GPUBuffer): void {
    const size = this.sizeOf(buffer);
    this.liveBuffers--;
    this.liveBytes -= size;
    this.pooledBytes += size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
  }

  /** The byte size of `buffer`: remembered for the pool's own, asked of the buffer for any other. */
  private sizeOf(buffer: GPUBuffer): number {
    return this.sizes.get(buffer) ?? buffer.size;
  }

  /** Destroys every idle buffer (live ones stay with their tensors). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooledBytes = 0;
  }
}
