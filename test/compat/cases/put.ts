// Put cases: revisions and versions of new, overwritten and re-created keys, prev_kv, empty and
// binary values, the ignore_value/ignore_lease rules and their errors, leases that do not exist
// (no lease has been granted, so any non-zero lease id is "requested lease not found"), and the
// request size limit around etcd's default --max-request-bytes of 1.5 MiB.

import { b64, del, post, put, range, type CompatCase } from '../model.js';

const MiB = 1024 * 1024;

export const putCases: CompatCase[] = [
  { name: 'new key', steps: [put('p/new', 'v1'), range('p/new')] },
  { name: 'overwrite bumps version and mod_revision, keeps create_revision', steps: [put('p/ow', 'a'), put('p/ow', 'b'), put('p/ow', 'c'), range('p/ow')] },
  { name: 'prev_kv on a new key', steps: [put('p/pk', 'first', { prev_kv: true })] },
  { name: 'prev_kv on an existing key', steps: [put('p/pk', 'second', { prev_kv: true }), put('p/pk', 'third', { prev_kv: true })] },
  {
    name: 're-created key gets a new create_revision and version 1',
    steps: [put('p/rc', 'one'), put('p/rc', 'two'), del('p/rc'), put('p/rc', 'again', { prev_kv: true }), range('p/rc')],
  },
  { name: 'old generation still readable at its revision', steps: [range('p/rc', { revision: '10' }), range('p/rc', { revision: '11' })] },
  { name: 'empty value', steps: [put('p/empty', ''), range('p/empty'), put('p/novalue'), range('p/novalue')] },
  {
    name: 'binary key and value',
    steps: [
      post('/v3/kv/put', { key: b64(new Uint8Array([0, 1, 0xfe, 0xff])), value: b64(new Uint8Array([0xff, 0, 0x80])) }),
      post('/v3/kv/range', { key: b64(new Uint8Array([0, 1, 0xfe, 0xff])) }),
    ],
  },
  { name: 'empty key', steps: [put('', 'v'), post('/v3/kv/put', { value: b64('v') })] },
  {
    name: 'ignore_value keeps the value and bumps the revision',
    steps: [put('p/iv', 'kept'), put('p/iv', undefined, { ignore_value: true, prev_kv: true }), range('p/iv')],
  },
  { name: 'ignore_value with a value is an error', steps: [put('p/iv', 'new', { ignore_value: true })] },
  { name: 'ignore_value on a missing key', steps: [put('p/missing', undefined, { ignore_value: true })] },
  { name: 'ignore_lease with a lease is an error', steps: [put('p/iv', 'x', { ignore_lease: true, lease: '7' })] },
  { name: 'ignore_lease on an existing key', steps: [put('p/iv', 'y', { ignore_lease: true }), range('p/iv')] },
  { name: 'ignore_lease on a missing key', steps: [put('p/missing2', 'y', { ignore_lease: true })] },
  { name: 'ignore_value and ignore_lease together', steps: [put('p/iv', undefined, { ignore_value: true, ignore_lease: true }), range('p/iv')] },
  { name: 'lease that does not exist', steps: [put('p/lease', 'v', { lease: '12345' }), range('p/lease')] },
  { name: 'lease as a JSON number and negative lease', steps: [put('p/lease', 'v', { lease: 99 }), put('p/lease', 'v', { lease: '-1' })] },
  { name: 'lease 0 means no lease', steps: [put('p/lease0', 'v', { lease: '0' }), range('p/lease0')] },
  {
    name: 'one MiB value is accepted',
    steps: [put('p/big', 'x'.repeat(MiB)), range('p/big', { keys_only: true })],
  },
  {
    name: 'request over 1.5 MiB is too large',
    steps: [put('p/huge', 'x'.repeat(1.5 * MiB + 1024)), range('p/huge')],
  },
  {
    name: 'request over the 2 MiB gRPC receive limit',
    steps: [put('p/huge', 'x'.repeat(2 * MiB + 1024)), range('p/huge')],
  },
];
