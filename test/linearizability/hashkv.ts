// A member's HashKV over the JSON API, for tests that compare members (hashkv.test.ts, and the
// cluster tests: every member must report the same hash at the same revision).

import { post } from '../helpers/kv-client.js';

export interface HashKv {
  hash: number;
  compactRevision: number;
  revision: number;
}

/** POST /v3/maintenance/hashkv; throws with the body on an error answer. */
export async function hashKvOf(url: string, revision = 0): Promise<HashKv> {
  const a = await post(url, '/v3/maintenance/hashkv', { revision });
  if (a.status !== 200) throw new Error(`hashkv ${revision} on ${url}: ${a.status} ${JSON.stringify(a.body)}`);
  return {
    hash: Number(a.body.hash ?? 0),
    compactRevision: Number(a.body.compact_revision ?? 0),
    revision: Number(a.body.header.revision),
  };
}
