// Splits a byte stream of concatenated JSON values (`{..}{..}` or one per line) into the text of
// each value, incrementally, as Go's json.Decoder reads a gRPC-gateway streaming request body:
// etcd's watch takes one WatchRequest after another from the same POST body (or WebSocket). The
// splitter only finds value boundaries (brackets, strings, escapes); decoding, with Go's error
// texts, is gojson's job. A non-container token (`garbage`, `12`) ends at whitespace or a bracket.

import assert from 'node:assert/strict';

export class JsonStreamSplitter {
  private buf = '';
  /** Scan position in buf; everything before `start` has been handed out. */
  private pos = 0;
  private start = -1;
  private depth = 0;
  private inString = false;
  private escaped = false;

  /** @param pendingCharsMax bound on one value's text (an unfinished value beyond it throws). */
  constructor(private readonly pendingCharsMax: number) {
    assert.ok(pendingCharsMax > 0);
  }

  /** Feeds a chunk; returns the values it completed, in order. */
  push(chunk: string): string[] {
    this.buf += chunk;
    const out: string[] = [];
    while (this.pos < this.buf.length) {
      const value = this.step();
      if (value !== undefined) out.push(value);
    }
    if (this.start < 0) {
      this.buf = '';
      this.pos = 0;
    } else if (this.start > 0) {
      this.buf = this.buf.slice(this.start);
      this.pos -= this.start;
      this.start = 0;
    }
    if (this.buf.length > this.pendingCharsMax) throw new RangeError(`a request is larger than ${this.pendingCharsMax} characters`);
    return out;
  }

  /** At the end of input: the text of an unfinished value, if any (decoding it gives Go's error). */
  end(): string | undefined {
    if (this.start < 0) return undefined;
    const rest = this.buf.slice(this.start);
    this.buf = '';
    this.start = -1;
    return rest;
  }

  /** Consumes one character; returns a value's text when that character completes it. */
  private step(): string | undefined {
    const c = this.buf[this.pos]!;
    this.pos++;
    if (this.start < 0) {
      if (c === ' ' || c === '\n' || c === '\r' || c === '\t') return undefined;
      this.start = this.pos - 1;
      if (c === '{' || c === '[') this.depth = 1;
      else if (c === '"') this.inString = true;
      else return this.tokenEnd();
      return undefined;
    }
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (c === '\\') this.escaped = true;
      else if (c === '"') {
        this.inString = false;
        if (this.depth === 0) return this.take(this.pos);
      }
      return undefined;
    }
    if (this.depth === 0) {
      this.pos--;
      return this.tokenEnd();
    }
    if (c === '"') this.inString = true;
    else if (c === '{' || c === '[') this.depth++;
    else if (c === '}' || c === ']') {
      this.depth--;
      if (this.depth === 0) return this.take(this.pos);
    }
    return undefined;
  }

  /** A bare token runs to whitespace or a bracket (or the end of what we have so far). */
  private tokenEnd(): string | undefined {
    while (this.pos < this.buf.length && !/[\s{}[\]"]/.test(this.buf[this.pos]!)) this.pos++;
    if (this.pos >= this.buf.length) return undefined;
    return this.take(this.pos);
  }

  private take(endPos: number): string {
    const text = this.buf.slice(this.start, endPos);
    this.start = -1;
    this.depth = 0;
    return text;
  }
}
