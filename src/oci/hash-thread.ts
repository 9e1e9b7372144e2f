import { Worker } from 'node:worker_threads';

/**
 * Hashing on a second thread. Verifying a download costs about 0.45 s of CPU per 512 MiB (sha256 through
 * OpenSSL), and on the main thread that time adds straight to the wall clock: the same thread also reads the
 * sockets and writes the files. One worker thread, shared by every large stream, takes the hashing off the
 * main thread; chunks are gathered into 1 MiB buffers (one message each) and at most MAX_IN_FLIGHT bytes wait
 * in the worker, so memory stays bounded whatever the speed of the network. The worker is unref'd whenever no
 * hash is open, so it never keeps the process alive.
 */

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  try {
    if (m.op === 'new') hashes.set(m.id, createHash(m.algorithm));
    else if (m.op === 'data') {
      const h = hashes.get(m.id);
      if (h) h.update(new Uint8Array(m.buf, 0, m.length));
      parentPort.postMessage({ op: 'ack', id: m.id, length: m.length, buf: m.buf }, [m.buf]);
    } else if (m.op === 'end') {
      const h = hashes.get(m.id);
      hashes.delete(m.id);
      parentPort.postMessage({ op: 'digest', id: m.id, hex: h ? h.digest('hex') : '' });
    } else if (m.op === 'drop') hashes.delete(m.id);
  } catch (e) {
    parentPort.postMessage({ op: 'error', id: m.id, message: String(e && e.message || e) });
  }
});
`;

/** Streams at least this large are hashed off the main thread (below it a worker's start-up costs more than it saves). */
export const OFF_THREAD_MIN_SIZE = 16 * 1024 * 1024;
const BATCH = 1024 * 1024;
const MAX_IN_FLIGHT = 4 * 1024 * 1024;
const MAX_SPARE = 16;
const spare: ArrayBuffer[] = [];
const batchBuffer = () => new Uint8Array(spare.pop() ?? new ArrayBuffer(BATCH));

interface Pending {
  inFlight: number;
  waiters: (() => void)[];
  onDigest?: (hex: string) => void;
  onError?: (err: Error) => void;
}

class HashWorker {
  private readonly worker: Worker;
  private readonly open = new Map<number, Pending>();
  private nextId = 1;
  broken?: Error;

  constructor() {
    // A small heap: the worker only holds hash states; the batches it hashes are ArrayBuffers outside the heap.
    this.worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 } });
    this.worker.unref();
    this.worker.on('message', (m: { op: string; id: number; length?: number; buf?: ArrayBuffer; hex?: string; message?: string }) => {
      // Batches come back with their ack and are used again: no garbage per MiB hashed.
      if (m.buf && spare.length < MAX_SPARE) spare.push(m.buf);
      const p = this.open.get(m.id);
      if (!p) return;
      if (m.op === 'ack') {
        p.inFlight -= m.length ?? 0;
        if (p.inFlight <= MAX_IN_FLIGHT / 2) for (const w of p.waiters.splice(0)) w();
      } else if (m.op === 'digest') {
        this.close(m.id);
        p.onDigest?.(m.hex ?? '');
      } else if (m.op === 'error') {
        this.close(m.id);
        p.onError?.(new Error(`hashing thread: ${m.message}`));
      }
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`hashing thread exited (${code})`)));
  }

  private fail(err: Error): void {
    this.broken ??= err;
    for (const [id, p] of [...this.open]) {
      this.close(id);
      for (const w of p.waiters.splice(0)) w();
      p.onError?.(err);
    }
  }

  private close(id: number): void {
    this.open.delete(id);
    if (this.open.size === 0) this.worker.unref();
  }

  start(algorithm: string): number {
    const id = this.nextId++;
    this.open.set(id, { inFlight: 0, waiters: [] });
    this.worker.ref();
    this.worker.postMessage({ op: 'new', id, algorithm });
    return id;
  }

  /** Hands one batch over (transferred, not copied); resolves once the worker has room again. */
  send(id: number, buf: ArrayBuffer, length: number): Promise<void> | undefined {
    const p = this.open.get(id);
    if (!p) return undefined;
    p.inFlight += length;
    this.worker.postMessage({ op: 'data', id, buf, length }, [buf]);
    if (p.inFlight <= MAX_IN_FLIGHT) return undefined;
    return new Promise((resolve) => p.waiters.push(resolve));
  }

  digest(id: number): Promise<string> {
    const p = this.open.get(id);
    if (!p) return Promise.reject(this.broken ?? new Error('hash already finished'));
    return new Promise((resolve, reject) => {
      p.onDigest = resolve;
      p.onError = reject;
      this.worker.postMessage({ op: 'end', id });
    });
  }

  drop(id: number): void {
    const p = this.open.get(id);
    if (!p) return;
    this.close(id);
    for (const w of p.waiters.splice(0)) w();
    this.worker.postMessage({ op: 'drop', id });
  }
}

let shared: HashWorker | undefined;
let unavailable = false;

/** A hash computed on the shared hashing thread: update() may ask the caller to wait (backpressure). */
export class ThreadHash {
  private batch: Uint8Array;
  private used = 0;
  private finished = false;

  private constructor(private readonly worker: HashWorker, private readonly id: number) {
    this.batch = batchBuffer();
  }

  /** A hash on the hashing thread, or undefined when threads are unavailable (the caller hashes in place). */
  static create(algorithm: string): ThreadHash | undefined {
    if (unavailable || process.env.LADING_HASH_THREAD === '0') return undefined;
    try {
      if (!shared || shared.broken) shared = new HashWorker();
      return new ThreadHash(shared, shared.start(algorithm));
    } catch {
      unavailable = true;
      return undefined;
    }
  }

  update(chunk: Uint8Array): Promise<void> | undefined {
    let wait: Promise<void> | undefined;
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, BATCH - this.used);
      this.batch.set(chunk.subarray(offset, offset + n), this.used);
      this.used += n;
      offset += n;
      if (this.used === BATCH) wait = this.flush() ?? wait;
    }
    return wait;
  }

  private flush(): Promise<void> | undefined {
    if (this.used === 0) return undefined;
    const buf = this.batch.buffer as ArrayBuffer;
    const length = this.used;
    this.batch = batchBuffer();
    this.used = 0;
    return this.worker.send(this.id, buf, length);
  }

  async digest(): Promise<string> {
    this.finished = true;
    await this.flush();
    return this.worker.digest(this.id);
  }

  /** Gives up (stream destroyed): the worker forgets this hash. */
  abort(): void {
    if (this.finished) return;
    this.finished = true;
    spare.push(this.batch.buffer as ArrayBuffer);
    this.worker.drop(this.id);
  }
}
