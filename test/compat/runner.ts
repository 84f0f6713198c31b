// Runs compatibility cases side by side: every step of a case goes to the reference (real etcd)
// and to the candidate (tetcd, or a second etcd when proving the normalization), both started
// fresh for the group, and the two normalized observations must be equal. The two servers run
// the case concurrently (each sees its own steps strictly in order), so a group costs one pass.
//
// Normalization removes only what legitimately differs between two correct servers: the
// cluster id, member id and raft term in every response header (random or timing-dependent), and
// for maintenance status the fields that depend on the storage engine or on raft internals. The
// rest (revisions, versions, values, counts, error code and message, HTTP status, media type)
// must match exactly. JSON is compared as values, so object key order is not compared.

import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { ServerHandle, StartOptions } from '../helpers/servers.js';
import type {
  CompatCase, CompatGroup, HttpStep, Json, Observation, Step, StepContext, StreamOpenStep,
} from './model.js';

/** One request never waits longer; a hung server shows as status 0 instead of a hung suite. */
const requestTimeoutMs = 10_000;
/** How long a stream-read waits for its messages unless the step says otherwise. */
const streamReadWaitMsDefault = 3_000;
/** A stream-read asks for at most this many messages. */
const streamReadCountMax = 1_000;
/** Bytes of a stream's incomplete last line kept before giving up on it (a runaway stream). */
const streamLineBytesMax = 4 * 1024 * 1024;
/** Text bodies longer than this are cut in failure messages (a 1.5 MiB value helps nobody). */
const shownBodyCharsMax = 400;

/** Header fields that differ between two correct servers: ids are random, the term is timing. */
const HEADER_VOLATILE = ['cluster_id', 'member_id', 'raft_term'];

/**
 * Per-route fields removed from the top level of the answer. Status: `dbSize`/`dbSizeInUse`
 * depend on the storage engine's page layout (bbolt vs RocksDB), `raftIndex`/`raftAppliedIndex`
 * count internal entries (etcd appends conf changes and a cluster-version entry at boot),
 * `raftTerm` is timing, `leader` is a member id, and `version` is each server's own release.
 */
const ROUTE_VOLATILE: Record<string, string[]> = {
  '/v3/maintenance/status': ['dbSize', 'dbSizeInUse', 'raftIndex', 'raftAppliedIndex', 'raftTerm', 'leader', 'version'],
};

export type StartServer = (opts: StartOptions) => Promise<ServerHandle>;

/** What one case produced on both servers. */
export interface CaseResult {
  name: string;
  steps: Array<{ step: Step; reference: Observation; candidate: Observation }>;
}

/** The JSON text a step sends, if any. */
function bodyText(step: HttpStep | StreamOpenStep, ctx: StepContext): string | Uint8Array | undefined {
  if ('raw' in step && step.raw !== undefined) return step.raw;
  if (step.body === undefined) return undefined;
  return JSON.stringify(typeof step.body === 'function' ? step.body(ctx) : step.body);
}

function mediaType(res: Response): string {
  return (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

function transportFailure(error: unknown): Observation {
  return { status: 0, contentType: '', body: `request failed: ${error instanceof Error ? error.message : String(error)}` };
}

/** Sends one HTTP step and records what came back; transport failures become status 0. */
export async function sendHttp(url: string, step: HttpStep, ctx: StepContext): Promise<Observation> {
  const body = bodyText(step, ctx);
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  Object.assign(headers, step.headers);
  try {
    const res = await fetch(url + step.path, {
      method: step.method ?? 'POST',
      headers,
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    const text = await res.text();
    return { status: res.status, contentType: mediaType(res), body: parseMaybeJson(text) };
  } catch (error) {
    return transportFailure(error);
  }
}

/** An open streaming response: newline-delimited JSON messages, parsed as they arrive. */
class OpenStream {
  /** Complete messages received and not yet handed to a stream-read, oldest first. */
  private readonly queue: Json[] = [];
  /** Bytes after the last newline: the start of a message still arriving. */
  private partial = '';
  /** A read of the body in progress; kept across a stream-read that gave up waiting. */
  private pending: ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']> | undefined;
  private ended = false;
  private readonly decoder = new TextDecoder();

  constructor(
    readonly status: number,
    readonly contentType: string,
    private readonly reader: ReadableStreamDefaultReader<Uint8Array> | undefined,
    private readonly abort: AbortController,
  ) {}

  /** Up to `count` messages, waiting at most `waitMs` for them. */
  async read(count: number, waitMs: number): Promise<Json[]> {
    assert.ok(count > 0 && count <= streamReadCountMax, `stream-read count must be 1..${streamReadCountMax}`);
    const deadline = Date.now() + waitMs;
    while (this.queue.length < count && !this.ended && this.reader !== undefined) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      this.pending ??= this.reader.read();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), left); });
      const next = await Promise.race([this.pending.catch(() => ({ done: true, value: undefined }) as const), timeout]);
      clearTimeout(timer);
      if (next === 'timeout') break;
      this.pending = undefined;
      if (next.done) this.ended = true;
      else this.take(this.decoder.decode(next.value, { stream: true }));
    }
    return this.queue.splice(0, count);
  }

  private take(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    assert.ok(this.partial.length <= streamLineBytesMax, 'stream line exceeds streamLineBytesMax');
    for (const line of lines) if (line.trim() !== '') this.queue.push(parseMaybeJson(line));
  }

  close(): void {
    this.ended = true;
    this.abort.abort();
  }
}

async function openStream(url: string, step: StreamOpenStep, ctx: StepContext): Promise<OpenStream | Observation> {
  const abort = new AbortController();
  const body = bodyText(step, ctx);
  try {
    const res = await fetch(url + step.path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.any([abort.signal, AbortSignal.timeout(requestTimeoutMs)]),
    });
    // The timeout above bounds only the wait for headers: a stream then lives until closed.
    return new OpenStream(res.status, mediaType(res), res.body?.getReader(), abort);
  } catch (error) {
    return transportFailure(error);
  }
}

function parseMaybeJson(text: string): Json | string {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

/** The observation with volatile fields removed (a new value; the input is not changed). */
export function normalize(obs: Observation, step: Step): Observation {
  if (typeof obs.body !== 'object' || obs.body === null) return obs;
  const body = structuredClone(obs.body);
  stripHeaders(body);
  const routeFields = 'path' in step ? ROUTE_VOLATILE[step.path] : undefined;
  for (const field of routeFields ?? []) removePath(body, [field]);
  const ignore = 'ignore' in step ? step.ignore : undefined;
  // Stream reads hold an array of messages: an ignore path applies to each message.
  const prefix = step.kind === 'stream-read' ? ['*'] : [];
  for (const p of ignore ?? []) removePath(body, [...prefix, ...p.split('.')]);
  return { ...obs, body };
}

/** Removes HEADER_VOLATILE from every object found under a `header` key, at any depth. */
function stripHeaders(value: Json): void {
  if (typeof value !== 'object' || value === null) return;
  for (const [key, child] of Object.entries(value)) {
    if (key === 'header' && typeof child === 'object' && child !== null && !Array.isArray(child)) {
      for (const field of HEADER_VOLATILE) delete child[field];
    }
    stripHeaders(child);
  }
}

/** Deletes the value at a path (`*` = every key or index) when present. */
function removePath(value: Json, parts: string[]): void {
  assert.ok(parts.length > 0, 'an ignore path cannot be empty');
  if (typeof value !== 'object' || value === null) return;
  const [head, ...rest] = parts as [string, ...string[]];
  const keys = head === '*' ? Object.keys(value) : [head];
  for (const key of keys) {
    const record = value as Record<string, Json>;
    if (!(key in record)) continue;
    if (rest.length === 0) {
      if (Array.isArray(value)) record[key] = null;
      else delete record[key];
    } else {
      removePath(record[key]!, rest);
    }
  }
}

/** Runs a case's steps in order against one server; streams still open are closed at the end. */
async function runSteps(url: string, steps: readonly Step[]): Promise<Observation[]> {
  const results: Observation[] = [];
  const streams = new Map<string, OpenStream>();
  try {
    for (const step of steps) results.push(await runStep(url, step, { results }, streams));
  } finally {
    for (const stream of streams.values()) stream.close();
  }
  assert.equal(results.length, steps.length);
  return results;
}

async function runStep(url: string, step: Step, ctx: StepContext, streams: Map<string, OpenStream>): Promise<Observation> {
  const kind = step.kind ?? 'http';
  switch (step.kind) {
    case undefined:
    case 'http':
      return sendHttp(url, step, ctx);
    case 'stream-open': {
      assert.ok(!streams.has(step.stream), `stream ${step.stream} is already open`);
      const opened = await openStream(url, step, ctx);
      if (!(opened instanceof OpenStream)) return opened;
      streams.set(step.stream, opened);
      return { status: opened.status, contentType: opened.contentType, body: '' };
    }
    case 'stream-read': {
      const stream = streams.get(step.stream);
      if (stream === undefined) return { status: 0, contentType: '', body: `stream ${step.stream} did not open` };
      const messages = await stream.read(step.count, step.waitMs ?? streamReadWaitMsDefault);
      return { status: stream.status, contentType: stream.contentType, body: messages };
    }
    case 'stream-close':
      streams.get(step.stream)?.close();
      streams.delete(step.stream);
      return { status: 0, contentType: '', body: 'closed' };
    default:
      return assertNever(step, kind);
  }
}

function assertNever(_step: never, kind: string): never {
  throw new Error(`unknown step kind: ${kind}`);
}

/** Runs one case on both servers at once. */
export async function runCase(c: CompatCase, referenceUrl: string, candidateUrl: string): Promise<CaseResult> {
  assert.ok(c.steps.length > 0, `case ${c.name} has no steps`);
  const [reference, candidate] = await Promise.all([runSteps(referenceUrl, c.steps), runSteps(candidateUrl, c.steps)]);
  return {
    name: c.name,
    steps: c.steps.map((step, i) => ({
      step,
      reference: normalize(reference[i]!, step),
      candidate: normalize(candidate[i]!, step),
    })),
  };
}

/** The index of the first step whose normalized observations differ, or -1. */
export function firstDifference(result: CaseResult): number {
  return result.steps.findIndex((s) => !isDeepStrictEqual(s.reference, s.candidate));
}

function isDeepStrictEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

/** A readable account of a step: the request and both answers. */
export function describeStep(result: CaseResult, index: number, names = ['etcd', 'tetcd']): string {
  const s = result.steps[index];
  assert.ok(s !== undefined, `no step ${index} in ${result.name}`);
  const note = s.step.note === undefined ? '' : ` (${s.step.note})`;
  return [
    `case "${result.name}", step ${index + 1}/${result.steps.length}${note}:`,
    `  request:   ${describeRequest(s.step)}`,
    `  ${names[0]}: ${showObservation(s.reference)}`,
    `  ${names[1]}: ${showObservation(s.candidate)}`,
  ].join('\n');
}

function describeRequest(step: Step): string {
  const bodyOf = (body: HttpStep['body']): string =>
    typeof body === 'function' ? '<built from earlier answers>' : show(JSON.stringify(body) ?? '<no body>');
  switch (step.kind) {
    case undefined:
    case 'http': {
      const request = step.raw === undefined ? bodyOf(step.body)
        : `raw ${typeof step.raw === 'string' ? show(step.raw) : `<${step.raw.length} bytes>`}`;
      return `${step.method ?? 'POST'} ${step.path} ${request}`;
    }
    case 'stream-open':
      return `open stream "${step.stream}": POST ${step.path} ${bodyOf(step.body)}`;
    case 'stream-read':
      return `read ${step.count} message(s) from stream "${step.stream}"`;
    case 'stream-close':
      return `close stream "${step.stream}"`;
    default:
      return assertNever(step, 'unknown');
  }
}

function showObservation(obs: Observation): string {
  const body = typeof obs.body === 'string' ? JSON.stringify(obs.body) : JSON.stringify(obs.body);
  return `${obs.status} ${obs.contentType || '<no content-type>'} ${show(body)}`;
}

function show(text: string): string {
  return text.length <= shownBodyCharsMax ? text : `${text.slice(0, shownBodyCharsMax)}... (${text.length} chars)`;
}

export interface GroupOptions {
  startReference: StartServer;
  startCandidate: StartServer;
  /** Labels in failure messages. */
  names?: [string, string];
  /** Called with every case result (for reports). */
  onResult?: (group: string, result: CaseResult) => void;
}

/**
 * Runs a group as subtests of `t`: one fresh pair of servers for the group (plus one per
 * `fresh` case), cases in order, one subtest per case failing with the first differing step.
 */
export async function runGroup(t: TestContext, group: CompatGroup, opts: GroupOptions): Promise<void> {
  assert.ok(new Set(group.cases.map((c) => c.name)).size === group.cases.length, `duplicate case names in ${group.name}`);
  const startPair = async (st: TestContext): Promise<[ServerHandle, ServerHandle]> =>
    Promise.all([opts.startReference({ t: st }), opts.startCandidate({ t: st })]);
  let shared: Promise<[ServerHandle, ServerHandle]> | undefined;
  let sharedFailureShown = false;
  const sharedPair = async (): Promise<[ServerHandle, ServerHandle]> => {
    shared ??= startPair(t);
    try {
      return await shared;
    } catch (error) {
      // The full startup output once; the later cases of the group just point at it.
      if (!sharedFailureShown) {
        sharedFailureShown = true;
        throw error;
      }
      throw new Error(`the servers of group "${group.name}" did not start (see its first case)`);
    }
  };
  for (const c of group.cases) {
    await t.test(c.name, async (st) => {
      const [reference, candidate] = c.fresh ? await startPair(st) : await sharedPair();
      const result = await runCase(c, reference.url, candidate.url);
      opts.onResult?.(group.name, result);
      const index = firstDifference(result);
      if (index >= 0) assert.fail(describeStep(result, index, opts.names));
    });
  }
}
