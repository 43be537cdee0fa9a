// Bind-group cache: the same pipeline, uniform range and buffers get the same GPUBindGroup (replayed steps).
import type { EncodedDispatch } from './timing.js';

/** Most bind groups kept; past it the oldest go (a step of a big network binds a few hundred). */
const CAPACITY = 4096;

export class BindGroupCache {
  private readonly groups = new Map<string, GPUBindGroup>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  hits = 0;
  misses = 0;

  constructor(private readonly device: GPUDevice) {}

  private id(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }

  /**
   * The bind group of `d` with its uniforms in `ubuf`. Keys use object identity: a buffer, once destroyed, is
   * never bound again (pooled buffers are destroyed only when the engine trims or ends), so no stale group hits.
   */
  get(d: EncodedDispatch, ubuf: GPUBuffer, cached = true): GPUBindGroup {
    if (!cached) return this.create(d, ubuf);
    let key = `${this.id(d.pipeline)}:${this.id(ubuf)}:${d.uniformOffset}:${d.uniformSize}`;
    d.buffers.forEach((b, i) => {
      key += `:${this.id(b)}`;
      const r = d.ranges?.[i];
      if (r) key += `@${r.offset}+${r.size}`;
    });
    let group = this.groups.get(key);
    if (group) {
      this.hits++;
      return group;
    }
    this.misses++;
    group = this.create(d, ubuf);
    if (this.groups.size >= CAPACITY) this.groups.delete(this.groups.keys().next().value!);
    this.groups.set(key, group);
    return group;
  }

  private create(d: EncodedDispatch, ubuf: GPUBuffer): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: { buffer: ubuf, offset: d.uniformOffset, size: d.uniformSize } },
    ];
    // A pooled buffer binds whole unless the op bound a window of it (a tensor larger than one binding).
    d.buffers.forEach((buffer, i) =>
      entries.push({ binding: i + 1, resource: { buffer, ...d.ranges?.[i] } }),
    );
    return this.device.createBindGroup({ layout: d.pipeline.getBindGroupLayout(0), entries });
  }

  clear(): void {
    this.groups.clear();
  }
}
