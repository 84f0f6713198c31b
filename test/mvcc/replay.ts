// Test helper: runs a scenario's steps on an MvccStore (committing after each step, as the
// apply actor does after each batch) and answers each step in etcd's JSON gateway form, errors
// as `{ error, message, code }` the way etcd's gateway writes them.
import { EtcdError } from '../../src/api/errors.js';
import type { MvccStore } from '../../src/mvcc/store.js';
import { header } from '../../src/mvcc/range-eval.js';
import { responseJson } from './etcd-json.js';
import type { Step } from './scenarios.js';

export type Answer = Record<string, unknown>;

async function run(store: MvccStore, step: Step): Promise<unknown> {
  if ('put' in step) return store.put(step.put);
  if ('range' in step) return store.range(step.range);
  if ('del' in step) return store.deleteRange(step.del);
  if ('txn' in step) return store.txn(step.txn);
  const { done } = store.compact(step.compact.revision);
  const resp = { header: header(store.currentRevision) };
  if (step.compact.physical === true) {
    await store.commit();
    await done;
  }
  return resp;
}

export async function answer(store: MvccStore, step: Step): Promise<Answer> {
  try {
    const resp = await run(store, step);
    await store.commit();
    return responseJson(resp);
  } catch (err) {
    if (!(err instanceof EtcdError)) throw err;
    return { error: err.message, message: err.message, code: err.grpc };
  }
}
