// A tiny etcd v3 JSON client for tests: base64 and int64-as-string handling in one place, plain
// fetch underneath (keep-alive connections from Node's global dispatcher).

export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
export const unb64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');

export interface JsonKv {
  key: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  version?: string;
  lease?: string;
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** Per-request bound, so that a test never hangs on a dead server. */
export const REQUEST_TIMEOUT_MS = 10_000;

export async function post<T = Record<string, any>>(url: string, path: string, body: unknown): Promise<Answer<T>> {
  const res = await fetch(url + path, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { raw: text };
  }
  return { status: res.status, body: parsed as T };
}

export async function put(url: string, key: string, value: string): Promise<{ revision: number }> {
  const a = await post(url, '/v3/kv/put', { key: b64(key), value: b64(value) });
  if (a.status !== 200) throw new Error(`put ${key}: ${a.status} ${JSON.stringify(a.body)}`);
  return { revision: Number(a.body.header.revision) };
}

export async function rangePrefix(url: string, prefix: string): Promise<{ revision: number; kvs: JsonKv[] }> {
  const end = Buffer.from(prefix, 'utf8');
  end[end.length - 1]! += 1;
  const a = await post(url, '/v3/kv/range', { key: b64(prefix), range_end: end.toString('base64') });
  if (a.status !== 200) throw new Error(`range ${prefix}: ${a.status} ${JSON.stringify(a.body)}`);
  return { revision: Number(a.body.header.revision), kvs: (a.body.kvs ?? []) as JsonKv[] };
}
