// RocksDbBackend: the Backend over the npm `rocksdb` binding (leveldown-style callback API,
// N-API prebuilds that load in worker threads). The binding is unmaintained upstream, which is
// why nothing outside this file names it.
//
// What the binding gives us and how we use it:
// - `batch(ops, { sync }, cb)` is one atomic RocksDB WriteBatch; `sync: true` fsyncs RocksDB's
//   own WAL first. The store writes with sync:false (the raft WAL is the durability, see store.ts)
//   and the batch's atomicity keeps data and consistent index together.
// - an iterator reads from an implicit snapshot taken when it is created, and fetches entries in
//   chunks of up to `highWaterMark` bytes per native call;
// - `getProperty` is synchronous, so the size estimate costs no round trip.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { Backend, BackendOp, BackendRange, BackendWriteOptions } from './backend.js';

const require = createRequire(import.meta.url);

/** Bytes an iterator fetches per native call (the binding's highWaterMark). */
const ITERATE_CHUNK_BYTES = 256 * 1024;

type Cb<T = void> = (err: Error | null | undefined, value?: T) => void;

interface NativeIterator {
  next(cb: (err: Error | null | undefined, key?: Buffer, value?: Buffer) => void): void;
  end(cb: Cb): void;
}

interface NativeDb {
  open(opts: Record<string, unknown>, cb: Cb): void;
  close(cb: Cb): void;
  batch(ops: Array<{ type: 'put' | 'del'; key: Buffer; value?: Buffer }>, opts: { sync: boolean }, cb: Cb): void;
  get(key: Buffer, opts: { asBuffer: true; fillCache: boolean }, cb: Cb<Buffer>): void;
  getMany(keys: Buffer[], opts: { asBuffer: true; fillCache: boolean }, cb: Cb<Array<Buffer | undefined>>): void;
  iterator(opts: Record<string, unknown>): NativeIterator;
  getProperty(name: string): string;
}

export interface RocksDbOptions {
  /** RocksDB's block cache size (the binding's `cacheSize`). */
  cacheSizeBytes?: number;
  /** Memtable size before a flush (the binding's `writeBufferSize`). */
  writeBufferSizeBytes?: number;
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function promise<T>(f: (cb: Cb<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    f((err, value) => (err ? reject(err) : resolve(value as T)));
  });
}

export class RocksDbBackend implements Backend {
  private closed = false;

  private constructor(private readonly db: NativeDb, readonly location: string) {}

  /** Opens (creating if missing) the database in directory `location`. */
  static async open(location: string, opts: RocksDbOptions = {}): Promise<RocksDbBackend> {
    const factory = require('rocksdb') as (location: string) => NativeDb;
    const db = factory(location);
    await promise<void>((cb) => db.open({
      createIfMissing: true,
      errorIfExists: false,
      compression: true,
      infoLogLevel: 'error',
      cacheSize: opts.cacheSizeBytes ?? 64 * 1024 * 1024,
      writeBufferSize: opts.writeBufferSizeBytes ?? 64 * 1024 * 1024,
    }, cb));
    return new RocksDbBackend(db, location);
  }

  write(ops: readonly BackendOp[], opts: BackendWriteOptions): Promise<void> {
    assert.ok(!this.closed, 'backend closed');
    const native = ops.map((op) => op.type === 'put'
      ? { type: 'put' as const, key: asBuffer(op.key), value: asBuffer(op.value) }
      : { type: 'del' as const, key: asBuffer(op.key) });
    return promise<void>((cb) => this.db.batch(native, { sync: opts.sync }, cb));
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    assert.ok(!this.closed, 'backend closed');
    try {
      return await promise<Buffer>((cb) => this.db.get(asBuffer(key), { asBuffer: true, fillCache: true }, cb));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  getMany(keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    assert.ok(!this.closed, 'backend closed');
    if (keys.length === 0) return Promise.resolve([]);
    return promise<Array<Buffer | undefined>>((cb) =>
      this.db.getMany(keys.map(asBuffer), { asBuffer: true, fillCache: true }, cb));
  }

  async *iterate(range: BackendRange): AsyncIterable<[Uint8Array, Uint8Array]> {
    assert.ok(!this.closed, 'backend closed');
    const it = this.db.iterator({
      gte: asBuffer(range.gte), lt: asBuffer(range.lt),
      keys: true, values: true, keyAsBuffer: true, valueAsBuffer: true,
      fillCache: false, highWaterMark: ITERATE_CHUNK_BYTES,
    });
    try {
      for (;;) {
        const pair = await new Promise<[Buffer, Buffer] | undefined>((resolve, reject) => {
          it.next((err, key, value) => {
            if (err) reject(err);
            else resolve(key === undefined || value === undefined ? undefined : [key, value]);
          });
        });
        if (pair === undefined) return;
        yield pair;
      }
    } finally {
      await promise<void>((cb) => it.end(cb));
    }
  }

  approximateSizeBytes(): number {
    if (this.closed) return 0;
    const sst = Number(this.db.getProperty('rocksdb.total-sst-files-size'));
    const mem = Number(this.db.getProperty('rocksdb.cur-size-all-mem-tables'));
    return (Number.isFinite(sst) ? sst : 0) + (Number.isFinite(mem) ? mem : 0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await promise<void>((cb) => this.db.close(cb));
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && ((err as { code?: string }).code === 'LEVEL_NOT_FOUND' || /NotFound/i.test(err.message));
}
