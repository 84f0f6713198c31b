// A KvService for gateway tests: records every call (the decoded internal request) and answers
// with canned internal responses, or throws a canned error. No member, no store: this tests the
// codec and the HTTP edge only.

import type {
  CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, KvService, PutRequest,
  PutResponse, RangeRequest, RangeResponse, ResponseHeader, StatusResponse, TxnRequest, TxnResponse,
} from '../../src/api/types.js';

export const HEADER: ResponseHeader = { clusterId: 14841639068965178418n, memberId: 10276657743932975437n, revision: 7, raftTerm: 2 };

export type Call =
  | { method: 'range'; req: RangeRequest }
  | { method: 'put'; req: PutRequest }
  | { method: 'deleteRange'; req: DeleteRangeRequest }
  | { method: 'txn'; req: TxnRequest }
  | { method: 'compact'; req: CompactionRequest }
  | { method: 'status' };

export class FakeKv implements KvService {
  readonly calls: Call[] = [];
  /** Thrown by the next call instead of answering (then cleared). */
  failWith: unknown = undefined;
  rangeAnswer: RangeResponse = { header: HEADER, kvs: [], more: false, count: 0 };
  putAnswer: PutResponse = { header: HEADER };
  deleteAnswer: DeleteRangeResponse = { header: HEADER, deleted: 0, prevKvs: [] };
  txnAnswer: TxnResponse = { header: HEADER, succeeded: true, responses: [] };
  compactAnswer: CompactionResponse = { header: HEADER };
  statusAnswer: StatusResponse = {
    header: HEADER, version: '3.4.0', dbSize: 20480, leader: HEADER.memberId, raftIndex: 9, raftTerm: 2,
    raftAppliedIndex: 9, errors: [], dbSizeInUse: 16384, isLearner: false,
  };

  private answer<T>(call: Call, value: T): Promise<T> {
    this.calls.push(call);
    const err = this.failWith;
    if (err !== undefined) {
      this.failWith = undefined;
      return Promise.reject(err);
    }
    return Promise.resolve(value);
  }

  range(req: RangeRequest): Promise<RangeResponse> { return this.answer({ method: 'range', req }, this.rangeAnswer); }
  put(req: PutRequest): Promise<PutResponse> { return this.answer({ method: 'put', req }, this.putAnswer); }
  deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse> { return this.answer({ method: 'deleteRange', req }, this.deleteAnswer); }
  txn(req: TxnRequest): Promise<TxnResponse> { return this.answer({ method: 'txn', req }, this.txnAnswer); }
  compact(req: CompactionRequest): Promise<CompactionResponse> { return this.answer({ method: 'compact', req }, this.compactAnswer); }
  status(): Promise<StatusResponse> { return this.answer({ method: 'status' }, this.statusAnswer); }
}
