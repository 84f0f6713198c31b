// Revisions and the backend key layout. A revision is etcd's `{main, sub}` pair: `main` is the
// store revision a write transaction creates (one per txn, however many keys it changes) and `sub`
// numbers the changes inside that txn from 0. Every change of every key is one record in the
// backend's key bucket, keyed by its revision, so the bucket is the store's whole history in
// revision order.
//
// Backend keys (byte order = what an ordered iterate returns; the buckets never interleave
// because each starts with its own prefix byte):
//   key bucket   'k' | main: 8 bytes big-endian | sub: 8 bytes big-endian [| 't' if a tombstone]
//   meta bucket  'm' | name (ASCII)               -> 8-byte big-endian value
// Example: the delete of a key at revision {main: 9, sub: 1} is stored under
//   6b 00000000 00000009 00000000 00000001 74
// and sorts after every record of revision 8 and after {9, 0}, before {10, 0}.
import assert from 'node:assert/strict';

export interface Revision {
  readonly main: number;
  readonly sub: number;
}

export const KEY_BUCKET_PREFIX = 0x6b; // 'k'
export const META_BUCKET_PREFIX = 0x6d; // 'm'
export const TOMBSTONE_MARK = 0x74; // 't'
/** Bytes of a record key without / with the tombstone mark. */
export const REV_KEY_BYTES = 17;
export const REV_KEY_TOMBSTONE_BYTES = 18;

/** Bounds of the key bucket for an ordered iterate: [gte, lt). */
export const KEY_BUCKET_GTE = Uint8Array.of(KEY_BUCKET_PREFIX);
export const KEY_BUCKET_LT = Uint8Array.of(KEY_BUCKET_PREFIX + 1);

const TWO_POW_32 = 2 ** 32;

export function compareRevision(a: Revision, b: Revision): number {
  if (a.main !== b.main) return a.main < b.main ? -1 : 1;
  return a.sub === b.sub ? 0 : a.sub < b.sub ? -1 : 1;
}

export function writeUint64(out: Uint8Array, offset: number, n: number): void {
  assert.ok(Number.isSafeInteger(n) && n >= 0, `not a safe unsigned integer: ${n}`);
  const hi = Math.floor(n / TWO_POW_32);
  const lo = n >>> 0;
  out[offset] = hi >>> 24; out[offset + 1] = (hi >>> 16) & 0xff; out[offset + 2] = (hi >>> 8) & 0xff;
  out[offset + 3] = hi & 0xff;
  out[offset + 4] = lo >>> 24; out[offset + 5] = (lo >>> 16) & 0xff; out[offset + 6] = (lo >>> 8) & 0xff;
  out[offset + 7] = lo & 0xff;
}

export function readUint64(b: Uint8Array, offset: number): number {
  assert.ok(offset + 8 <= b.length, 'uint64 out of bounds');
  const hi = ((b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!) >>> 0;
  const lo = ((b[offset + 4]! << 24) | (b[offset + 5]! << 16) | (b[offset + 6]! << 8) | b[offset + 7]!) >>> 0;
  const n = hi * TWO_POW_32 + lo;
  assert.ok(Number.isSafeInteger(n), 'uint64 beyond 2^53');
  return n;
}

/** The backend key of a record. */
export function revKey(rev: Revision, tombstone: boolean): Uint8Array {
  assert.ok(rev.main > 0 && rev.sub >= 0, `bad revision ${rev.main}/${rev.sub}`);
  const out = new Uint8Array(tombstone ? REV_KEY_TOMBSTONE_BYTES : REV_KEY_BYTES);
  out[0] = KEY_BUCKET_PREFIX;
  writeUint64(out, 1, rev.main);
  writeUint64(out, 9, rev.sub);
  if (tombstone) out[REV_KEY_BYTES] = TOMBSTONE_MARK;
  return out;
}

/** The first backend key after every record of main revisions <= `main` (an exclusive bound). */
export function revKeyAfterMain(main: number): Uint8Array {
  return revKey({ main: main + 1, sub: 0 }, false);
}

export interface ParsedRevKey {
  rev: Revision;
  tombstone: boolean;
}

export function parseRevKey(k: Uint8Array): ParsedRevKey {
  assert.equal(k[0], KEY_BUCKET_PREFIX, 'not a key-bucket key');
  assert.ok(k.length === REV_KEY_BYTES || (k.length === REV_KEY_TOMBSTONE_BYTES && k[REV_KEY_BYTES] === TOMBSTONE_MARK),
    `malformed revision key of ${k.length} bytes`);
  return { rev: { main: readUint64(k, 1), sub: readUint64(k, 9) }, tombstone: k.length === REV_KEY_TOMBSTONE_BYTES };
}

/** A compact map key for a revision (the `available`/keep set of a compaction, the overlay). */
export function revId(main: number, sub: number): string {
  return `${main}.${sub}`;
}

export function metaKey(name: string): Uint8Array {
  const out = new Uint8Array(1 + name.length);
  out[0] = META_BUCKET_PREFIX;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    assert.ok(c < 0x80, 'meta names are ASCII');
    out[1 + i] = c;
  }
  return out;
}

export function encodeMetaValue(n: number): Uint8Array {
  const out = new Uint8Array(8);
  writeUint64(out, 0, n);
  return out;
}

export function decodeMetaValue(b: Uint8Array): number {
  assert.equal(b.length, 8, 'meta values are 8 bytes');
  return readUint64(b, 0);
}
