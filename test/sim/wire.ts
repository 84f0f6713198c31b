// What crosses the simulated wire: a deep copy of each message (a real transport serializes, so
// the receiver must never share objects, entries or byte arrays with the sender), and a one-line
// rendering of a message for traces.

import assert from 'node:assert/strict';
import { NONE, type Entry, type Message, type Snapshot } from '../../src/raft/types.js';

function cloneEntry(e: Entry): Entry {
  return { term: e.term, index: e.index, type: e.type, data: e.data.slice() };
}

function cloneSnapshot(s: Snapshot): Snapshot {
  const m = s.metadata;
  return {
    metadata: { index: m.index, term: m.term, confState: { voters: [...m.confState.voters], learners: [...m.confState.learners] } },
    data: s.data.slice(),
  };
}

export function cloneMessage(m: Message): Message {
  assert.ok(m.to !== NONE, 'message without a destination');
  const copy: Message = {
    type: m.type, to: m.to, from: m.from, term: m.term, logTerm: m.logTerm, index: m.index,
    entries: m.entries.map(cloneEntry), commit: m.commit, reject: m.reject, rejectHint: m.rejectHint,
    context: m.context.slice(), afterPersist: m.afterPersist,
  };
  if (m.snapshot !== undefined) copy.snapshot = cloneSnapshot(m.snapshot);
  return copy;
}

export function fmtMsg(m: Message): string {
  const parts = [`${m.type} ${m.from}->${m.to} t${m.term}`];
  if (m.type === 'MsgApp' || m.type === 'MsgAppResp' || m.type === 'MsgVote' || m.type === 'MsgPreVote') {
    parts.push(`lt${m.logTerm} i${m.index}`);
  }
  if (m.entries.length > 0) parts.push(`ents ${m.entries[0]?.index}..${m.entries[m.entries.length - 1]?.index}`);
  if (m.commit > 0) parts.push(`c${m.commit}`);
  if (m.reject) parts.push(`REJECT hint ${m.rejectHint}`);
  if (m.snapshot !== undefined) parts.push(`snap ${m.snapshot.metadata.index}:${m.snapshot.metadata.term}`);
  return parts.join(' ');
}
