// `txn-cas`: compare-and-swap through `/v3/kv/txn`. Client i owns key slot `i % K`; it remembers
// the key's mod_revision and sends `if mod_revision(key) == r then put(key) else range(key)`.
// A success moves r to the answer's header revision (the put's revision); a failure reads the
// current mod_revision from the failure branch's range and is counted as `cas-conflict`. With
// K >= clients (the default) every client has its own key and conflicts only happen on the
// first request of a run (r starts at 0, "key absent"); `--keys 1` makes all clients fight.

import type { ClientContext, ClientScript, Scenario } from '../scenario.js';
import { keyTableB64, valueB64 } from '../scenario.js';

interface TxnAnswer {
  succeeded?: boolean;
  header?: { revision?: string };
  responses?: Array<{
    response_range?: RangeAnswer;
    responseRange?: RangeAnswer;
  }>;
}
interface RangeAnswer {
  kvs?: Array<{ mod_revision?: string; modRevision?: string }>;
}

/** The key's mod_revision after this answer (grpc-gateway omits zero values and false). */
export function revisionAfterCas(answer: TxnAnswer): { revision: number; conflict: boolean } {
  if (answer.succeeded === true) {
    const rev = Number(answer.header?.revision);
    if (!Number.isSafeInteger(rev) || rev <= 0) throw new Error('txn succeeded without a header revision');
    return { revision: rev, conflict: false };
  }
  const first = answer.responses?.[0];
  const range = first?.response_range ?? first?.responseRange;
  if (range === undefined) throw new Error('failed txn has no range response');
  const kv = range.kvs?.[0];
  const rev = kv === undefined ? 0 : Number(kv.mod_revision ?? kv.modRevision ?? 0);
  if (!Number.isSafeInteger(rev) || rev < 0) throw new Error('failed txn has a bad mod_revision');
  return { revision: rev, conflict: true };
}

function casClient(ctx: ClientContext): ClientScript {
  const keys = keyTableB64(ctx.options.keyCount);
  const key = keys[ctx.clientIndex % keys.length];
  const value = valueB64(ctx.options.valueBytes, ctx.clientIndex + 1);
  const onSuccess = `"success":[{"request_put":{"key":"${key}","value":"${value}"}}]`;
  const onFailure = `"failure":[{"request_range":{"key":"${key}"}}]`;
  let modRevision = 0;
  return {
    next: () => ({
      method: 'POST',
      path: '/v3/kv/txn',
      body: `{"compare":[{"key":"${key}","target":"MOD","result":"EQUAL","mod_revision":"${modRevision}"}],${onSuccess},${onFailure}}`,
    }),
    check: (body) => {
      const after = revisionAfterCas(JSON.parse(body.toString('utf8')) as TxnAnswer);
      modRevision = after.revision;
      return after.conflict ? 'cas-conflict' : undefined;
    },
  };
}

const scenario: Scenario = {
  name: 'txn-cas',
  description: 'compare-and-swap txns (compare mod_revision, put on success, range on failure)',
  createClient: casClient,
};
export default scenario;
