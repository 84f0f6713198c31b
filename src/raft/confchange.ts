// Membership changes: the ConfChange wire encoding and the pure rule that turns a ConfState plus
// one ConfChange into the next ConfState.
//
// Why ONE change at a time (etcd's v2 ConfChange semantics, no joint consensus): any two
// majorities of configurations that differ by a single voter intersect, so switching the
// configuration when the change entry is APPLIED (not when appended) is safe as long as the
// leader never has two changes in flight. The leader enforces that with pendingConfIndex: a new
// ConfChange proposed while an earlier one is not yet applied is appended as an empty normal entry
// instead (etcd does the same), so the proposer learns it was not applied. Joint consensus would
// allow arbitrary changes in one step but costs two log entries and a second quorum rule
// everywhere; etcd's own server only ever changes one member at a time, so we keep it simple.
//
// Semantics, per type (all idempotent, so re-applying a change after a restart is harmless):
//   AddNode         id not present: add as voter; learner: promote to voter; voter: no-op
//   AddLearnerNode  id not present: add as learner; learner: no-op; voter: no-op (no demotion)
//   RemoveNode      remove from voters or learners; absent: no-op
//   UpdateNode      no-op for raft (the context is for the application)
//
// Encoding of a ConfChange entry's data (big-endian):
//   [0]      type (u8)
//   [1..9)   nodeId (u64)
//   [9..)    context (opaque bytes)

import assert from 'node:assert/strict';
import { ConfChangeType, RaftError } from './types.js';
import type { ConfChange, ConfState, NodeId } from './types.js';

const CC_HEADER_BYTES = 9;
const CC_TYPE_MAX = ConfChangeType.AddLearnerNode;

export function encodeConfChange(cc: ConfChange): Uint8Array {
  assert.ok(cc.nodeId >= 0n && cc.nodeId < 1n << 64n, 'conf change node id must fit in u64');
  const out = new Uint8Array(CC_HEADER_BYTES + cc.context.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, cc.type);
  view.setBigUint64(1, cc.nodeId);
  out.set(cc.context, CC_HEADER_BYTES);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.byteLength < CC_HEADER_BYTES) throw new RaftError('Unavailable', 'raft: conf change entry too short');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const type = view.getUint8(0);
  if (type > CC_TYPE_MAX) throw new RaftError('Unavailable', `raft: unknown conf change type ${type}`);
  const cc: ConfChange = {
    type: type as ConfChangeType,
    nodeId: view.getBigUint64(1),
    context: data.slice(CC_HEADER_BYTES),
  };
  assert.equal(encodeConfChange(cc).byteLength, data.byteLength);
  return cc;
}

/** The configuration after applying `cc` to `cs` (pure; `cs` is not modified). */
export function applyChange(cs: ConfState, cc: ConfChange): ConfState {
  const voters = new Set<NodeId>(cs.voters);
  const learners = new Set<NodeId>(cs.learners);
  assert.ok(cs.voters.every((v) => !learners.has(v)), 'a node is never both voter and learner');
  const id = cc.nodeId;
  switch (cc.type) {
    case ConfChangeType.AddNode:
      learners.delete(id);
      voters.add(id);
      break;
    case ConfChangeType.AddLearnerNode:
      if (!voters.has(id)) learners.add(id);
      break;
    case ConfChangeType.RemoveNode:
      voters.delete(id);
      learners.delete(id);
      break;
    case ConfChangeType.UpdateNode:
      break;
    default:
      throw new RaftError('Unavailable', `raft: unknown conf change type ${String(cc.type)}`);
  }
  const next = { voters: sortIds([...voters]), learners: sortIds([...learners]) };
  assert.ok(next.voters.every((v) => !learners.has(v)), 'a node is never both voter and learner');
  return next;
}

export function sortIds(ids: NodeId[]): NodeId[] {
  return ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function confStateEqual(a: ConfState, b: ConfState): boolean {
  const same = (x: NodeId[], y: NodeId[]): boolean => {
    const sx = sortIds([...x]);
    const sy = sortIds([...y]);
    return sx.length === sy.length && sx.every((v, i) => v === sy[i]);
  };
  return same(a.voters, b.voters) && same(a.learners, b.learners);
}
