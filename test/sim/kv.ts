// The per-node state machine of the simulation: a tiny key-value map fed by committed entries
// ("key=value" commands), with a running digest of everything applied so far. The digest lets the
// checker compare two nodes' states at the same index in O(1), and lets a snapshot prove that it
// carries exactly the state of the history up to its index. The state is volatile: after a crash
// it is rebuilt from the stable snapshot and the committed log, like a real member without a
// durable backend.

import assert from 'node:assert/strict';
import type { ConfState, Entry } from '../../src/raft/types.js';
import type { Fingerprint } from './checker.js';

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

/** The content identity of an entry: type plus data (the term is not content). */
export function fingerprint(e: Entry): Fingerprint {
  return `${e.type}:${Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString('latin1')}`;
}

/** FNV-1a over a string, chained from `h`. */
function chain(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export const DIGEST_EMPTY = 0x811c9dc5;

interface KvSnapshotData {
  kv: [string, string][];
  digest: number;
  applied: number;
}

export class KvStateMachine {
  readonly kv = new Map<string, string>();
  /** Index of the last applied entry; invariant: every index up to it was applied exactly once. */
  applied: number;
  digest: number;
  confState: ConfState;

  constructor(applied: number, digest: number, confState: ConfState) {
    assert.ok(applied >= 0);
    this.applied = applied;
    this.digest = digest;
    this.confState = confState;
  }

  /** Applies one entry's command; the caller applies conf changes to the core. */
  apply(e: Entry): void {
    assert.equal(e.index, this.applied + 1, `apply out of order: ${e.index} after ${this.applied}`);
    if (e.type === 0 && e.data.byteLength > 0) {
      const cmd = textDecoder.decode(e.data);
      const eq = cmd.indexOf('=');
      assert.ok(eq > 0, `malformed command ${cmd}`);
      this.kv.set(cmd.slice(0, eq), cmd.slice(eq + 1));
    }
    this.digest = chain(this.digest, fingerprint(e));
    this.applied = e.index;
  }

  snapshotData(): Uint8Array {
    const data: KvSnapshotData = { kv: [...this.kv.entries()], digest: this.digest, applied: this.applied };
    return textEncoder.encode(JSON.stringify(data));
  }

  static restore(bytes: Uint8Array, index: number, confState: ConfState): KvStateMachine {
    // No data: the empty log, or the bootstrap snapshot (index 1, no entries applied before it).
    if (bytes.byteLength === 0) {
      assert.ok(index <= 1, `empty snapshot data at index ${index}`);
      return new KvStateMachine(index, DIGEST_EMPTY, confState);
    }
    const data = JSON.parse(textDecoder.decode(bytes)) as KvSnapshotData;
    assert.equal(data.applied, index, `snapshot data taken at ${data.applied} but labelled ${index}`);
    const sm = new KvStateMachine(index, data.digest, confState);
    for (const [k, v] of data.kv) sm.kv.set(k, v);
    return sm;
  }
}

export function encodeCommand(key: string, value: string): Uint8Array {
  return textEncoder.encode(`${key}=${value}`);
}
