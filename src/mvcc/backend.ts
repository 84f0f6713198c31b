// The backend: the small ordered key-value interface the MVCC store persists through (etcd's
// `backend` package over bbolt; ours over RocksDB). It is deliberately narrow (atomic batch
// write, point reads, ordered iteration over a snapshot, a size estimate) so that the npm
// `rocksdb` binding, which is no longer developed upstream, can be swapped for a maintained one
// without touching the store. Keys and values are bytes; order is unsigned byte order.
//
// Consistency rules every implementation keeps:
// - `write` applies its ops atomically, and writes complete in the order they were issued only
//   if the caller waits for one before issuing the next (the store serializes its writes);
// - `iterate` sees the data as of the call (a snapshot): writes that complete while the iterator
//   is being consumed do not show in it;
// - `get`/`getMany` see every write that completed before the call.

export type BackendOp =
  | { type: 'put'; key: Uint8Array; value: Uint8Array }
  | { type: 'del'; key: Uint8Array };

export interface BackendWriteOptions {
  /** Ask the engine to make the batch durable before resolving (fsync). */
  sync: boolean;
}

export interface BackendRange {
  gte: Uint8Array;
  lt: Uint8Array;
}

export interface Backend {
  /** Applies `ops` atomically. */
  write(ops: readonly BackendOp[], opts: BackendWriteOptions): Promise<void>;
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Point reads of several keys, answers in the order asked. */
  getMany(keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>>;
  /** Ascending pairs in [gte, lt) as of the call; break out of the loop to stop early. */
  iterate(range: BackendRange): AsyncIterable<[Uint8Array, Uint8Array]>;
  /** An estimate of the bytes the data takes on disk (or in memory); cheap and synchronous. */
  approximateSizeBytes(): number;
  close(): Promise<void>;
}

/** Byte order compare (what every backend sorts by). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
