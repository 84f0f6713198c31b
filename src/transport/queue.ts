// The bounded per-peer send queue: encoded frames waiting for their peer's socket to accept
// them. It is bounded both by frame count and by bytes; a frame that does not fit is refused
// (the transport drops it and reports the peer unreachable to raft, as etcd does), so a slow or
// dead peer costs at most `bytesMax` of memory and never delays the other peers.
//
// Each frame remembers when it was queued, so frames that waited too long for a connection that
// never came can be expired (stale raft messages only cost bandwidth once delivered).
//
// Layout: items[head..] are the queued frames, oldest first; the consumed prefix is trimmed when
// it is at least half of the array, so push/shift are amortized O(1).

import assert from 'node:assert/strict';

interface Queued {
  frame: Buffer;
  queuedAtMs: number;
}

export class FrameQueue {
  private items: Queued[] = [];
  private head = 0;
  /** Sum of frame lengths in items[head..]; invariant: <= bytesMax. */
  private queuedBytes = 0;

  constructor(readonly countMax: number, readonly bytesMax: number) {
    assert.ok(countMax > 0 && bytesMax > 0, 'queue bounds must be positive');
  }

  get length(): number { return this.items.length - this.head; }
  get bytes(): number { return this.queuedBytes; }

  fits(frameBytes: number): boolean {
    return this.length < this.countMax && this.queuedBytes + frameBytes <= this.bytesMax;
  }

  push(frame: Buffer, nowMs: number): void {
    assert.ok(this.fits(frame.length), 'push() without fits()');
    this.items.push({ frame, queuedAtMs: nowMs });
    this.queuedBytes += frame.length;
  }

  shift(): Buffer | undefined {
    if (this.head >= this.items.length) return undefined;
    const it = this.items[this.head]!;
    this.items[this.head] = undefined as unknown as Queued; // let the frame be collected
    this.head += 1;
    this.queuedBytes -= it.frame.length;
    if (this.head * 2 >= this.items.length && this.head >= 64) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    assert.ok(this.queuedBytes >= 0);
    return it.frame;
  }

  /** Drops frames queued before `beforeMs`; returns how many were dropped. */
  expire(beforeMs: number): number {
    let n = 0;
    while (this.head < this.items.length && this.items[this.head]!.queuedAtMs < beforeMs) {
      this.shift();
      n += 1;
    }
    return n;
  }

  clear(): number {
    const n = this.length;
    this.items = [];
    this.head = 0;
    this.queuedBytes = 0;
    return n;
  }
}
