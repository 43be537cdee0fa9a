// One small interface over Node's worker_threads and the browser's Worker: start, post, listen, terminate.

/** Messages between the loader and its workers (see worker.ts). */
export type WorkerMessage = Record<string, unknown> & { type: string };

/** A running worker. */
export interface WorkerHandle {
  /** Posts a message; the buffers in `transfer` move to the worker (no copy) and are detached here. */
  post(message: WorkerMessage, transfer?: ArrayBuffer[]): void;
  /** Sets the one listener called for each message from the worker (replacing the previous one). */
  onMessage(listener: (message: WorkerMessage) => void): void;
  /** Sets the listener called once if the worker dies: an uncaught error, a failed script load, an exit. */
  onFailure(listener: (error: Error) => void): void;
  /** Stops the worker; resolves once it is gone. */
  terminate(): Promise<void>;
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/**
 * Run from the TypeScript sources (tests, tsx), the worker loads worker.ts through tsx's loader, which worker
 * threads do not inherit from the parent: a small bootstrap registers it first.
 */
async function sourceWorker(
  Worker: typeof import('node:worker_threads').Worker,
): Promise<import('node:worker_threads').Worker> {
  const { createRequire } = await import('node:module');
  const { pathToFileURL } = await import('node:url');
  // tsx's 'tsx/esm/api' export (its ESM file: the CommonJS one cannot be imported by URL).
  const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json');
  const tsx = new URL('dist/esm/api/index.mjs', pathToFileURL(tsxPackage)).href;
  const entry = new URL(/* @vite-ignore */ './worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { eval: true });
}

/** Starts a Node worker thread on worker.js next to this file (worker.ts through tsx when run from source). */
async function startNodeWorker(): Promise<WorkerHandle> {
  const { Worker } = await import('node:worker_threads');
  const worker = import.meta.url.endsWith('.ts')
    ? await sourceWorker(Worker)
    : new Worker(new URL('./worker.js', import.meta.url));
  let stopping = false;
  let failed: ((e: Error) => void) | null = null;
  let received: (m: WorkerMessage) => void = () => undefined;
  const fail = (e: Error) => {
    const f = failed;
    failed = null;
    f?.(e);
  };
  worker.on('message', (m: WorkerMessage) => received(m));
  worker.on('error', (e) => fail(e instanceof Error ? e : new Error(String(e))));
  worker.on('exit', (code) => {
    if (!stopping) fail(new Error(`the worker exited unexpectedly (code ${code})`));
  });
  return {
    post: (message, transfer = []) => worker.postMessage(message, transfer),
    onMessage: (listener) => void (received = listener),
    onFailure: (listener) => void (failed = listener),
    terminate: async () => {
      stopping = true;
      await worker.terminate();
    },
  };
}

/** Starts a module Worker in a browser (a bundler sees this exact `new Worker(new URL(...))` and bundles it). */
function startBrowserWorker(): WorkerHandle {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  let failed: ((e: Error) => void) | null = null;
  let received: (m: WorkerMessage) => void = () => undefined;
  const fail = (e: Error) => {
    const f = failed;
    failed = null;
    f?.(e);
  };
  worker.addEventListener('message', (e: MessageEvent) => received(e.data as WorkerMessage));
  worker.addEventListener('error', (e) => {
    e.preventDefault();
    fail(new Error(e.message || 'the worker script failed to load'));
  });
  worker.addEventListener('messageerror', () =>
    fail(new Error('a message from the worker could not be read')),
  );
  return {
    post: (message, transfer = []) => worker.postMessage(message, transfer),
    onMessage: (listener) => void (received = listener),
    onFailure: (listener) => void (failed = listener),
    terminate: async () => worker.terminate(),
  };
}

/** Starts one augmentation worker in Node or in a browser. */
export async function startWorker(): Promise<WorkerHandle> {
  return isNode ? startNodeWorker() : startBrowserWorker();
}

/** The worker's side: messages from its parent and a way to answer (parentPort in Node, `self` in browsers). */
export interface ParentPort {
  post(message: WorkerMessage, transfer?: ArrayBuffer[]): void;
  onMessage(listener: (message: WorkerMessage) => void): void;
}

/** The parent of the current worker. */
export async function parentPort(): Promise<ParentPort> {
  if (isNode) {
    const { parentPort: port } = await import('node:worker_threads');
    if (!port) throw new Error('augment: worker.js runs only as a worker thread');
    return {
      post: (message, transfer = []) => port.postMessage(message, transfer),
      onMessage: (listener) => void port.on('message', listener),
    };
  }
  const scope = globalThis as unknown as {
    postMessage(m: unknown, t: ArrayBuffer[]): void;
    addEventListener(type: 'message', l: (e: MessageEvent) => void): void;
  };
  return {
    post: (message, transfer = []) => scope.postMessage(message, transfer),
    onMessage: (listener) => scope.addEventListener('message', (e) => listener(e.data as WorkerMessage)),
  };
}

/** The default worker count: cores minus one (the main thread drives the GPU), at least 1. */
export async function defaultWorkers(): Promise<number> {
  const cores = isNode
    ? (await import('node:os')).availableParallelism()
    : ((globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1);
  return Math.max(1, cores - 1);
}
