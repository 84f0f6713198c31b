// Request decoding at the JSON gateway: Go-compatible JSON syntax errors, jsonpb field rules
// (types, int64 in strings, enums, bytes as base64 or arrays, null, unknown fields, both field
// spellings) and Go's base64. Every expected text below was taken from etcd 3.4.23 answering the
// same body on POST /v3/kv/range (curl, 2026-11), unless marked "ours".

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EtcdError } from '../../src/api/errors.js';
import { decodeBase64, encodeBase64 } from '../../src/gateway/base64.js';
import { JSON_NESTING_DEPTH_MAX, JsonNumber, decodeBody, unmarshalText } from '../../src/gateway/gojson.js';
import { parseMessage } from '../../schemas/jsonpb.js';
import { CompareJson, RangeRequestJson, TxnRequestJson } from '../../schemas/kv.js';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof EtcdError, `an EtcdError, got ${String(err)}`);
    assert.equal(err.grpc, 3);
    return err.message;
  }
  assert.fail('expected an error');
}

const rangeOf = (text: string) => parseMessage(RangeRequestJson, decodeBody(text));
const K = '"key":"Zm9v"';

describe('JSON syntax (json.Decoder)', () => {
  const cases: Array<[string, string]> = [
    ['{bad', "invalid character 'b' looking for beginning of object key string"],
    ['{"key":', 'unexpected EOF'],
    ['{"key":"aQ==",', 'unexpected EOF'],
    ['{"key" "aQ=="}', `invalid character '"' after object key`],
    ['}', "invalid character '}' looking for beginning of value"],
    ['[1,', 'unexpected EOF'],
    ['nul', 'unexpected EOF'],
    [`{"key":"Zm9v\t"}`, "invalid character '\\t' in string literal"],
    [`{${K},"x":"\\q"}`, "invalid character 'q' in string escape code"],
    [`{${K},"x":tru}`, "invalid character '}' in literal true (expecting 'e')"],
    [`{${K},"x":1.}`, "invalid character '}' after decimal point in numeric literal"],
    [`{${K} , }`, "invalid character '}' looking for beginning of object key string"],
    [`{${K} , "a"]`, "invalid character ']' after object key"],
    [`{${K},"x":[1 2]}`, "invalid character '2' after array element"],
    [`{${K},"x":{"a":1 "b"}}`, `invalid character '"' after object key:value pair`],
    [`{${K},"x":"\\u12"}`, `invalid character '"' in \\u hexadecimal character escape`],
    [`{${K},"x":-a}`, "invalid character 'a' in numeric literal"],
    [`{${K},"x":1e}`, "invalid character '}' in exponent of numeric literal"],
    [`{${K},"x":01}`, "invalid character '1' after object key:value pair"],
  ];
  for (const [text, message] of cases) {
    it(`${JSON.stringify(text)} -> ${message}`, () => assert.equal(errorOf(() => decodeBody(text)), message));
  }

  it('reads only the first value: trailing data is ignored', () => {
    assert.deepEqual(Object.keys(decodeBody(`{${K}} trailing`) as object), ['key']);
    assert.deepEqual(Object.keys(decodeBody(`{${K}}{}`) as object), ['key']);
    assert.ok(decodeBody('12x') instanceof JsonNumber); // etcd then refuses it as a non-object
  });

  it('an empty or whitespace-only body is no value (an empty request)', () => {
    assert.equal(decodeBody(''), undefined);
    assert.equal(decodeBody(' \n\t'), undefined);
    assert.deepEqual(rangeOf(''), {});
    assert.deepEqual(rangeOf('null'), {}); // etcd: then "key is not provided"
  });

  it('keeps number text exactly and objects prototype-free', () => {
    const v = decodeBody('{"n":9223372036854775807,"__proto__":{"x":1}}') as Record<string, unknown>;
    assert.equal((v.n as JsonNumber).raw, '9223372036854775807');
    assert.equal(Object.getPrototypeOf(v), null);
    assert.ok(Object.hasOwn(v, '__proto__'));
  });

  it('duplicate keys: the last wins', () => {
    assert.equal(encodeBase64(rangeOf('{"key":"bm9wZQ==","key":"aS9r"}').key!), 'aS9r');
  });

  it('bounds nesting like Go instead of overflowing the stack (ours: Go text)', () => {
    const deep = '['.repeat(JSON_NESTING_DEPTH_MAX + 1);
    assert.equal(errorOf(() => decodeBody(deep)), "invalid character '[' exceeded max depth");
    const huge = `{"x":${'['.repeat(200_000)}`;
    assert.match(errorOf(() => decodeBody(huge)), /exceeded max depth/);
  });

  it('json.Unmarshal mode (int64 given as a string)', () => {
    assert.equal(errorOf(() => unmarshalText('')), 'unexpected end of JSON input');
    assert.equal(errorOf(() => unmarshalText('-')), "invalid character ' ' in numeric literal");
    assert.equal(errorOf(() => unmarshalText('1 2')), "invalid character '2' after top-level value");
    assert.equal((unmarshalText(' 1 ') as JsonNumber).raw, '1');
  });
});

describe('jsonpb field rules', () => {
  const cases: Array<[string, string]> = [
    ['[]', 'json: cannot unmarshal array into Go value of type map[string]json.RawMessage'],
    ['"str"', 'json: cannot unmarshal string into Go value of type map[string]json.RawMessage'],
    ['12', 'json: cannot unmarshal number into Go value of type map[string]json.RawMessage'],
    ['true', 'json: cannot unmarshal bool into Go value of type map[string]json.RawMessage'],
    ['{"key":123}', 'json: cannot unmarshal number into Go value of type []uint8'],
    ['{"key":true}', 'json: cannot unmarshal bool into Go value of type []uint8'],
    ['{"key":{"a":1}}', 'json: cannot unmarshal object into Go value of type []uint8'],
    ['{"key":[256]}', 'json: cannot unmarshal number 256 into Go value of type uint8'],
    ['{"key":["a"]}', 'json: cannot unmarshal string into Go value of type uint8'],
    ['{"key":[1.5]}', 'json: cannot unmarshal number 1.5 into Go value of type uint8'],
    [`{${K},"limit":"abc"}`, "invalid character 'a' looking for beginning of value"],
    [`{${K},"limit":1.5}`, 'json: cannot unmarshal number 1.5 into Go value of type int64'],
    [`{${K},"limit":"1.0"}`, 'json: cannot unmarshal number 1.0 into Go value of type int64'],
    [`{${K},"limit":1e2}`, 'json: cannot unmarshal number 1e2 into Go value of type int64'],
    [`{${K},"limit":true}`, 'json: cannot unmarshal bool into Go value of type int64'],
    [`{${K},"limit":"true"}`, 'json: cannot unmarshal bool into Go value of type int64'],
    [`{${K},"revision":[]}`, 'json: cannot unmarshal array into Go value of type int64'],
    [`{${K},"limit":{}}`, 'json: cannot unmarshal object into Go value of type int64'],
    [`{${K},"limit":""}`, 'unexpected end of JSON input'],
    [`{${K},"limit":"1 2"}`, "invalid character '2' after top-level value"],
    [`{${K},"limit":"-"}`, "invalid character ' ' in numeric literal"],
    [`{${K},"limit":"01"}`, "invalid character '1' after top-level value"],
    [`{${K},"limit":"99999999999999999999"}`, 'json: cannot unmarshal number 99999999999999999999 into Go value of type int64'],
    [`{${K},"revision":"-9223372036854775809"}`, 'json: cannot unmarshal number -9223372036854775809 into Go value of type int64'],
    [`{${K},"keys_only":"true"}`, 'json: cannot unmarshal string into Go value of type bool'],
    [`{${K},"count_only":1}`, 'json: cannot unmarshal number into Go value of type bool'],
    [`{${K},"sort_order":"BOGUS"}`, 'unknown value "BOGUS" for enum etcdserverpb.RangeRequest_SortOrder'],
    [`{${K},"sort_target":"SIZE"}`, 'unknown value "SIZE" for enum etcdserverpb.RangeRequest_SortTarget'],
    [`{${K},"sort_order":"1"}`, 'unknown value "1" for enum etcdserverpb.RangeRequest_SortOrder'],
    [`{${K},"sort_order":""}`, 'unknown value "" for enum etcdserverpb.RangeRequest_SortOrder'],
    [`{${K},"sort_order":1.5}`, 'json: cannot unmarshal number 1.5 into Go value of type etcdserverpb.RangeRequest_SortOrder'],
    [`{${K},"sort_order":3000000000}`, 'json: cannot unmarshal number 3000000000 into Go value of type etcdserverpb.RangeRequest_SortOrder'],
    [`{${K},"sort_order":true}`, 'json: cannot unmarshal bool into Go value of type etcdserverpb.RangeRequest_SortOrder'],
    [`{${K},"sort_order":[]}`, 'json: cannot unmarshal array into Go value of type etcdserverpb.RangeRequest_SortOrder'],
    // camelCase wins over snake_case when both are given
    [`{${K},"sortOrder":"BAD","sort_order":"ASCEND"}`, 'unknown value "BAD" for enum etcdserverpb.RangeRequest_SortOrder'],
    // errors come in proto field order, not document order
    [`{${K},"range_end":"***","keysOnly":"x"}`, 'illegal base64 data at input byte 0'],
    ['{"keysOnly":"x","key":"***"}', 'illegal base64 data at input byte 0'],
  ];
  for (const [text, message] of cases) {
    it(`${text} -> ${message}`, () => assert.equal(errorOf(() => rangeOf(text)), message));
  }

  it('accepts what etcd accepts', () => {
    const r = rangeOf(`{${K},"limit":" 1","revision":"null","serializable":null,"sort_order":9,"max_mod_revision":-0,"no_such_field":{"a":[1]}}`);
    assert.equal(r.limit, 1n);
    assert.equal(r.revision, undefined);
    assert.equal(r.serializable, undefined);
    assert.equal(r.sort_order, 9);
    assert.equal(r.max_mod_revision, 0n);
    assert.equal('no_such_field' in r, false);
    assert.equal(rangeOf(`{${K},"limit":"9223372036854775807"}`).limit, 9223372036854775807n);
    assert.equal(rangeOf(`{${K},"limit":-9223372036854775808}`).limit, -9223372036854775808n);
    assert.deepEqual([...rangeOf('{"key":[102,null,111]}').key!], [102, 0, 111]);
    const camel = rangeOf('{"key":"Zm9v","rangeEnd":"AA==","keysOnly":true,"countOnly":false,"minModRevision":"3"}');
    assert.deepEqual([camel.range_end, camel.keys_only, camel.count_only, camel.min_mod_revision], [new Uint8Array([0]), true, false, 3n]);
  });

  it('txn: nested messages and lists', () => {
    const txn = (text: string) => parseMessage(TxnRequestJson, decodeBody(text));
    assert.equal(errorOf(() => txn('{"success":{}}')), 'json: cannot unmarshal object into Go value of type []json.RawMessage');
    assert.equal(errorOf(() => txn('{"success":[1]}')), 'json: cannot unmarshal number into Go value of type map[string]json.RawMessage');
    assert.equal(errorOf(() => txn('{"success":[{"request_range":"x"}]}')), 'json: cannot unmarshal string into Go value of type map[string]json.RawMessage');
    assert.equal(errorOf(() => txn('{"compare":[{"key":"Zm9v","target":"SIZE"}]}')), 'unknown value "SIZE" for enum etcdserverpb.Compare_CompareTarget');
    assert.equal(errorOf(() => txn('{"compare":[{"key":"Zm9v","result":"ABOUT"}]}')), 'unknown value "ABOUT" for enum etcdserverpb.Compare_CompareResult');
    // ours (etcd's order for these is the same: the nested put's lease is the only bad field)
    assert.equal(errorOf(() => txn('{"success":[{"request_txn":{"success":[{"request_put":{"lease":"x"}}]}}]}')), "invalid character 'x' looking for beginning of value");
    const ok = txn('{"compare":[{"key":"Zm9v","createRevision":"5","target":1}],"failure":[null,{"requestDeleteRange":{"key":"Zm9v","prevKv":true}}]}');
    assert.equal(ok.compare?.[0]?.create_revision, 5n);
    assert.deepEqual(ok.failure?.[0], {}); // a null element is an empty op
    assert.equal(ok.failure?.[1]?.request_delete_range?.prev_kv, true);
    assert.deepEqual(parseMessage(CompareJson, decodeBody('{"range_end":"eg==","value":"eQ=="}')).range_end, new Uint8Array([0x7a]));
  });
});

describe('base64 (Go StdEncoding)', () => {
  const errors: Array<[string, number]> = [
    ['!!!', 0], ['aQ=', 3], ['a Q==', 1], ['aQ', 0], ['a-_w', 1], ['not base64!', 3], ['aQ==aQ==', 4], ['a===', 1],
    ['=', 0], ['Zm9vYmFyYm!6', 10], ['Zm9vé', 4],
  ];
  for (const [text, at] of errors) {
    it(`${JSON.stringify(text)} is illegal at byte ${at}`, () =>
      assert.equal(errorOf(() => decodeBase64(text)), `illegal base64 data at input byte ${at}`));
  }

  it('accepts newlines anywhere and unused trailing bits', () => {
    for (const text of ['aS9r\n', 'aS9r\r\n', 'aQ==\n\n', 'aQ=\n=', 'a\nR==']) {
      assert.doesNotThrow(() => decodeBase64(text), text);
    }
    assert.deepEqual([...decodeBase64('aR==')], [0x69]);
    assert.deepEqual([...decodeBase64('a\nS9\rr')], [...Buffer.from('i/k')]);
    assert.deepEqual([...decodeBase64('')], []);
  });

  it('round-trips every length through both encoder paths', () => {
    for (let n = 0; n < 130; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 151 + n) & 0xff);
      const text = encodeBase64(bytes);
      assert.equal(text, Buffer.from(bytes).toString('base64'));
      assert.deepEqual(decodeBase64(text), bytes);
    }
  });
});
