// The data of a MsgSnap between tetcd members: a dump of the sending member's whole backend (every
// bucket: key history, meta, leases), which the receiver writes in place of its own. raft treats
// it as opaque bytes; the transport streams it in chunks and checks a CRC over all of it.
//
// Layout (big-endian): magic "TSNP" | u8 version (1) | u32 pair count | then per pair:
// u32 key length | key | u32 value length | value. Worked example, one pair "a" -> "xy":
//   54 53 4e 50 | 01 | 00 00 00 01 | 00 00 00 01 61 | 00 00 00 02 78 79
// Decoding refuses anything that does not end exactly at the last pair: a truncated or padded
// dump is a bug or corruption, never something to half-install.

import assert from 'node:assert/strict';

const MAGIC = 0x54534e50; // "TSNP"
const VERSION = 1;
const HEADER_BYTES = 4 + 1 + 4;

export function encodeDump(pairs: ReadonlyArray<readonly [Uint8Array, Uint8Array]>): Uint8Array {
  let size = HEADER_BYTES;
  for (const [k, v] of pairs) size += 8 + k.byteLength + v.byteLength;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(MAGIC, 0);
  out.writeUInt8(VERSION, 4);
  out.writeUInt32BE(pairs.length, 5);
  let at = HEADER_BYTES;
  for (const [k, v] of pairs) {
    out.writeUInt32BE(k.byteLength, at);
    out.set(k, at + 4);
    at += 4 + k.byteLength;
    out.writeUInt32BE(v.byteLength, at);
    out.set(v, at + 4);
    at += 4 + v.byteLength;
  }
  assert.equal(at, size, 'dump size computed and written agree');
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export function decodeDump(data: Uint8Array): Array<[Uint8Array, Uint8Array]> {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.byteLength < HEADER_BYTES || b.readUInt32BE(0) !== MAGIC) throw new Error('snapshot data: not a tetcd store dump');
  if (b.readUInt8(4) !== VERSION) throw new Error(`snapshot data: version ${b.readUInt8(4)}, expected ${VERSION}`);
  const count = b.readUInt32BE(5);
  const pairs: Array<[Uint8Array, Uint8Array]> = [];
  let at = HEADER_BYTES;
  const field = (): Uint8Array => {
    if (at + 4 > b.byteLength) throw new Error('snapshot data: truncated');
    const n = b.readUInt32BE(at);
    if (at + 4 + n > b.byteLength) throw new Error('snapshot data: truncated');
    const out = data.subarray(at + 4, at + 4 + n);
    at += 4 + n;
    return out;
  };
  for (let i = 0; i < count; i++) pairs.push([field(), field()]);
  if (at !== b.byteLength) throw new Error(`snapshot data: ${b.byteLength - at} bytes after the last pair`);
  assert.equal(pairs.length, count);
  return pairs;
}
