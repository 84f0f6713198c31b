// MemoryBackend: a sorted in-memory Backend for unit tests and benchmarks of the store itself.
// Keys live in a B+tree under their latin1 string (string order = byte order); `iterate` walks
// an O(1) copy-on-write clone of the tree, which gives the snapshot semantics Backend promises.
// Every call resolves asynchronously (a microtask later) like a real engine, so tests exercise
// the store's in-flight paths. `failWrites` injects write failures for tests.
import assert from 'node:assert/strict';
import { BTree, compareStrings } from './btree.js';
import type { Backend, BackendOp, BackendRange, BackendWriteOptions } from './backend.js';
import { keyBytes, keyString } from './tree-index.js';


export class MemoryBackend implements Backend {
  private tree: BTree<string, Uint8Array> = new BTree<string, Uint8Array>(undefined, compareStrings);
  private sizeBytes = 0;
  private closed = false;
  /** Writes issued so far (tests check batching). */
  writeCount = 0;
  /** When set, the next writes reject with this error (fault injection for tests). */
  failWrites: Error | undefined = undefined;

  async write(ops: readonly BackendOp[], _opts: BackendWriteOptions): Promise<void> {
    await Promise.resolve();
    assert.ok(!this.closed, 'backend closed');
    if (this.failWrites !== undefined) throw this.failWrites;
    this.writeCount++;
    for (const op of ops) {
      const k = keyString(op.key);
      const old = this.tree.get(k);
      if (old !== undefined) this.sizeBytes -= k.length + old.length;
      if (op.type === 'put') {
        this.tree.set(k, op.value.slice());
        this.sizeBytes += k.length + op.value.length;
      } else {
        this.tree.delete(k);
      }
    }
    assert.ok(this.sizeBytes >= 0);
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    await Promise.resolve();
    assert.ok(!this.closed, 'backend closed');
    return this.tree.get(keyString(key))?.slice();
  }

  async getMany(keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    await Promise.resolve();
    assert.ok(!this.closed, 'backend closed');
    return keys.map((k) => this.tree.get(keyString(k))?.slice());
  }

  async *iterate(range: BackendRange): AsyncIterable<[Uint8Array, Uint8Array]> {
    assert.ok(!this.closed, 'backend closed');
    const snapshot = this.tree.clone();
    const lt = keyString(range.lt);
    for (const [k, v] of snapshot.entries(keyString(range.gte))) {
      if (k >= lt) return;
      await Promise.resolve();
      yield [keyBytes(k), v.slice()];
    }
  }

  approximateSizeBytes(): number {
    return this.sizeBytes;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Reopens after close() with the same data (a restart, for tests). */
  reopen(): MemoryBackend {
    const next = new MemoryBackend();
    next.tree = this.tree.clone();
    next.sizeBytes = this.sizeBytes;
    return next;
  }
}
