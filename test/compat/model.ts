// The vocabulary of the compatibility suite: a case is a named sequence of steps sent to two
// servers (real etcd, the reference, and the candidate, tetcd), and what a step observed. Cases
// carry no expected values: etcd's answer is the expectation, so a case is only as good as the
// request sequence it sends. Case files (`cases/*.ts`) import from here, never from the runner.
//
// `Step` is a union so that later issues can add step kinds (watch streams: open, read N
// messages, close; lease keep-alives) next to `http` without touching existing cases; the runner
// switches on `kind` exhaustively.

/** Any JSON value, as parsed. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What a step saw, before or after normalization. */
export interface Observation {
  /** HTTP status; 0 when the request failed at the transport level (see `body`). */
  status: number;
  /** The media type only (`application/json`), or '' when absent; parameters are not compared. */
  contentType: string;
  /** Parsed JSON when the body is JSON, else the text as is. */
  body: Json | string;
}

/** Passed to dynamic bodies: what this same server answered earlier in this case. */
export interface StepContext {
  /** Raw (not normalized) observations of the earlier steps of this case, in order. */
  readonly results: readonly Observation[];
}

export interface HttpStep {
  kind?: 'http';
  /** Shown in failure messages. */
  note?: string;
  /** POST unless given. */
  method?: string;
  /** Path with a leading slash, e.g. `/v3/kv/range`. */
  path: string;
  /** JSON-encoded and sent; a function builds it from earlier answers (lease ids, revisions). */
  body?: Json | ((ctx: StepContext) => Json);
  /** Bytes sent exactly as given (malformed JSON); wins over `body`. */
  raw?: string | Uint8Array;
  /** Request headers; `content-type: application/json` is sent with a body unless overridden. */
  headers?: Record<string, string>;
  /**
   * Extra paths removed from the JSON answer before comparing, for values that legitimately
   * differ between servers (lease ids are random). Dot-separated; `*` matches any key or index:
   * `ID`, `kvs.*.lease`.
   */
  ignore?: string[];
}

/**
 * Opens a long-lived streaming request (`POST /v3/watch`, lease keep-alive) under a name that
 * later steps use. Records the status and media type once the response headers arrive.
 */
export interface StreamOpenStep {
  kind: 'stream-open';
  note?: string;
  stream: string;
  path: string;
  body?: Json | ((ctx: StepContext) => Json);
}

/**
 * Reads the next `count` newline-delimited JSON messages of an open stream (fewer if none come
 * within the wait: the shortfall then shows as a difference). Records them as a JSON array.
 */
export interface StreamReadStep {
  kind: 'stream-read';
  note?: string;
  stream: string;
  count: number;
  /** How long to wait for the messages; a default applies. Not a timing assertion: a bound. */
  waitMs?: number;
  ignore?: string[];
}

/** Closes an open stream (the client goes away). */
export interface StreamCloseStep {
  kind: 'stream-close';
  note?: string;
  stream: string;
}

/** All step kinds; the runner switches on `kind` exhaustively. */
export type Step = HttpStep | StreamOpenStep | StreamReadStep | StreamCloseStep;

export interface CompatCase {
  /** Unique within its group; used as the subtest name. */
  name: string;
  steps: Step[];
  /**
   * Run on servers of its own, started fresh for this case, instead of the group's shared pair
   * (for cases that change global state, e.g. compaction, or depend on absolute revisions).
   */
  fresh?: boolean;
}

/** A named array of cases, run in order on one fresh pair of servers. */
export interface CompatGroup {
  name: string;
  cases: CompatCase[];
}

// ---------- small builders for case files ----------

/** Base64 of a UTF-8 string (or of bytes), as the JSON gateway encodes bytes fields. */
export function b64(value: string | Uint8Array): string {
  return Buffer.from(value).toString('base64');
}

/** A POST of a JSON body to a path. */
export function post(path: string, body: Json | ((ctx: StepContext) => Json), extra: Partial<HttpStep> = {}): HttpStep {
  return { ...extra, path, body };
}

type Fields = { [key: string]: Json };

/** `/v3/kv/put` of string key and value (base64-encoded here), with extra request fields. */
export function put(key: string, value?: string, fields: Fields = {}): HttpStep {
  const body: Fields = { key: b64(key), ...fields };
  if (value !== undefined) body.value = b64(value);
  return post('/v3/kv/put', body);
}

/** `/v3/kv/range` of a string key, with extra request fields (already encoded). */
export function range(key: string, fields: Fields = {}): HttpStep {
  return post('/v3/kv/range', { key: b64(key), ...fields });
}

/** `/v3/kv/deleterange` of a string key, with extra request fields (already encoded). */
export function del(key: string, fields: Fields = {}): HttpStep {
  return post('/v3/kv/deleterange', { key: b64(key), ...fields });
}

/** `/v3/kv/txn`. */
export function txn(body: Fields): HttpStep {
  return post('/v3/kv/txn', body);
}

/** `/v3/kv/compaction` at a revision. */
export function compact(revision: number | string, fields: Fields = {}): HttpStep {
  return post('/v3/kv/compaction', { revision: String(revision), ...fields });
}

/** A step sending exact bytes (for malformed input). */
export function raw(path: string, bytes: string | Uint8Array, extra: Partial<HttpStep> = {}): HttpStep {
  return { ...extra, path, raw: bytes };
}

/** The prefix form of range_end: the key with its last byte incremented (etcd's GetPrefixRangeEnd). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = bytes[i]! + 1;
      return end.toString('base64');
    }
  }
  return b64('\0');
}

/** Request ops for txn bodies, keys and values as strings. */
export const op = {
  put: (key: string, value?: string, fields: Fields = {}): Fields => ({
    request_put: { key: b64(key), ...(value === undefined ? {} : { value: b64(value) }), ...fields },
  }),
  range: (key: string, fields: Fields = {}): Fields => ({ request_range: { key: b64(key), ...fields } }),
  del: (key: string, fields: Fields = {}): Fields => ({ request_delete_range: { key: b64(key), ...fields } }),
  txn: (body: Fields): Fields => ({ request_txn: body }),
};

/** A txn compare on a string key. */
export function cmp(key: string, target: string, result: string, fields: Fields = {}): Fields {
  return { key: b64(key), target, result, ...fields };
}
