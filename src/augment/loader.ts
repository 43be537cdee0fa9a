// Batch loader: N workers fill a bounded ring of preallocated, transferred slots, K batches ahead, in step order.
import { batchIndices, type Dataset } from '../data/dataset.js';
import type { ImageFolderIndex } from '../data/folder.js';
import { ArgumentError, DisposedError, FileError, FormatError, WebgradError } from '../errors.js';
import { checkInteger, checkOptionKeys } from '../options.js';
import { Augmenter } from './pipeline.js';
import { defaultWorkers, startWorker, type WorkerHandle, type WorkerMessage } from './pool.js';
import { fillBatch, memorySource, slotBytes, slotViews, type ImageSource } from './source.js';
import { resolveSpec, type AugmentSpec } from './spec.js';

export interface LoaderOptions {
  batchSize: number;
  /** Passes over the data the loader serves (batches of all epochs come in one stream, prefetched across). */
  epochs: number;
  /** A preset ('standard', 'digits'), the text form, or steps; null or [] for none (default none). */
  augment?: string | AugmentSpec | null;
  /** Worker threads (default: cores minus one, at least 1); 0 fills batches on the calling thread. */
  workers?: number;
  /**
   * Batches the workers fill ahead of the one in use (default 2): the number of preallocated slots. With 0
   * workers nothing runs ahead (one slot, filled when asked for).
   */
  prefetch?: number;
  /** Seed of shuffles and augmentations (default 0). Epoch e is shuffled with seed * 1000 + e, as fit does. */
  seed?: number;
  /** Visit items in a seeded random order (default true). */
  shuffle?: boolean;
}

/** A batch on the host, valid until the next `next()`. Shapes: images [size*H*W*C], labels and mixLabels [size]. */
export interface HostBatch {
  epoch: number;
  step: number;
  size: number;
  images: Float32Array;
  labels: Int32Array;
  /** Second labels (equal to labels unless mixed) and the weight of the first: see Augmenter.mix. */
  mixLabels: Int32Array;
  lambda: number;
}

interface Job {
  id: number;
  epoch: number;
  step: number;
  indices: Int32Array;
}

interface Done {
  buffer: ArrayBuffer;
  size: number;
  lambda: number;
}

/** Rebuilds a worker's error as the typed error it was, naming the worker's job. */
function workerError(m: WorkerMessage, job: Job): Error {
  const text = `augment (epoch ${job.epoch}, step ${job.step}): ${String(m.message)}`;
  switch (m.name) {
    case 'FormatError':
      return new FormatError(text);
    case 'ArgumentError':
      return new ArgumentError(text);
    case 'FileError':
      return new FileError(text, String(m.path), String(m.code));
    default:
      return new WebgradError(`${text} (${String(m.name)} in a worker)`);
  }
}

/**
 * Serves the batches of `epochs` passes over a dataset or a listed image folder, augmented, in order. The batch
 * of (epoch, step) is a pure function of (source, spec, seed, epoch, step): the worker count and timing change
 * speed, never values. Always `close()` it (fit does, also on errors), so no worker outlives the run.
 */
export class BatchLoader {
  readonly stepsPerEpoch: number;
  /** Seconds `next()` spent waiting for a batch that was not ready yet. */
  waitSeconds = 0;
  private readonly total: number;
  private readonly per: number;
  private readonly augmenter: Augmenter;
  private readonly free: ArrayBuffer[] = [];
  private readonly idle: WorkerHandle[] = [];
  private readonly ready = new Map<number, Done>();
  private readonly jobs = new Map<number, Job>();
  private held: ArrayBuffer | null = null;
  private nextJob = 0;
  private cursor = 0;
  private failure: Error | null = null;
  private waiter: (() => void) | null = null;
  private closed = false;
  private indicesCache: { epoch: number; batches: Int32Array[] } | null = null;

  private constructor(
    private readonly source: ImageSource,
    private readonly spec: AugmentSpec,
    private readonly options: Required<LoaderOptions>,
    private readonly workers: WorkerHandle[],
  ) {
    const [h, w, c] = source.shape;
    this.per = h * w * c;
    this.augmenter = new Augmenter(spec, { h, w, c });
    this.stepsPerEpoch = Math.ceil(source.length / options.batchSize);
    this.total = this.stepsPerEpoch * options.epochs;
    const slots = options.workers === 0 ? 1 : options.prefetch;
    for (let i = 0; i < slots; i++) this.free.push(new ArrayBuffer(slotBytes(options.batchSize, this.per)));
  }

  /** Checks the options and the spec, starts the workers and hands each the source (shared, not copied, in Node). */
  static async open(data: Dataset | ImageFolderIndex, options: LoaderOptions): Promise<BatchLoader> {
    checkOptionKeys('BatchLoader', options, [
      'batchSize',
      'epochs',
      'augment',
      'workers',
      'prefetch',
      'seed',
      'shuffle',
    ]);
    checkInteger('BatchLoader', 'batchSize', options.batchSize, 1);
    checkInteger('BatchLoader', 'epochs', options.epochs, 1);
    if (options.workers !== undefined) checkInteger('BatchLoader', 'workers', options.workers, 0);
    if (options.prefetch !== undefined) checkInteger('BatchLoader', 'prefetch', options.prefetch, 1);
    if (data.length === 0) throw new ArgumentError('BatchLoader: the dataset is empty');
    const per = data.shape[0] * data.shape[1] * data.shape[2];
    if (
      !('kind' in data) &&
      (data.images.length !== data.length * per || data.labels.length !== data.length)
    ) {
      throw new ArgumentError(
        `BatchLoader: a dataset of ${data.length} images of shape [${data.shape.join(',')}] needs ${data.length * per} values and ${data.length} labels, got ${data.images.length} and ${data.labels.length}`,
      );
    }
    const spec = options.augment ? resolveSpec(options.augment, data.shape) : [];
    const full: Required<LoaderOptions> = {
      batchSize: options.batchSize,
      epochs: options.epochs,
      augment: spec,
      workers: options.workers ?? (await defaultWorkers()),
      prefetch: options.prefetch ?? 2,
      seed: options.seed ?? 0,
      shuffle: options.shuffle ?? true,
    };
    const source = 'kind' in data ? data : shareable(memorySource(data));
    const started: WorkerHandle[] = [];
    try {
      for (let i = 0; i < full.workers; i++) started.push(await startWorker());
      await Promise.all(started.map((w) => handshake(w, source, spec, full.batchSize)));
    } catch (e) {
      await Promise.all(started.map((w) => w.terminate()));
      throw e instanceof WebgradError
        ? e
        : new WebgradError(`BatchLoader: a worker failed to start (${String(e)})`);
    }
    const loader = new BatchLoader(source, spec, full, started);
    for (const w of started) loader.listen(w);
    loader.pump();
    return loader;
  }

  /**
   * The next batch in order (releasing the previous one's slot for refilling), or null after the last. Throws
   * the first worker error (FormatError naming a corrupt image, ...).
   */
  async next(): Promise<HostBatch | null> {
    if (this.closed) throw new DisposedError('BatchLoader: next() after close()');
    if (this.held) {
      this.free.push(this.held);
      this.held = null;
    }
    if (this.failure) throw this.failure;
    if (this.cursor >= this.total) return null;
    const j = this.cursor;
    const job = this.job(j);
    let done = this.ready.get(j);
    if (!done && this.workers.length === 0) {
      const buffer = this.free.pop()!;
      const key = { seed: this.options.seed, epoch: job.epoch, step: job.step };
      const lambda = await fillBatch(
        this.source,
        this.augmenter,
        job.indices,
        key,
        slotViews(buffer, this.options.batchSize, this.per),
      );
      done = { buffer, size: job.indices.length, lambda };
    }
    if (!done) {
      this.pump();
      const start = performance.now();
      while (!(done = this.ready.get(j)) && !this.failure) await new Promise<void>((r) => (this.waiter = r));
      this.waitSeconds += (performance.now() - start) / 1000;
      if (this.failure) throw this.failure;
    }
    this.ready.delete(j);
    this.cursor++;
    this.held = done!.buffer;
    this.pump();
    const views = slotViews(done!.buffer, this.options.batchSize, this.per);
    const size = done!.size;
    return {
      epoch: job.epoch,
      step: job.step,
      size,
      images: views.images.subarray(0, size * this.per),
      labels: views.labels.subarray(0, size),
      mixLabels: views.mixLabels.subarray(0, size),
      lambda: done!.lambda,
    };
  }

  /** Stops every worker (idempotent); pending next() calls fail with DisposedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failure ??= new DisposedError('BatchLoader: closed');
    this.wake();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  /** Job j of the whole stream: its epoch, step and item indices (one epoch's shuffle computed at a time). */
  private job(j: number): Job {
    const epoch = Math.floor(j / this.stepsPerEpoch) + 1;
    const step = j % this.stepsPerEpoch;
    if (this.indicesCache?.epoch !== epoch) {
      const { batchSize, shuffle, seed } = this.options;
      this.indicesCache = {
        epoch,
        batches: batchIndices(this.source.length, batchSize, { shuffle, seed: seed * 1000 + epoch }),
      };
    }
    return { id: j, epoch, step, indices: this.indicesCache.batches[step] };
  }

  /** Sends jobs to idle workers while there are free slots and jobs left: at most `prefetch` batches ahead. */
  private pump(): void {
    while (!this.failure && this.idle.length > 0 && this.free.length > 0 && this.nextJob < this.total) {
      const job = this.job(this.nextJob++);
      const worker = this.idle.shift()!;
      const buffer = this.free.pop()!;
      this.jobs.set(job.id, job);
      const { seed } = this.options;
      worker.post(
        { type: 'job', id: job.id, seed, epoch: job.epoch, step: job.step, indices: job.indices, buffer },
        [buffer],
      );
    }
  }

  private listen(worker: WorkerHandle): void {
    this.idle.push(worker);
    worker.onMessage((m) => {
      const job = this.jobs.get(m.id as number);
      if (!job) return;
      this.jobs.delete(job.id);
      if (m.type === 'done') {
        this.ready.set(job.id, {
          buffer: m.buffer as ArrayBuffer,
          size: m.size as number,
          lambda: m.lambda as number,
        });
      } else {
        this.failure ??= workerError(m, job);
      }
      // A failed job's slot comes back too and returns to the free list.
      if (m.type !== 'done') this.free.push(m.buffer as ArrayBuffer);
      this.idle.push(worker);
      this.pump();
      this.wake();
    });
    worker.onFailure((e) => {
      this.failure ??= new WebgradError(`BatchLoader: a worker died (${e.message})`);
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}

/** Waits for a new worker's script to load, then sends it the source and the spec and waits for it to be ready. */
function handshake(
  worker: WorkerHandle,
  source: ImageSource,
  spec: AugmentSpec,
  batchSize: number,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    worker.onFailure(reject);
    worker.onMessage((m) => {
      if (m.type === 'loaded') worker.post({ type: 'init', source, spec, batchSize });
      else if (m.type === 'ready') resolve();
    });
  });
}

/**
 * The source with its images in a SharedArrayBuffer where one can be shared (Node; cross-origin-isolated pages),
 * copied there once so every worker reads the same memory; elsewhere unchanged (each worker gets a copy once).
 */
function shareable(source: ImageSource): ImageSource {
  // Without cross-origin isolation a page has no SharedArrayBuffer at all.
  if (source.kind !== 'memory' || typeof SharedArrayBuffer === 'undefined') return source;
  if (source.images.buffer instanceof SharedArrayBuffer) return source;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  if (typeof process === 'undefined' && isolated !== true) return source;
  const images = new Float32Array(new SharedArrayBuffer(source.images.byteLength));
  images.set(source.images);
  return { ...source, images };
}
