// ReadIndex bookkeeping on the leader (etcd's ReadOnlySafe): each readIndex() request records
// the commit index at arrival, then waits until a quorum acknowledges a heartbeat that carries
// its context. Heartbeats always carry the context of the NEWEST pending request, and a quorum
// ack of a newer request confirms all older ones too (leadership was confirmed after they
// arrived), so one heartbeat round confirms a whole batch.
//
// Worked example: requests a, b, c arrive (queue [a b c]); the heartbeat after c carries "c";
// a quorum acks "c" -> a, b and c are all released, in order, each with its own index.

import assert from 'node:assert/strict';
import type { NodeId } from './types.js';

/** Bound on reads waiting for leadership confirmation; beyond it readIndex() is dropped. */
export const PENDING_READ_INDEX_MAX = 65_536;

export interface ReadIndexStatus {
  /** Commit index when the request arrived. */
  index: number;
  /** Who asked (the leader itself, or the follower that forwarded it). */
  from: NodeId;
  ctx: Uint8Array;
  acks: Set<NodeId>;
}

export function ctxKey(ctx: Uint8Array): string {
  return Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString('latin1');
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  /** Keys of `pending`, oldest first. */
  private queue: string[] = [];

  get size(): number {
    return this.queue.length;
  }

  /** Records a request; a duplicate context is ignored (false). */
  addRequest(index: number, from: NodeId, ctx: Uint8Array): boolean {
    const key = ctxKey(ctx);
    if (this.pending.has(key)) return false;
    assert.ok(this.queue.length < PENDING_READ_INDEX_MAX, 'read index queue bound checked by the caller');
    this.pending.set(key, { index, from, ctx, acks: new Set() });
    this.queue.push(key);
    return true;
  }

  /** Records `id`'s ack of `ctx`; returns the acks so far, or undefined for an unknown context. */
  recvAck(id: NodeId, ctx: Uint8Array): Set<NodeId> | undefined {
    const rs = this.pending.get(ctxKey(ctx));
    if (!rs) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /** Releases every request up to and including `ctx` (oldest first). */
  advance(ctx: Uint8Array): ReadIndexStatus[] {
    const key = ctxKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const released = this.queue.slice(0, at + 1).map((k) => this.pending.get(k)!);
    for (const k of this.queue.slice(0, at + 1)) this.pending.delete(k);
    this.queue = this.queue.slice(at + 1);
    assert.equal(this.pending.size, this.queue.length);
    return released;
  }

  /** Context of the newest pending request (what heartbeats carry). */
  lastPendingCtx(): Uint8Array | undefined {
    const k = this.queue[this.queue.length - 1];
    return k === undefined ? undefined : this.pending.get(k)!.ctx;
  }
}
