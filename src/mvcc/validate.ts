// Request checks that need no store state, run BEFORE a request is proposed (etcd's v3rpc
// checkRangeRequest / checkPutRequest / checkDeleteRequest / checkTxnRequest / checkIntervals),
// so a bad request never reaches the raft log. Rules as etcd 3.4 applies them:
// - every key (and every compare key) must be non-empty (EmptyKey);
// - put: ignore_value with a value is ValueProvided, ignore_lease with a lease LeaseProvided;
// - txn: more than maxTxnOps compares, or success ops, or failure ops is TooManyOps; a nested
//   txn gets the budget left by its parent (maxTxnOps minus the parent's largest list);
//   an op with no request in it is KeyNotFound (etcd's answer to an empty RequestOp);
// - txn duplicates (DuplicateKey), checked per branch: a key put twice, or put and deleted
//   (range or single key), at this level or in a nested txn; the same key in both branches of a
//   nested txn is fine (only one runs), and deletes may overlap each other. A delete's range is
//   compared literally as [key, range_end), so range_end "\0" (all keys >= key) overlaps nothing:
//   that is etcd's quirk, kept for compatibility.
import type {
  CompareResult, CompareTarget, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, SortOrder, SortTarget, TxnRequest,
} from '../api/types.js';
import { EtcdError } from '../api/errors.js';
import { keyString } from './tree-index.js';

/** etcd's default --max-txn-ops. */
export const MAX_TXN_OPS_DEFAULT = 128;

const SORT_ORDERS: ReadonlySet<string> = new Set<SortOrder>(['NONE', 'ASCEND', 'DESCEND']);
const SORT_TARGETS: ReadonlySet<string> = new Set<SortTarget>(['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE']);
const COMPARE_RESULTS: ReadonlySet<string> = new Set<CompareResult>(['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL']);
const COMPARE_TARGETS: ReadonlySet<string> = new Set<CompareTarget>(['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE']);

export function validateRange(req: RangeRequest): void {
  if (req.key.length === 0) throw EtcdError.of('EmptyKey');
  // The gateway's schemas reject unknown enums first; checked again so that no op can fail
  // half-way through a txn that has already written.
  if (req.sortOrder !== undefined && !SORT_ORDERS.has(req.sortOrder)) throw EtcdError.invalidArgument(`invalid sort order ${req.sortOrder}`);
  if (req.sortTarget !== undefined && !SORT_TARGETS.has(req.sortTarget)) throw EtcdError.invalidArgument(`invalid sort target ${req.sortTarget}`);
}

export function validatePut(req: PutRequest): void {
  if (req.key.length === 0) throw EtcdError.of('EmptyKey');
  if (req.ignoreValue === true && req.value.length !== 0) throw EtcdError.of('ValueProvided');
  if (req.ignoreLease === true && (req.lease ?? 0n) !== 0n) throw EtcdError.of('LeaseProvided');
}

export function validateDeleteRange(req: DeleteRangeRequest): void {
  if (req.key.length === 0) throw EtcdError.of('EmptyKey');
}

export function validateTxn(req: TxnRequest, maxTxnOps = MAX_TXN_OPS_DEFAULT): void {
  checkTxnShape(req, maxTxnOps);
  checkIntervals(req.success);
  checkIntervals(req.failure);
}

function checkTxnShape(req: TxnRequest, maxTxnOps: number): void {
  const opc = Math.max(req.compare.length, req.success.length, req.failure.length);
  if (opc > maxTxnOps) throw EtcdError.of('TooManyOps');
  for (const c of req.compare) {
    if (c.key.length === 0) throw EtcdError.of('EmptyKey');
    if (!COMPARE_RESULTS.has(c.result)) throw EtcdError.invalidArgument(`invalid compare result ${c.result}`);
    if (!COMPARE_TARGETS.has(c.target)) throw EtcdError.invalidArgument(`invalid compare target ${c.target}`);
  }
  for (const op of req.success) checkRequestOp(op, maxTxnOps - opc);
  for (const op of req.failure) checkRequestOp(op, maxTxnOps - opc);
}

function checkRequestOp(op: RequestOp, maxTxnOps: number): void {
  if ('requestRange' in op && op.requestRange !== undefined) return validateRange(op.requestRange);
  if ('requestPut' in op && op.requestPut !== undefined) return validatePut(op.requestPut);
  if ('requestDeleteRange' in op && op.requestDeleteRange !== undefined) return validateDeleteRange(op.requestDeleteRange);
  if ('requestTxn' in op && op.requestTxn !== undefined) return checkTxnShape(op.requestTxn, maxTxnOps);
  throw EtcdError.of('KeyNotFound');
}

/** A delete's interval: [begin, end) literally, or the single key when end is undefined. */
interface DeleteInterval {
  begin: string;
  end: string | undefined;
}

function deletesKey(dels: readonly DeleteInterval[], key: string): boolean {
  for (const d of dels) {
    if (d.end === undefined ? d.begin === key : d.begin <= key && key < d.end) return true;
  }
  return false;
}

/** Puts and deletes of one branch (and its nested txns); throws DuplicateKey on an overlap. */
function checkIntervals(ops: readonly RequestOp[]): { puts: Set<string>; dels: DeleteInterval[] } {
  const dels: DeleteInterval[] = [];
  for (const op of ops) {
    if (!('requestDeleteRange' in op)) continue;
    const d = op.requestDeleteRange;
    const end = d.rangeEnd !== undefined && d.rangeEnd.length > 0 ? keyString(d.rangeEnd) : undefined;
    dels.push({ begin: keyString(d.key), end });
  }
  const puts = new Set<string>();
  for (const op of ops) {
    if (!('requestTxn' in op)) continue;
    const then = checkIntervals(op.requestTxn.success);
    const otherwise = checkIntervals(op.requestTxn.failure);
    for (const k of then.puts) {
      if (puts.has(k) || deletesKey(dels, k)) throw EtcdError.of('DuplicateKey');
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      if ((puts.has(k) && !then.puts.has(k)) || deletesKey(dels, k)) throw EtcdError.of('DuplicateKey');
      puts.add(k);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of ops) {
    if (!('requestPut' in op)) continue;
    const k = keyString(op.requestPut.key);
    if (puts.has(k) || deletesKey(dels, k)) throw EtcdError.of('DuplicateKey');
    puts.add(k);
  }
  return { puts, dels };
}
