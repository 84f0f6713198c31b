// etcd 3.4's command line, parsed into a MemberConfig: `parseMemberConfig(argv, env)` is pure (it
// reads only its arguments, never process.argv, process.env, the clock or the disk), so the entry
// point (src/cli/tetcd.ts) decides what to print and how to exit.
//
// It reproduces what real etcd 3.4.23 does, checked by running /usr/bin/etcd (test/cli/ notes the
// commands), in etcd's order:
//   1. Go's flag package scans argv: `-f v`, `--f v`, `-f=v`, `--f=v`; booleans take no separate
//      value (`--pre-vote false` makes `false` a stray argument); `--` ends flags; `-h`/`--help`
//      ask for help; the first non-flag argument ends the scan. Syntax errors exit 2 after usage.
//   2. A stray argument, then `--version`.
//   3. ETCD_<FLAG> variables fill flags not given on the command line (empty values are skipped).
//      A variable for a flag that WAS given is fatal ("conflicting environment variable ... is
//      shadowed"), as in 3.4. Unknown ETCD_* variables only warn.
//   4. etcd's Validate(): logging, bind URLs, advertise URLs, bootstrap flags, timeouts, ... Each
//      failure is "error verifying flags, <why>. See 'tetcd --help'." with exit 1.
//   5. What etcd checks when it starts a new member: compaction retention, --initial-cluster
//      syntax, this member in it with exactly its advertised peer URLs, no URL used twice.
// Then tetcd's own refusals (features it lacks whose silent absence would change behaviour:
// --config-file, discovery, proxy mode, force-new-cluster, https:// and unix:// listeners), and
// warnings for the flags it ignores.

import assert from 'node:assert/strict';
import { MemberConfigSchema, LOG_LEVELS } from '../../schemas/config.js';
import type { InitialClusterMember, MemberConfig } from '../../schemas/config.js';
import {
  DEFAULT_ADVERTISE_PEER_URL, DEFAULT_NAME, FLAG_SPECS, USAGE_TEXT, renderHelp, renderVersion,
} from './help.js';
import type { FlagSpec } from './help.js';

export { UNSUPPORTED_FLAGS, REJECTED_FLAGS };

/** Bad input: print `message` to stderr and exit with `exitCode` (2: flag syntax, 1: the rest). */
export class ConfigError extends Error {
  readonly exitCode: 1 | 2;
  constructor(message: string, exitCode: 1 | 2) {
    super(message);
    this.name = 'ConfigError';
    this.exitCode = exitCode;
  }
}

export type ParseResult =
  | { config: MemberConfig; warnings: string[] }
  | { help: string }
  | { version: string };

/** Flags tetcd accepts, checks like etcd, and ignores with a warning when set to a non-default value. */
const UNSUPPORTED_FLAGS: readonly string[] = FLAG_SPECS.filter((s) => s.support === 'ignored').map((s) => s.name);
/** Flags tetcd refuses (exit 1) when set to a non-default value. */
const REJECTED_FLAGS: readonly string[] = FLAG_SPECS.filter((s) => s.support === 'rejected').map((s) => s.name);

const SPEC_BY_NAME: ReadonlyMap<string, FlagSpec> = new Map(FLAG_SPECS.map((s) => [s.name, s]));
/** A Go-style argv longer than this is refused rather than scanned (a bound on our own loop). */
const ARGV_LENGTH_MAX = 10_000;
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;
const UINT32_MAX = (1n << 32n) - 1n;

// ---------------------------------------------------------------------------------------------
// Go value syntax: strconv.ParseBool/ParseUint/ParseInt (base 0), time.ParseDuration, net/url.

/** Go's strconv.Quote, close enough for the ASCII etcd's messages quote. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** Go's `%q` of a []string: `["a" "b"]`. */
function goQuoteList(list: readonly string[]): string {
  return `[${list.map(goQuote).join(' ')}]`;
}

export function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** Go's rule for `_` in base-prefixed literals: only between digits, or right after the prefix. */
function underscoresOk(s: string): boolean {
  let saw = '^';
  let i = 0;
  const body = s[0] === '-' || s[0] === '+' ? s.slice(1) : s;
  let hex = false;
  if (body.length >= 2 && body[0] === '0' && /[bBoOxX]/.test(body[1] ?? '')) {
    i = 2;
    saw = '0';
    hex = /[xX]/.test(body[1] ?? '');
  }
  for (; i < body.length; i++) {
    const c = body[i] ?? '';
    if (/[0-9]/.test(c) || (hex && /[a-fA-F]/.test(c))) { saw = '0'; continue; }
    if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
      continue;
    }
    if (saw === '_') return false;
    saw = '!';
  }
  return saw !== '_';
}

/** strconv.ParseUint(s, 0, 64-or-less): the value, or Go's failure kind. */
export function parseGoUint(s: string, max: bigint): bigint | 'syntax' | 'range' {
  if (s === '') return 'syntax';
  let base = 10n;
  let digits = s;
  if (s[0] === '0') {
    const p = (s[1] ?? '').toLowerCase();
    if (s.length >= 3 && (p === 'b' || p === 'o' || p === 'x')) {
      base = p === 'b' ? 2n : p === 'o' ? 8n : 16n;
      digits = s.slice(2);
    } else {
      base = 8n;
      digits = s.slice(1);
    }
  }
  let n = 0n;
  let sawUnderscore = false;
  for (const c of digits) {
    if (c === '_') { sawUnderscore = true; continue; }
    if (!/^[0-9a-zA-Z]$/.test(c)) return 'syntax';
    const d = BigInt(parseInt(c, 36));
    if (d >= base) return 'syntax';
    n = n * base + d;
    if (n > max) return 'range';
  }
  if (sawUnderscore && !underscoresOk(s)) return 'syntax';
  return n;
}

/** strconv.ParseInt(s, 0, 64). */
export function parseGoInt(s: string): bigint | 'syntax' | 'range' {
  const neg = s.startsWith('-');
  const body = s.startsWith('-') || s.startsWith('+') ? s.slice(1) : s;
  const u = parseGoUint(body, UINT64_MAX);
  if (typeof u !== 'bigint') return u;
  if (neg ? u > INT64_MAX + 1n : u > INT64_MAX) return 'range';
  return neg ? -u : u;
}

const DURATION_UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9,
};

/** time.ParseDuration, in nanoseconds (a float: precision beyond 2^53 ns does not matter here). */
export function parseGoDurationNs(orig: string): number {
  const invalid = () => new Error(`time: invalid duration ${goQuote(orig)}`);
  let s = orig;
  let neg = false;
  if (s[0] === '-' || s[0] === '+') { neg = s[0] === '-'; s = s.slice(1); }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let total = 0;
  while (s !== '') {
    const m = /^([0-9]*)(\.([0-9]*))?/.exec(s);
    assert(m !== null, 'the number pattern matches every string');
    const [whole, intPart = '', , fracPart] = m;
    if (intPart === '' && (fracPart === undefined || fracPart === '')) throw invalid();
    s = s.slice(whole.length);
    const unitEnd = s.search(/[0-9.]/);
    const unit = unitEnd < 0 ? s : s.slice(0, unitEnd);
    if (unit === '') throw new Error(`time: missing unit in duration ${goQuote(orig)}`);
    const scale = DURATION_UNIT_NS[unit];
    if (scale === undefined) throw new Error(`time: unknown unit ${goQuote(unit)} in duration ${goQuote(orig)}`);
    s = s.slice(unit.length);
    total += Number(`${intPart || '0'}.${fracPart ?? ''}0`) * scale;
    if (total > Number(INT64_MAX)) throw invalid();
  }
  return neg ? -total : total;
}

/**
 * A URL as etcd spells it. WHATWG `URL` adds a `/` path and drops default ports
 * (`http://h:80` prints as `http://h/`); etcd hashes member ids from Go's spelling, so `String()`
 * and `JSON.stringify()` give that back: `scheme://[userinfo@]host:port[?query][#fragment]`.
 */
export class EtcdUrl extends URL {
  readonly #etcd: string;
  constructor(etcdSpelling: string) {
    super(etcdSpelling);
    this.#etcd = etcdSpelling;
  }
  override toString(): string {
    return this.#etcd;
  }
  override toJSON(): string {
    return this.#etcd;
  }
}

/** A URL Go's parser accepts but no socket could use: refused with exit 1, not as flag syntax. */
class UnusableUrlError extends Error {
  constructor(message: string, readonly spelling: string, readonly emptyHost: boolean) {
    super(message);
  }
}

interface GoUrl {
  scheme: string;
  userinfo: string | undefined;
  host: string;
  path: string;
  rawQuery: string | undefined;
  fragment: string | undefined;
}

/** Go's url.unescape check: every `%` must start a two-hex-digit escape. */
function checkEscapes(s: string): void {
  const m = /%(?![0-9a-fA-F]{2})/.exec(s);
  if (m !== null) throw new Error(`invalid URL escape ${goQuote(s.slice(m.index, m.index + 3))}`);
}

/** Go's url.parseHost: brackets, a digits-only port, and no characters Go would escape. */
function checkGoHost(host: string): void {
  let colonPort = '';
  if (host.startsWith('[')) {
    const close = host.lastIndexOf(']');
    if (close < 0) throw new Error("missing ']' in host");
    colonPort = host.slice(close + 1);
  } else if (host.lastIndexOf(':') >= 0) {
    colonPort = host.slice(host.lastIndexOf(':'));
  }
  if (colonPort !== '' && !/^:[0-9]*$/.test(colonPort)) throw new Error(`invalid port ${goQuote(colonPort)} after host`);
  checkEscapes(host);
  const bad = /[^A-Za-z0-9\-._~!$&'()*+,;=:[\]<>"%\u0080-\uffff]/.exec(host);
  if (bad !== null) throw new Error(`invalid character ${goQuote(bad[0])} in host name`);
}

/** Go's url.Parse, as far as etcd's URL rules can tell the difference. */
function parseGoUrlParts(raw: string): GoUrl {
  const hashAt = raw.indexOf('#');
  const fragment = hashAt >= 0 ? raw.slice(hashAt + 1) : undefined;
  let rest = hashAt >= 0 ? raw.slice(0, hashAt) : raw;
  if (/[\x00-\x1f\x7f]/.test(rest)) throw new Error('net/url: invalid control character in URL');
  let scheme = '';
  const sm = /^([A-Za-z][A-Za-z0-9+.-]*)?:/.exec(rest);
  if (sm !== null) {
    if (sm[1] === undefined) throw new Error('missing protocol scheme');
    scheme = sm[1].toLowerCase();
    rest = rest.slice(sm[0].length);
  }
  let rawQuery: string | undefined;
  const q = rest.indexOf('?');
  if (q >= 0) { rawQuery = rest.slice(q + 1); rest = rest.slice(0, q); }
  let userinfo: string | undefined;
  let host = '';
  if (!rest.startsWith('/')) {
    if (scheme !== '') return { scheme, userinfo, host, path: '', rawQuery, fragment }; // opaque: no host
    if ((rest.split('/')[0] ?? '').includes(':')) throw new Error('first path segment in URL cannot contain colon');
  } else if (rest.startsWith('//') && (scheme !== '' || !rest.startsWith('///'))) {
    const slash = rest.indexOf('/', 2);
    const authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    rest = slash < 0 ? '' : rest.slice(slash);
    const at = authority.lastIndexOf('@');
    host = authority.slice(at + 1);
    checkGoHost(host);
    if (at >= 0) {
      userinfo = authority.slice(0, at);
      if (!/^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(userinfo)) throw new Error('net/url: invalid userinfo');
      checkEscapes(userinfo);
    }
  }
  checkEscapes(rest);
  if (fragment !== undefined) checkEscapes(fragment);
  return { scheme, userinfo, host, path: rest, rawQuery, fragment };
}

/** net.SplitHostPort's acceptance test (the error text does not reach etcd's messages). */
function splitsHostPort(hostport: string): { host: string; port: string } | undefined {
  const colon = hostport.lastIndexOf(':');
  if (colon < 0) return undefined;
  let host: string;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0 || end + 1 !== colon) return undefined;
    host = hostport.slice(1, end);
    if (hostport.slice(1).includes('[') || hostport.slice(end + 1).includes(']')) return undefined;
  } else {
    host = hostport.slice(0, colon);
    if (host.includes(':') || hostport.includes('[') || hostport.includes(']')) return undefined;
  }
  return { host, port: hostport.slice(colon + 1) };
}

/**
 * etcd's types.NewURLs: each comma-separated URL trimmed, http/https/unix/unixs, host:port, no
 * path; sorted by spelling. Duplicates are dropped (etcd would listen twice and fail).
 */
export function parseEtcdUrls(value: string): EtcdUrl[] {
  const out = new Map<string, EtcdUrl>();
  for (const piece of value.split(',')) {
    const s = piece.trim();
    let u: GoUrl;
    try {
      u = parseGoUrlParts(s);
    } catch (err) {
      throw new Error(`parse ${goQuote(s)}: ${(err as Error).message}`);
    }
    if (!['http', 'https', 'unix', 'unixs'].includes(u.scheme)) throw new Error(`URL scheme must be http, https, unix, or unixs: ${s}`);
    const hostPort = splitsHostPort(u.host);
    if (hostPort === undefined) throw new Error(`URL address does not have the form "host:port": ${s}`);
    if (u.path !== '') throw new Error(`URL must not contain a path: ${s}`);
    const spelling = `${u.scheme}://${u.userinfo !== undefined ? `${u.userinfo}@` : ''}${u.host}`
      + `${u.rawQuery !== undefined ? `?${u.rawQuery}` : ''}${u.fragment !== undefined ? `#${u.fragment}` : ''}`;
    // Go accepts `http://:2379` here and etcd refuses it later (Validate); WHATWG cannot hold it.
    if (hostPort.host === '') throw new UnusableUrlError(`URL has an empty host: ${s}`, spelling, true);
    let url: EtcdUrl;
    try {
      url = new EtcdUrl(spelling);
    } catch {
      // Go accepts ports past 65535 and some host spellings that WHATWG refuses; etcd would then
      // fail to listen or to dial. tetcd refuses them up front.
      throw new UnusableUrlError(`URL address is not usable (port above 65535 or bad host): ${s}`, spelling, false);
    }
    out.set(spelling, url);
  }
  assert(out.size >= 1, 'split always yields one piece');
  return [...out.values()].sort((a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// Flag values: what each Go flag.Value's Set() accepts.

/** A flag's current value, by kind: string, boolean, bigint (uint/int), ns (duration), URLs, list. */
type FlagValue = string | boolean | bigint | number | EtcdUrl[] | string[];

/** Set() failed: `detail` is the error text Go's flag package appends after the flag's name. */
class SetError extends Error {}

function numberFailure(kind: 'syntax' | 'range'): SetError {
  return new SetError(kind === 'syntax' ? 'parse error' : 'value out of range');
}

/** One flag.Value.Set(raw) given the current value: the new value, or a SetError. */
function setValue(spec: FlagSpec, raw: string, current: FlagValue): FlagValue {
  switch (spec.kind) {
    case 'string':
      return raw;
    case 'bool': {
      const b = parseGoBool(raw);
      if (b === undefined) throw new SetError('parse error');
      return b;
    }
    case 'uint': case 'int': {
      const n = spec.kind === 'uint' ? parseGoUint(raw, UINT64_MAX) : parseGoInt(raw);
      if (typeof n !== 'bigint') throw numberFailure(n);
      return n;
    }
    case 'uint32': {
      // etcd's own uint32Value hands strconv's error through unchanged.
      const n = parseGoUint(raw, UINT32_MAX);
      if (typeof n !== 'bigint') throw new SetError(`strconv.ParseUint: parsing ${goQuote(raw)}: ${n === 'syntax' ? 'invalid syntax' : 'value out of range'}`);
      return n;
    }
    case 'duration':
      try {
        return parseGoDurationNs(raw);
      } catch {
        throw new SetError('parse error');
      }
    case 'urls':
      if (raw === spec.urlException) return current;
      try {
        return parseEtcdUrls(raw);
      } catch (err) {
        if (err instanceof UnusableUrlError) throw unusableUrl(spec, raw, err);
        throw new SetError((err as Error).message);
      }
    case 'choice':
      if (!(spec.choices ?? []).includes(raw)) throw new SetError('invalid value');
      return raw;
    case 'strings':
      return [...new Set(raw.split(','))].sort();
    case 'legacy':
      return raw;
  }
}

/** etcd's own words for an empty host where it has them (Validate), tetcd's otherwise. */
function unusableUrl(spec: FlagSpec, raw: string, err: UnusableUrlError): ConfigError {
  if (err.emptyHost && spec.name.startsWith('listen-')) return verifyError(`expected IP in URL for binding (${err.spelling})`);
  if (err.emptyHost && (spec.name.startsWith('advertise-') || spec.name.startsWith('initial-advertise-'))) {
    return verifyError(`--${spec.name} ${goQuote(raw)} must be "host:port" (unexpected empty host (${err.spelling}))`);
  }
  return new ConfigError(`--${spec.name}: ${err.message}`, 1);
}

/** The value each flag starts with: its default run through the same Set() as user input. */
function defaultValues(): Map<string, FlagValue> {
  const values = new Map<string, FlagValue>();
  for (const spec of FLAG_SPECS) {
    const empty = spec.def === '' && (spec.kind === 'urls' || spec.kind === 'strings');
    values.set(spec.name, empty ? [] : setValue(spec, spec.def, ''));
  }
  return values;
}

/** ETCD_<FLAG>: upper case, dashes (and dots, which Go leaves alone) kept as etcd keeps them. */
export function flagToEnv(name: string): string {
  return `ETCD_${name.toUpperCase().replaceAll('-', '_')}`;
}

// ---------------------------------------------------------------------------------------------
// The command line, scanned the way Go's flag.FlagSet.Parse does.

interface ScanResult {
  values: Map<string, FlagValue>;
  /** Flags given on the command line (Go's "actual" set). */
  given: Set<string>;
  /** Arguments left after the scan stopped; etcd refuses any. */
  rest: string[];
  help: boolean;
  warnings: string[];
}

function flagSyntaxError(message: string): ConfigError {
  return new ConfigError(`${message}\n${USAGE_TEXT}`, 2);
}

function scanArgs(argv: readonly string[]): ScanResult {
  if (argv.length > ARGV_LENGTH_MAX) throw new ConfigError(`too many arguments (${argv.length} > ${ARGV_LENGTH_MAX})`, 1);
  const result: ScanResult = { values: defaultValues(), given: new Set(), rest: [], help: false, warnings: [] };
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i] ?? '';
    if (arg.length < 2 || arg[0] !== '-') break;
    const dashes = arg[1] === '-' ? 2 : 1;
    i++;
    if (arg === '--') break;
    const body = arg.slice(dashes);
    if (body === '' || body[0] === '-' || body[0] === '=') throw flagSyntaxError(`bad flag syntax: ${arg}`);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const spec = SPEC_BY_NAME.get(name);
    if (spec === undefined) {
      if (name === 'help' || name === 'h') return { ...result, help: true };
      throw flagSyntaxError(`flag provided but not defined: -${name}`);
    }
    let raw: string;
    if (spec.kind === 'bool' || spec.kind === 'legacy') {
      raw = eq < 0 ? 'true' : body.slice(eq + 1);
    } else if (eq >= 0) {
      raw = body.slice(eq + 1);
    } else if (i < argv.length) {
      raw = argv[i] ?? '';
      i++;
    } else {
      throw flagSyntaxError(`flag needs an argument: -${name}`);
    }
    applyCommandLineValue(spec, raw, result);
  }
  assert(i <= argv.length, 'the scan never runs past argv');
  result.rest = argv.slice(i);
  return result;
}

function applyCommandLineValue(spec: FlagSpec, raw: string, result: ScanResult): void {
  try {
    result.values.set(spec.name, setValue(spec, raw, result.values.get(spec.name) ?? ''));
  } catch (err) {
    if (!(err instanceof SetError)) throw err;
    const what = spec.kind === 'bool' ? `invalid boolean value ${goQuote(raw)} for -${spec.name}` : `invalid value ${goQuote(raw)} for flag -${spec.name}`;
    throw flagSyntaxError(`${what}: ${err.message}`);
  }
  if (spec.kind === 'legacy') result.warnings.push(`flag "-${spec.name}" is no longer supported - ignoring.`);
  result.given.add(spec.name);
}

/**
 * etcd 3.4's SetFlagsFromEnv: a variable for a flag given on the command line is fatal (even an
 * empty one); otherwise each non-empty ETCD_<FLAG> is Set() in flag-name order, and the last
 * failure is reported. Unknown ETCD_* variables are a warning.
 */
function applyEnv(env: NodeJS.ProcessEnv, scan: ScanResult): void {
  const byEnv = new Map(FLAG_SPECS.map((s) => [flagToEnv(s.name), s]));
  const onCommandLine = new Set(scan.given);
  let failure: string | undefined;
  for (const spec of [...FLAG_SPECS].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const key = flagToEnv(spec.name);
    const raw = env[key];
    if (onCommandLine.has(spec.name) || raw === undefined || raw === '') continue;
    try {
      scan.values.set(spec.name, setValue(spec, raw, scan.values.get(spec.name) ?? ''));
      scan.given.add(spec.name);
      if (spec.kind === 'legacy') scan.warnings.push(`flag "-${spec.name}" is no longer supported - ignoring.`);
    } catch (err) {
      if (!(err instanceof SetError)) throw err;
      failure = `invalid value ${goQuote(raw)} for ${key}: ${err.message}`;
    }
  }
  for (const [key, raw] of Object.entries(env)) {
    const spec = byEnv.get(key);
    if (spec !== undefined && onCommandLine.has(spec.name)) {
      throw new ConfigError(`conflicting environment variable ${goQuote(key)} is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`, 1);
    }
    if (spec === undefined && key.startsWith('ETCD_')) scan.warnings.push(`unrecognized environment variable ${key}=${raw ?? ''}`);
  }
  if (failure !== undefined) throw verifyError(failure);
}

// ---------------------------------------------------------------------------------------------
// Typed reads of the scanned values (the kinds are fixed by the table, so a mismatch is a bug).

function str(v: ReadonlyMap<string, FlagValue>, name: string): string {
  const x = v.get(name);
  assert(typeof x === 'string', `flag ${name} holds a string`);
  return x;
}
function bool(v: ReadonlyMap<string, FlagValue>, name: string): boolean {
  const x = v.get(name);
  assert(typeof x === 'boolean', `flag ${name} holds a boolean`);
  return x;
}
function num(v: ReadonlyMap<string, FlagValue>, name: string): number {
  const x = v.get(name);
  assert(typeof x === 'bigint', `flag ${name} holds an integer`);
  return Number(x);
}
function ms(v: ReadonlyMap<string, FlagValue>, name: string): number {
  const x = v.get(name);
  assert(typeof x === 'number', `flag ${name} holds a duration`);
  return x / 1e6;
}
function urls(v: ReadonlyMap<string, FlagValue>, name: string): EtcdUrl[] {
  const x = v.get(name);
  assert(Array.isArray(x) && x.every((u) => u instanceof EtcdUrl), `flag ${name} holds URLs`);
  return x as EtcdUrl[];
}
function list(v: ReadonlyMap<string, FlagValue>, name: string): string[] {
  const x = v.get(name);
  assert(Array.isArray(x) && x.every((s) => typeof s === 'string'), `flag ${name} holds strings`);
  return x as string[];
}

function valueText(x: FlagValue | undefined): string {
  return Array.isArray(x) ? x.map(String).join(',') : String(x);
}

// ---------------------------------------------------------------------------------------------
// etcd's Validate(), in its order.

function verifyError(why: string): ConfigError {
  return new ConfigError(`error verifying flags, ${why}. See 'tetcd --help'.`, 1);
}

/** etcd's setupLogging(): --log-output vs --log-outputs, the logger, the level. */
function checkLogging(v: ReadonlyMap<string, FlagValue>, warnings: string[]): { logOutputs: string[]; logLevel: string } {
  const deprecated = list(v, 'log-output');
  let outputs = list(v, 'log-outputs');
  if (deprecated.length > outputs.length) {
    warnings.push("'--log-output' flag has been deprecated! Please use '--log-outputs'!");
    outputs = deprecated;
  } else if (deprecated.length === outputs.length) {
    if (deprecated.length > 1) throw verifyError("both '--log-output' and '--log-outputs' are set; only set '--log-outputs'");
    if (valueText(deprecated) === valueText(outputs) && deprecated[0] !== 'default') {
      throw verifyError(`'--log-output=${goQuoteList(deprecated)}' and '--log-outputs=${goQuoteList(outputs)}' are incompatible; only set --log-outputs`);
    }
    if (valueText(deprecated) !== 'default') warnings.push(`[WARNING] Deprecated '--log-output' flag is set to ${goQuoteList(deprecated)}`);
  }
  const debug = bool(v, 'debug');
  const level = debug ? 'debug' : str(v, 'log-level');
  const logger = str(v, 'logger');
  const checkLevel = () => {
    // etcd 3.4 panics here (exit 2); tetcd says why, with the same exit code.
    if (!(LOG_LEVELS as readonly string[]).includes(str(v, 'log-level'))) {
      throw new ConfigError(`error verifying flags, unknown level ${goQuote(str(v, 'log-level'))} (--log-level takes ${LOG_LEVELS.join(', ')}). See 'tetcd --help'.`, 2);
    }
  };
  if (logger === 'capnslog') {
    if (!debug) checkLevel();
    if (outputs.length !== 1) throw verifyError(`--logger=capnslog supports only 1 value in '--log-outputs', got ${goQuoteList(outputs)}`);
    const out = outputs[0] ?? '';
    if (!['default', 'stderr', 'stdout'].includes(out)) throw verifyError(`unknown log-output ${goQuote(out)} (only supports "default", "stderr", "stdout")`);
  } else if (logger === 'zap') {
    if (outputs.length > 1 && outputs.includes('default')) throw verifyError('multi logoutput for "default" is not supported yet');
    checkLevel();
  } else {
    throw verifyError(`unknown logger option ${goQuote(logger)}`);
  }
  return { logOutputs: outputs, logLevel: level };
}

/** etcd's checkBindURLs: a listener's host must be an IP address or `localhost`. */
function checkBindUrls(list: readonly EtcdUrl[]): void {
  for (const u of list) {
    if (u.protocol === 'unix:' || u.protocol === 'unixs:') continue;
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    if (host === 'localhost') continue;
    if (!isIpLiteral(host)) throw verifyError(`expected IP in URL for binding (${String(u)})`);
  }
}

function isIpLiteral(host: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return host.split('.').every((o) => Number(o) <= 255);
  return host.includes(':') && /^[0-9a-fA-F:.]+$/.test(host);
}

/** etcd's checkHostURLs, for advertised URLs: a host is required. */
function checkHostUrls(flag: string, list: readonly EtcdUrl[]): void {
  for (const u of list) {
    if (u.host === '' || u.hostname === '') {
      throw verifyError(`${flag} ${goQuote(list.map(String).join(','))} must be "host:port" (unexpected empty host (${String(u)}))`);
    }
  }
}

interface Validated {
  logOutputs: string[];
  logLevel: string;
  advertiseClientUrls: EtcdUrl[];
  initialCluster: string;
}

/** etcd's configFromCmdLine() tail and Validate(); throws etcd's "error verifying flags" errors. */
function validateLikeEtcd(scan: ScanResult): Validated {
  const v = scan.values;
  const given = scan.given;
  const discoveryFlags = ['discovery', 'discovery-srv', 'discovery-srv-name'].filter((n) => str(v, n) !== '');
  const mayBeProxy = str(v, 'proxy') !== 'off' || (str(v, 'discovery') !== '' && str(v, 'discovery-fallback') === 'proxy');
  // Listening on chosen URLs without saying where clients should dial is refused, unless proxying.
  const advertiseMissing = given.has('listen-client-urls') && !given.has('advertise-client-urls') && !mayBeProxy;
  // Discovery replaces the default --initial-cluster.
  const initialCluster = discoveryFlags.length > 0 && !given.has('initial-cluster') ? '' : str(v, 'initial-cluster');

  const logging = checkLogging(v, scan.warnings);
  checkBindUrls(urls(v, 'listen-peer-urls'));
  checkBindUrls(urls(v, 'listen-client-urls'));
  checkBindUrls(urls(v, 'listen-metrics-urls'));
  checkHostUrls('--initial-advertise-peer-urls', urls(v, 'initial-advertise-peer-urls'));
  if (!advertiseMissing) checkHostUrls('--advertise-client-urls', urls(v, 'advertise-client-urls'));
  const bootstrapWays = [str(v, 'discovery') !== '', initialCluster !== '', str(v, 'discovery-srv') !== ''].filter(Boolean).length;
  if (bootstrapWays > 1) {
    throw verifyError('multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv"');
  }
  const tickMs = num(v, 'heartbeat-interval');
  const electionMs = num(v, 'election-timeout');
  if (tickMs <= 0) throw verifyError(`--heartbeat-interval must be >0 (set to ${tickMs}ms)`);
  if (electionMs <= 0) throw verifyError(`--election-timeout must be >0 (set to ${electionMs}ms)`);
  if (5 * tickMs > electionMs) {
    throw verifyError(`--election-timeout[${electionMs}ms] should be at least as 5 times as --heartbeat-interval[${tickMs}ms]`);
  }
  if (electionMs > 50_000) throw verifyError(`--election-timeout[${electionMs}ms] is too long, and should be set less than 50000ms`);
  if (advertiseMissing) {
    throw new ConfigError("error verifying flags, --advertise-client-urls is required when --listen-client-urls is set explicitly. See 'tetcd --help'.\n"
      + 'When listening on specific address(es), this etcd process must advertise accessible url(s) to each connected client.', 1);
  }
  const mode = str(v, 'auto-compaction-mode');
  if (!['', 'periodic', 'revision'].includes(mode)) throw verifyError(`unknown auto-compaction-mode ${goQuote(mode)}`);
  if (bool(v, 'experimental-enable-lease-checkpoint-persist') && !bool(v, 'experimental-enable-lease-checkpoint')) {
    throw verifyError('setting experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint');
  }
  return { ...logging, advertiseClientUrls: urls(v, 'advertise-client-urls'), initialCluster };
}

/** What tetcd cannot do yet and must not silently skip: refused with exit 1. */
function refuseUnsupported(scan: ScanResult): void {
  const v = scan.values;
  for (const name of REJECTED_FLAGS) {
    const spec = SPEC_BY_NAME.get(name);
    assert(spec !== undefined, `${name} is in the flag table`);
    if (valueText(v.get(name)) === valueText(setValue(spec, spec.def, ''))) continue;
    throw new ConfigError(`tetcd does not support --${name} yet (set to ${goQuote(valueText(v.get(name)))}); see 'tetcd --help'`, 1);
  }
  for (const name of ['listen-client-urls', 'listen-peer-urls', 'listen-metrics-urls']) {
    for (const u of urls(v, name)) {
      if (u.protocol === 'http:') continue;
      const what = u.protocol === 'https:' ? 'TLS (https:// listen URLs)' : 'unix socket listeners';
      throw new ConfigError(`tetcd does not support ${what} yet: --${name}=${String(u)}`, 1);
    }
  }
}

/** Warnings for flags tetcd accepts but ignores, when set to something else than their default. */
function ignoredFlagWarnings(scan: ScanResult): string[] {
  const out: string[] = [];
  for (const name of UNSUPPORTED_FLAGS) {
    const spec = SPEC_BY_NAME.get(name);
    assert(spec !== undefined, `${name} is in the flag table`);
    if (spec.kind === 'legacy' || !scan.given.has(name)) continue;
    const isDefault = spec.def === '' && (spec.kind === 'urls' || spec.kind === 'strings')
      ? valueText(scan.values.get(name)) === ''
      : valueText(scan.values.get(name)) === valueText(setValue(spec, spec.def, ''));
    if (!isDefault) out.push(`--${name} is not supported by tetcd yet and is ignored`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// What etcd checks when it starts a new member (exit 1, "C | etcdmain: <why>").

/**
 * `--initial-cluster` as etcd's types.NewURLsMap reads it: comma-separated `name=url`, a name
 * may repeat (one URL each), empty pieces are skipped. Members sorted by name. `pairs` keeps
 * every (name, URL) before duplicates are merged, for the duplicate-URL check.
 */
function parseInitialCluster(value: string): { members: InitialClusterMember[]; pairs: [string, string][] } {
  const byName = new Map<string, EtcdUrl[]>();
  const pairs: [string, string][] = [];
  for (const piece of value.split(',')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq);
    const raw = eq < 0 ? '' : piece.slice(eq + 1);
    let parsed: EtcdUrl[];
    try {
      parsed = parseEtcdUrls(raw);
    } catch (err) {
      throw new ConfigError(`error setting up initial cluster: ${(err as Error).message}`, 1);
    }
    const mine = byName.get(name) ?? [];
    for (const u of parsed) pairs.push([name, String(u)]);
    byName.set(name, [...mine, ...parsed].filter((u, i, all) => all.findIndex((w) => String(w) === String(u)) === i)
      .sort((a, b) => (String(a) < String(b) ? -1 : 1)));
  }
  const members = [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, peerUrls]) => ({ name, peerUrls }));
  return { members, pairs };
}

/** etcd's VerifyBootstrap (new cluster) / VerifyJoinExisting (existing), without DNS resolution. */
function verifyBootstrap(name: string, advertised: readonly EtcdUrl[], cluster: ReturnType<typeof parseInitialCluster>, isNew: boolean): void {
  const self = cluster.members.find((m) => m.name === name);
  if (self === undefined) throw new ConfigError(`couldn't find local name ${goQuote(name)} in the initial cluster configuration`, 1);
  const inCluster = self.peerUrls.map(String).sort();
  const announced = advertised.map(String).sort();
  if (isNew && valueText(inCluster) !== valueText(announced)) {
    const detail = inCluster.length !== announced.length
      ? `len(${goQuoteList(announced)}) != len(${goQuoteList(inCluster)})`
      : (() => {
        const i = announced.findIndex((u, k) => u !== inCluster[k]);
        return `resolved urls: ${goQuote(announced[i] ?? '')} != ${goQuote(inCluster[i] ?? '')}`;
      })();
    const notAnnounced = inCluster.filter((u) => !announced.includes(u));
    if (notAnnounced.length > 0) {
      throw new ConfigError(`--initial-cluster has ${notAnnounced.map((u) => `${name}=${u}`).join(',')} but missing from --initial-advertise-peer-urls=${announced.join(',')} (${detail})`, 1);
    }
    const notInCluster = announced.filter((u) => !inCluster.includes(u));
    assert(notInCluster.length > 0, 'two different sorted sets differ on one side at least');
    throw new ConfigError(`--initial-advertise-peer-urls has ${notInCluster.join(',')} but missing from --initial-cluster=${announced.map((u) => `${name}=${u}`).join(',')}`, 1);
  }
  const seen = new Set<string>();
  for (const [, u] of cluster.pairs) {
    if (seen.has(u)) {
      const all = cluster.pairs.map(([n, w]) => `${n}=${w}`).sort().filter((p, i, a) => a.indexOf(p) === i);
      throw new ConfigError(`initial cluster ${all.join(',')} has duplicate url`, 1);
    }
    seen.add(u);
  }
}

/**
 * `--auto-compaction-retention` as etcd reads it: a non-negative integer is hours (periodic) or
 * revisions (revision); anything else must be a Go duration ("30m", "1h30m").
 */
export function compactionRetention(mode: 'periodic' | 'revision', retention: string):
  { mode: 'periodic'; periodMs: number } | { mode: 'revision'; revisions: number } {
  const asInt = /^[+-]?[0-9]+$/.test(retention) ? Number(retention) : NaN;
  let value: number;
  if (Number.isSafeInteger(asInt) && asInt >= 0) {
    value = mode === 'periodic' ? asInt * 3_600_000 : asInt;
  } else {
    let ns: number;
    try {
      ns = parseGoDurationNs(retention);
    } catch (err) {
      throw new ConfigError(`error parsing CompactionRetention: ${(err as Error).message}`, 1);
    }
    // etcd keeps a time.Duration either way; in revision mode its nanoseconds count as revisions.
    value = mode === 'periodic' ? ns / 1e6 : ns;
  }
  assert(Number.isFinite(value), 'retention is finite');
  return mode === 'periodic' ? { mode, periodMs: value } : { mode, revisions: value };
}

// ---------------------------------------------------------------------------------------------
// The whole pipeline.

/** etcd's default --initial-cluster, which `--name` replaces when left untouched. */
const DEFAULT_INITIAL_CLUSTER = `${DEFAULT_NAME}=${DEFAULT_ADVERTISE_PEER_URL}`;

function assemble(scan: ScanResult, checked: Validated): MemberConfig {
  const v = scan.values;
  const name = str(v, 'name');
  const advertisedPeers = urls(v, 'initial-advertise-peer-urls');
  // etcd's UpdateDefaultClusterFromName: a named member with the default --initial-cluster
  // bootstraps alone, under its own name and advertised peer URLs.
  const clusterText = name !== DEFAULT_NAME && checked.initialCluster === DEFAULT_INITIAL_CLUSTER
    ? advertisedPeers.map((u) => `${name || DEFAULT_NAME}=${String(u)}`).join(',')
    : checked.initialCluster;
  const mode = str(v, 'auto-compaction-mode') === 'revision' ? 'revision' : 'periodic';
  compactionRetention(mode, str(v, 'auto-compaction-retention'));
  const cluster = parseInitialCluster(clusterText);
  const state = str(v, 'initial-cluster-state') === 'existing' ? 'existing' : 'new';
  verifyBootstrap(name, advertisedPeers, cluster, state === 'new');
  const candidate = {
    name,
    dataDir: str(v, 'data-dir') || `${name}.etcd`,
    walDir: str(v, 'wal-dir'),
    snapshotCount: num(v, 'snapshot-count'),
    heartbeatIntervalMs: num(v, 'heartbeat-interval'),
    electionTimeoutMs: num(v, 'election-timeout'),
    initialElectionTickAdvance: bool(v, 'initial-election-tick-advance'),
    listenPeerUrls: urls(v, 'listen-peer-urls'),
    listenClientUrls: urls(v, 'listen-client-urls'),
    maxSnapshots: num(v, 'max-snapshots'),
    maxWals: num(v, 'max-wals'),
    quotaBackendBytes: num(v, 'quota-backend-bytes'),
    backendBatchIntervalMs: Math.max(0, ms(v, 'backend-batch-interval')),
    backendBatchLimit: num(v, 'backend-batch-limit'),
    maxTxnOps: num(v, 'max-txn-ops'),
    maxRequestBytes: num(v, 'max-request-bytes'),
    initialAdvertisePeerUrls: advertisedPeers,
    initialCluster: cluster.members,
    initialClusterState: state,
    initialClusterToken: str(v, 'initial-cluster-token'),
    advertiseClientUrls: checked.advertiseClientUrls,
    strictReconfigCheck: bool(v, 'strict-reconfig-check'),
    preVote: bool(v, 'pre-vote'),
    autoCompactionMode: mode,
    autoCompactionRetention: str(v, 'auto-compaction-retention'),
    enablePprof: bool(v, 'enable-pprof'),
    metrics: str(v, 'metrics'),
    listenMetricsUrls: urls(v, 'listen-metrics-urls'),
    logger: str(v, 'logger'),
    logOutputs: checked.logOutputs,
    logLevel: checked.logLevel,
    experimentalCompactionBatchLimit: num(v, 'experimental-compaction-batch-limit'),
    experimentalWatchProgressNotifyIntervalMs: Math.max(0, ms(v, 'experimental-watch-progress-notify-interval')),
    experimentalWarningApplyDurationMs: Math.max(0, ms(v, 'experimental-warning-apply-duration')),
    unsafeNoFsync: bool(v, 'unsafe-no-fsync'),
  };
  const parsed = MemberConfigSchema.safeParse(candidate);
  // Every rule the schema states was checked above with etcd's wording; a failure here is a bug.
  assert(parsed.success, `parsed flags break the config schema: ${parsed.success ? '' : parsed.error.message}`);
  return parsed.data;
}

/**
 * etcd 3.4's command line and ETCD_* variables -> a member config, the help text, or the
 * version text. Throws ConfigError with etcd's wording (and exit code) for bad input.
 * `warnings` are etcd's non-fatal complaints plus the flags tetcd ignores; log them.
 */
export function parseMemberConfig(argv: string[], env: NodeJS.ProcessEnv): ParseResult {
  const sub = argv[0];
  if (sub === 'gateway' || sub === 'grpc-proxy') {
    throw new ConfigError(`tetcd does not support 'etcd ${sub}' yet`, 1);
  }
  const scan = scanArgs(argv);
  if (scan.help) return { help: renderHelp() };
  if (scan.rest.length > 0) throw verifyError(`'${scan.rest[0] ?? ''}' is not a valid flag`);
  if (bool(scan.values, 'version')) return { version: renderVersion() };
  const configFile = str(scan.values, 'config-file') || (env[flagToEnv('config-file')] ?? '');
  if (configFile !== '') {
    throw new ConfigError(`tetcd does not support --config-file yet (${goQuote(configFile)}): pass flags or ETCD_* variables instead`, 1);
  }
  applyEnv(env, scan);
  const checked = validateLikeEtcd(scan);
  refuseUnsupported(scan);
  const config = assemble(scan, checked);
  assert(config.initialCluster.some((m) => m.name === config.name), 'the member is in its own initial cluster');
  return { config, warnings: [...scan.warnings, ...ignoredFlagWarnings(scan)] };
}
