// Bad input cases: what the JSON gateway answers to malformed JSON, wrong JSON types, invalid
// base64, unknown enum names, integers out of range, empty keys, missing or empty bodies, other
// content types, unknown routes and wrong methods. These pin the exact HTTP status, gRPC code and
// message text (etcd's messages come from Go's encoding/json and encoding/base64).

import { b64, post, put, raw, type CompatCase, type HttpStep } from '../model.js';

const RANGE = '/v3/kv/range';
const KEY = b64('i/k');

/** A range request whose JSON text is exactly `text`. */
const rangeRaw = (text: string): HttpStep => raw(RANGE, text);

const KV_ROUTES = ['/v3/kv/range', '/v3/kv/put', '/v3/kv/deleterange', '/v3/kv/txn', '/v3/kv/compaction'];

export const inputCases: CompatCase[] = [
  { name: 'seed', steps: [put('i/k', 'v')] },
  { name: 'malformed JSON', steps: [rangeRaw('{bad'), rangeRaw('{"key":'), rangeRaw('{"key":"aQ==",'), rangeRaw('{"key" "aQ=="}'), rangeRaw('}')] },
  { name: 'non-object JSON bodies', steps: [rangeRaw('[]'), rangeRaw('"str"'), rangeRaw('12'), rangeRaw('true'), rangeRaw('null')] },
  { name: 'trailing data after the object', steps: [rangeRaw(`{"key":"${KEY}"} trailing`), rangeRaw(`{"key":"${KEY}"}{}`)] },
  { name: 'whitespace-only body', steps: [rangeRaw('   '), rangeRaw('\n')] },
  {
    name: 'wrong type for bytes fields',
    steps: [post(RANGE, { key: 123 }), post(RANGE, { key: true }), post(RANGE, { key: [1, 2] }), post(RANGE, { key: { a: 1 } }), post(RANGE, { key: null })],
  },
  {
    name: 'wrong type for int64 fields',
    steps: [
      post(RANGE, { key: KEY, limit: 'abc' }), post(RANGE, { key: KEY, limit: 1.5 }), post(RANGE, { key: KEY, limit: true }),
      post(RANGE, { key: KEY, revision: [] }), post(RANGE, { key: KEY, limit: '' }), post(RANGE, { key: KEY, limit: ' 1' }),
    ],
  },
  { name: 'int64 out of range', steps: [post(RANGE, { key: KEY, limit: '99999999999999999999' }), post(RANGE, { key: KEY, revision: '-9223372036854775809' })] },
  { name: 'wrong type for bool fields', steps: [post(RANGE, { key: KEY, keys_only: 'true' }), post(RANGE, { key: KEY, count_only: 1 }), post(RANGE, { key: KEY, serializable: null })] },
  {
    name: 'invalid base64',
    steps: [post(RANGE, { key: '!!!' }), post(RANGE, { key: 'aQ=' }), post(RANGE, { key: 'a Q==' }), post(RANGE, { key: KEY, range_end: '***' }), put('i/k', undefined, { value: 'not base64!' })],
  },
  { name: 'base64 without padding and URL-safe alphabet', steps: [post(RANGE, { key: 'aS9r' }), post(RANGE, { key: 'aQ' }), post(RANGE, { key: 'a-_w' })] },
  { name: 'base64 with a trailing newline', steps: [post(RANGE, { key: `${KEY}\n` }), post(RANGE, { key: `${KEY}\r\n` })] },
  {
    name: 'unknown enum names and out-of-range enum numbers',
    steps: [post(RANGE, { key: KEY, sort_order: 'BOGUS' }), post(RANGE, { key: KEY, sort_target: 'SIZE' }), post(RANGE, { key: KEY, sort_order: 9 }), post(RANGE, { key: KEY, sort_order: '1' })],
  },
  { name: 'unknown fields are ignored', steps: [post(RANGE, { key: KEY, no_such_field: 1, nested: { a: [1] } })] },
  { name: 'camelCase field names', steps: [post(RANGE, { key: KEY, rangeEnd: b64('\0'), keysOnly: true, countOnly: false })] },
  { name: 'duplicate JSON keys: the last wins', steps: [rangeRaw(`{"key":"${b64('nope')}","key":"${KEY}"}`)] },
  { name: 'empty key on every KV route', steps: [post(RANGE, { key: '' }), post('/v3/kv/put', { key: '', value: b64('v') }), post('/v3/kv/deleterange', { key: '' })] },
  { name: 'missing body on every KV route', steps: KV_ROUTES.map((path) => ({ path })) },
  { name: 'empty object on every KV route', steps: KV_ROUTES.map((path) => post(path, {})) },
  {
    name: 'content types other than JSON',
    steps: [
      raw(RANGE, `{"key":"${KEY}"}`, { headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      raw(RANGE, `{"key":"${KEY}"}`, { headers: { 'content-type': 'text/plain' } }),
      raw(RANGE, `{"key":"${KEY}"}`, { headers: { 'content-type': '' } }),
    ],
  },
  { name: 'body that is not UTF-8', steps: [raw(RANGE, new Uint8Array([0x7b, 0x22, 0x6b, 0x65, 0x79, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]))] },
  // Reads are not raft proposals, so only the gRPC receive limit (1.5 MiB + 512 KiB) applies.
  { name: 'range with a 1.6 MiB key is allowed', steps: [post(RANGE, { key: b64('x'.repeat(1.6 * 1024 * 1024)) })] },
  { name: 'range over the 2 MiB gRPC receive limit', steps: [post(RANGE, { key: b64('x'.repeat(3 * 1024 * 1024)) })] },
  {
    name: 'unknown routes',
    steps: [post('/v3/nope', {}), post('/v3/kv', {}), post('/v3/kv/', {}), post('/v3/kv/range/extra', {}), post('/nope', {}), { method: 'GET', path: '/' }],
  },
  {
    name: 'wrong methods',
    steps: [
      { method: 'GET', path: RANGE }, { method: 'PUT', path: RANGE, body: { key: KEY } }, { method: 'DELETE', path: '/v3/kv/deleterange' },
      { method: 'PATCH', path: '/v3/kv/put', body: {} }, { method: 'GET', path: '/v3/kv/txn' },
    ],
  },
  { name: 'health', steps: [{ method: 'GET', path: '/health' }] },
  { name: 'nothing above changed the store', steps: [post(RANGE, { key: b64('\0'), range_end: b64('\0') })] },
];
