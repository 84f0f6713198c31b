// One-line text forms of raft records, for transcripts (test/raft/testdata), logs and debugging:
//   1->2 MsgApp Term:1 Log:1/3 Commit:3 Entries:[1/4 EntryNormal "x"]
//   2->1 MsgAppResp Term:1 Log:0/4 Rejected (Hint: 2)
// Entries are term/index; data is shown as a quoted string when printable, else as hex.

import { decodeConfChange } from './confchange.js';
import { EntryType } from './types.js';
import type { ConfChange, ConfState, Entry, HardState, Message, Snapshot } from './types.js';

const CC_NAMES = ['AddNode', 'RemoveNode', 'UpdateNode', 'AddLearnerNode'];
const decoder = new TextDecoder();

export function describeBytes(b: Uint8Array): string {
  const printable = b.every((c) => c >= 0x20 && c < 0x7f && c !== 0x22);
  return printable ? `"${decoder.decode(b)}"` : `0x${Buffer.from(b).toString('hex')}`;
}

export function describeConfChange(cc: ConfChange): string {
  return `${CC_NAMES[cc.type] ?? String(cc.type)} ${cc.nodeId}`;
}

export function describeEntry(e: Entry): string {
  if (e.type === EntryType.ConfChange) return `${e.term}/${e.index} EntryConfChange ${describeConfChange(decodeConfChange(e.data))}`;
  return `${e.term}/${e.index} EntryNormal ${describeBytes(e.data)}`;
}

export function describeConfState(cs: ConfState): string {
  const l = cs.learners.length > 0 ? ` Learners:[${cs.learners.join(' ')}]` : '';
  return `Voters:[${cs.voters.join(' ')}]${l}`;
}

export function describeSnapshot(s: Snapshot): string {
  return `Index:${s.metadata.index} Term:${s.metadata.term} ConfState:${describeConfState(s.metadata.confState)}`;
}

export function describeHardState(hs: HardState): string {
  return `Term:${hs.term} Vote:${hs.vote} Commit:${hs.commit}`;
}

export function describeMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${m.type} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) s += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0) s += ` Commit:${m.commit}`;
  if (m.entries.length > 0) s += ` Entries:[${m.entries.map(describeEntry).join(', ')}]`;
  if (m.context.byteLength > 0) s += ` Context:${describeBytes(m.context)}`;
  if (m.snapshot !== undefined) s += ` Snapshot: ${describeSnapshot(m.snapshot)}`;
  return s;
}
