// The binary form of a KeyValue in the backend's key bucket (etcd stores a marshalled
// mvccpb.KeyValue there; this is our equivalent, fixed-layout so decoding is a few reads):
//
//   u8  format (1)
//   u32 key length | key bytes
//   u64 create_revision | u64 mod_revision | u64 version | i64 lease
//   value bytes (the rest)
//
// A tombstone record holds the key alone (zero revisions, version and lease, empty value), as
// etcd's does; its revision is in the record's backend key.
import assert from 'node:assert/strict';
import type { KeyValue } from '../api/types.js';
import { readUint64, writeUint64 } from './revision.js';

const KV_FORMAT = 1;
const KV_HEADER_BYTES = 1 + 4;
const KV_FIXED_BYTES = 8 * 4;

export function encodeKeyValue(kv: KeyValue): Uint8Array {
  // allocUnsafe draws small buffers from Node's pool: every byte is written below.
  const out = Buffer.allocUnsafe(KV_HEADER_BYTES + kv.key.length + KV_FIXED_BYTES + kv.value.length);
  out[0] = KV_FORMAT;
  out.writeUInt32BE(kv.key.length, 1);
  out.set(kv.key, KV_HEADER_BYTES);
  let at = KV_HEADER_BYTES + kv.key.length;
  writeUint64(out, at, kv.createRevision);
  writeUint64(out, at + 8, kv.modRevision);
  writeUint64(out, at + 16, kv.version);
  out.writeBigInt64BE(kv.lease, at + 24);
  at += KV_FIXED_BYTES;
  out.set(kv.value, at);
  assert.equal(at + kv.value.length, out.length);
  return out;
}

/** Decodes a record; the result owns copies of its bytes (never views into `b`). */
export function decodeKeyValue(b: Uint8Array): KeyValue {
  assert.ok(b.length >= KV_HEADER_BYTES + KV_FIXED_BYTES && b[0] === KV_FORMAT, 'not a KeyValue record');
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const keyLen = view.getUint32(1);
  let at = KV_HEADER_BYTES + keyLen;
  assert.ok(at + KV_FIXED_BYTES <= b.length, 'KeyValue record truncated');
  const kv: KeyValue = {
    key: b.slice(KV_HEADER_BYTES, at),
    createRevision: readUint64(b, at),
    modRevision: readUint64(b, at + 8),
    version: readUint64(b, at + 16),
    lease: view.getBigInt64(at + 24),
    value: new Uint8Array(0),
  };
  at += KV_FIXED_BYTES;
  kv.value = b.slice(at);
  return kv;
}

export function tombstoneKeyValue(key: Uint8Array): KeyValue {
  return { key, createRevision: 0, modRevision: 0, version: 0, value: new Uint8Array(0), lease: 0n };
}
