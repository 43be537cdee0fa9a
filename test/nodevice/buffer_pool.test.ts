// The buffer pool on a stand-in device: bucket reuse, preferred buffers, and sizes remembered instead of asked.
import { describe, expect, it } from 'vitest';
import { BufferPool, bucketSize } from '../../src/gpu/pool.js';

/** A stand-in GPUDevice whose buffers count how often their `size` is read (a call into Dawn on a real one). */
function fakeDevice() {
  const reads = { size: 0 };
  const device = {
    createBuffer({ size }: { size: number }) {
      return {
        get size() {
          reads.size++;
          return size;
        },
        destroy() {},
      };
    },
  } as unknown as GPUDevice;
  return { device, reads };
}

// Node has no WebGPU globals: the pool only ORs the usage flags together.
(globalThis as { GPUBufferUsage?: unknown }).GPUBufferUsage ??= { STORAGE: 128, COPY_SRC: 4, COPY_DST: 8 };

describe('BufferPool', () => {
  it('gives a released buffer back to its bucket, the preferred one first, without reading its size', () => {
    const { device, reads } = fakeDevice();
    const pool = new BufferPool(device);
    const a = pool.acquire(1000);
    const b = pool.acquire(1000);
    const other = pool.acquire(5000);
    pool.release(a);
    pool.release(b);
    pool.release(other);
    expect(pool.pooledBytes).toBe(2 * bucketSize(1000) + bucketSize(5000));
    // LIFO without a preference; the preferred buffer when it is free in the bucket asked for.
    expect(pool.acquire(1000, a)).toBe(a);
    expect(pool.acquire(1000)).toBe(b);
    // A preferred buffer of another bucket is not handed out for this one.
    pool.release(a);
    expect(pool.acquire(5000, a)).toBe(other);
    expect(pool.acquire(1000, other)).toBe(a);
    expect(pool.liveBuffers).toBe(3);
    expect(reads.size).toBe(0);
  });

  it("takes a buffer it did not create into the bucket of the buffer's own size", () => {
    const { device, reads } = fakeDevice();
    const pool = new BufferPool(device);
    const foreign = device.createBuffer({ size: bucketSize(300), usage: 0 });
    pool.liveBuffers++;
    pool.release(foreign);
    expect(reads.size).toBe(1);
    expect(pool.acquire(300)).toBe(foreign);
  });
});
