// A JSON reader that accepts, rejects and words its errors exactly like the Go code behind etcd's
// JSON gateway (grpc-gateway v1 + gogo jsonpb + encoding/json), because clients and the compat
// suite see those texts verbatim (`invalid character 'b' looking for beginning of object key
// string`, `unexpected EOF`, ...).
//
// Two Go entry points are imitated, and they differ only at the end of the input:
// - 'decode' is json.Decoder.Decode: the body's first value is read and anything after it is
//   ignored (`{"key":"eA=="} trailing` is fine); input that ends inside a value is `unexpected
//   EOF`; a body with no value at all is reported as `undefined` (grpc-gateway: empty request).
// - 'unmarshal' is json.Unmarshal, which jsonpb applies to the text between the quotes of an
//   int64 given as a string ("limit":" 1" is 1, "limit":"1 2" is an error): trailing data is
//   `after top-level value`, and the end of input acts as one space first (so "-" is `invalid
//   character ' ' in numeric literal`) and then as `unexpected end of JSON input`.
//
// Numbers are kept as their source text (`JsonNumber`): jsonpb parses int64 from the text, so
// `1.0`, `1e2` and 2^63 must stay distinguishable, which JSON.parse cannot do. Objects come back
// with a null prototype, so a `__proto__` key is just a key. Nesting is bounded like Go's.

import assert from 'node:assert/strict';
import { EtcdError } from '../api/errors.js';

/** A JSON number as written in the request. */
export class JsonNumber {
  constructor(readonly raw: string) {
    assert.ok(raw.length > 0, 'a number has text');
  }
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | { [key: string]: JsonValue };

/**
 * Deeper nesting is refused with Go's text. Go's own bound is 10,000, which a recursive reader
 * cannot reach on Node's default stack; no etcd request nests beyond a handful of levels.
 */
export const JSON_NESTING_DEPTH_MAX = 2_000;

type Mode = 'decode' | 'unmarshal';

/** Contexts in which a space is itself an error (so a virtual space at EOF reports it). */
const SPACE_REJECTING = new Set([
  'in numeric literal', 'after decimal point in numeric literal', 'in exponent of numeric literal',
  'in string escape code', 'in \\u hexadecimal character escape',
]);

class GoJsonError extends Error {}

/** Go's quoteChar: a byte as a quoted rune for scanner messages. */
export function goQuoteChar(code: number): string {
  if (code === 0x27) return "'\\''";
  if (code === 0x22) return "'\"'";
  const esc: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 0x5c: '\\\\' };
  if (esc[code] !== undefined) return `'${esc[code]}'`;
  if (code < 0x20 || code === 0x7f) return `'\\x${code.toString(16).padStart(2, '0')}'`;
  if (code < 0x80) return `'${String.fromCharCode(code)}'`;
  // Go sees the first UTF-8 byte of the character and prints it as the rune of that value.
  const first = Buffer.from(String.fromCodePoint(code))[0]!;
  return first < 0xa0 ? `'\\u00${first.toString(16)}'` : `'${String.fromCharCode(first)}'`;
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isHex = (c: number): boolean => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

/** Characters a JSON string may not hold raw, or that need unescaping. */
const STRING_SPECIAL = /["\\\x00-\x1f]/;

class Reader {
  pos = 0;
  depth = 0;
  constructor(readonly text: string, readonly mode: Mode) {}

  peek(): number {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  skipSpace(): void {
    while (this.pos < this.text.length && isSpace(this.text.charCodeAt(this.pos))) this.pos++;
  }

  /** Throws the error Go gives for the character at `pos` (or for the end of input) in `context`. */
  fail(context: string): never {
    if (this.pos >= this.text.length) {
      if (this.mode === 'decode') throw new GoJsonError('unexpected EOF');
      if (SPACE_REJECTING.has(context) || context.startsWith('in literal')) {
        throw new GoJsonError(`invalid character ' ' ${context}`);
      }
      throw new GoJsonError('unexpected end of JSON input');
    }
    throw new GoJsonError(`invalid character ${goQuoteChar(this.text.codePointAt(this.pos)!)} ${context}`);
  }

  value(): JsonValue {
    this.skipSpace();
    const c = this.peek();
    if (c === 0x7b) return this.object();
    if (c === 0x5b) return this.array();
    if (c === 0x22) return this.string();
    if (c === 0x2d || isDigit(c)) return this.number();
    if (c === 0x74) return this.literal('true', true);
    if (c === 0x66) return this.literal('false', false);
    if (c === 0x6e) return this.literal('null', null);
    return this.fail('looking for beginning of value');
  }

  enter(): void {
    this.depth++;
    if (this.depth > JSON_NESTING_DEPTH_MAX) this.fail('exceeded max depth');
  }

  object(): JsonValue {
    this.enter();
    this.pos++; // '{'
    const out: { [key: string]: JsonValue } = Object.create(null);
    this.skipSpace();
    if (this.peek() === 0x7d) {
      this.pos++;
      this.depth--;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.peek() !== 0x22) this.fail('looking for beginning of object key string');
      const key = this.string();
      this.skipSpace();
      if (this.peek() !== 0x3a) this.fail('after object key');
      this.pos++;
      out[key] = this.value();
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c === 0x2c) continue;
      if (c === 0x7d) break;
      this.pos--;
      this.fail('after object key:value pair');
    }
    this.depth--;
    return out;
  }

  array(): JsonValue {
    this.enter();
    this.pos++; // '['
    const out: JsonValue[] = [];
    this.skipSpace();
    if (this.peek() === 0x5d) {
      this.pos++;
      this.depth--;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c === 0x2c) continue;
      if (c === 0x5d) break;
      this.pos--;
      this.fail('after array element');
    }
    this.depth--;
    return out;
  }

  string(): string {
    const start = this.pos; // at the opening quote
    let end = this.text.indexOf('"', start + 1);
    // Fast path: no escapes and no control characters between the quotes.
    if (end > 0 && !STRING_SPECIAL.test(this.text.slice(start + 1, end))) {
      this.pos = end + 1;
      return this.text.slice(start + 1, end);
    }
    this.pos = start + 1;
    for (;;) {
      const c = this.peek();
      if (c === 0x22) break;
      if (c < 0x20) this.fail('in string literal'); // also EOF (-1)
      this.pos++;
      if (c !== 0x5c) continue;
      const e = this.peek();
      if (e === 0x75) {
        this.pos++;
        for (let i = 0; i < 4; i++, this.pos++) if (!isHex(this.peek())) this.fail('in \\u hexadecimal character escape');
        continue;
      }
      if (!'"\\/bfnrt'.includes(String.fromCharCode(e)) || e < 0) this.fail('in string escape code');
      this.pos++;
    }
    end = this.pos;
    this.pos++;
    return JSON.parse(this.text.slice(start, end + 1)) as string;
  }

  number(): JsonNumber {
    const start = this.pos;
    if (this.peek() === 0x2d) {
      this.pos++;
      if (!isDigit(this.peek())) this.fail('in numeric literal');
    }
    if (this.peek() === 0x30) this.pos++;
    else while (isDigit(this.peek())) this.pos++;
    if (this.peek() === 0x2e) {
      this.pos++;
      if (!isDigit(this.peek())) this.fail('after decimal point in numeric literal');
      while (isDigit(this.peek())) this.pos++;
    }
    const e = this.peek();
    if (e === 0x65 || e === 0x45) {
      this.pos++;
      const s = this.peek();
      if (s === 0x2b || s === 0x2d) this.pos++;
      if (!isDigit(this.peek())) this.fail('in exponent of numeric literal');
      while (isDigit(this.peek())) this.pos++;
    }
    return new JsonNumber(this.text.slice(start, this.pos));
  }

  literal<T extends JsonValue>(word: string, value: T): T {
    for (let i = 0; i < word.length; i++, this.pos++) {
      if (this.peek() !== word.charCodeAt(i)) this.fail(`in literal ${word} (expecting '${word[i]}')`);
    }
    return value;
  }

  /** json.Unmarshal: only whitespace may follow the value. */
  endTop(): void {
    this.skipSpace();
    if (this.pos < this.text.length) this.fail('after top-level value');
  }
}

/**
 * The first JSON value of a request body, as Go's json.Decoder reads it; `undefined` when the
 * body holds only whitespace. Throws an InvalidArgument EtcdError with Go's text.
 */
export function decodeBody(text: string): JsonValue | undefined {
  const r = new Reader(text, 'decode');
  r.skipSpace();
  if (r.pos >= text.length) return undefined;
  try {
    // Whatever follows the first value is never looked at (etcd: `12x` is the number 12).
    const v = r.value();
    assert.equal(r.depth, 0, 'every container was closed');
    return v;
  } catch (err) {
    throw asEtcdError(err);
  }
}

/** `text` as Go's json.Unmarshal reads it (a whole-text value; errors with Go's text). */
export function unmarshalText(text: string): JsonValue {
  const r = new Reader(text, 'unmarshal');
  try {
    const v = r.value();
    r.endTop();
    return v;
  } catch (err) {
    throw asEtcdError(err);
  }
}

function asEtcdError(err: unknown): unknown {
  if (err instanceof GoJsonError) return EtcdError.invalidArgument(err.message);
  // A stack overflow on absurd nesting is bad input too, never a 500.
  if (err instanceof RangeError) return EtcdError.invalidArgument("invalid character '[' exceeded max depth");
  return err;
}

/** Go's name for a JSON value's kind in `json: cannot unmarshal X into ...` texts. */
export function goKindOf(v: JsonValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (v instanceof JsonNumber) return 'number';
  return Array.isArray(v) ? 'array' : 'object';
}
