// Augmentation worker (worker_threads or browser Worker): fills the batch slots it is sent and sends them back.
import { Augmenter } from './pipeline.js';
import { parentPort, type WorkerMessage } from './pool.js';
import { fillBatch, slotViews, type ImageSource } from './source.js';
import type { AugmentSpec } from './spec.js';

/**
 * Protocol. In: `init` {source, spec, batchSize} once, then `job` {id, seed, epoch, step, indices, buffer} one
 * at a time. Out: `ready` after init; `done` {id, buffer, size, lambda} with the slot moved back; `error`
 * {id, name, message, path?, code?} for a job that failed (the worker stays usable).
 */
// No top-level await: bundlers build workers as classic scripts (vite's default worker format is 'iife').
let source: ImageSource | null = null;
let augmenter: Augmenter | null = null;
let batchSize = 0;

function serve(port: Awaited<ReturnType<typeof parentPort>>): void {
  port.onMessage((message: WorkerMessage) => {
    if (message.type === 'init') {
      source = message.source as ImageSource;
      batchSize = message.batchSize as number;
      const [h, w, c] = source.shape;
      augmenter = new Augmenter(message.spec as AugmentSpec, { h, w, c });
      port.post({ type: 'ready' });
      return;
    }
    if (message.type !== 'job' || !source || !augmenter) return;
    const { id, seed, epoch, step } = message as unknown as {
      id: number;
      seed: number;
      epoch: number;
      step: number;
    };
    const indices = message.indices as Int32Array;
    const buffer = message.buffer as ArrayBuffer;
    fillBatch(
      source,
      augmenter,
      indices,
      { seed, epoch, step },
      slotViews(buffer, batchSize, augmenter.per),
    ).then(
      (lambda) => port.post({ type: 'done', id, buffer, size: indices.length, lambda }, [buffer]),
      (e: unknown) => {
        const err = e as { name?: string; message?: string; path?: string; code?: string };
        port.post(
          {
            type: 'error',
            id,
            buffer,
            name: err?.name ?? 'Error',
            message: err?.message ?? String(e),
            path: err?.path,
            code: err?.code,
          },
          [buffer],
        );
      },
    );
  });
  port.post({ type: 'loaded' });
}

void parentPort().then(serve);
