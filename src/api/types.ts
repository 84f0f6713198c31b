// The request model: etcd's v3 protobuf messages (etcdserverpb, mvccpb) as plain TypeScript
// records. Every thread of a member speaks these shapes; the JSON gateway (and a later gRPC
// endpoint) are encodings of them at the edge.
//
// Conventions, so that the codecs stay mechanical:
// - field names are the proto names in camelCase (`create_revision` -> `createRevision`);
// - bytes are `Uint8Array`;
// - revisions, versions, counts, raft indexes and terms are `number` (always safe integers:
//   2^53 revisions at a million writes a second last 285 years);
// - ids that etcd draws at random over the whole 64-bit space (lease, member, cluster ids) are
//   `bigint`, because they do not fit in a double;
// - optional fields are optional properties, absent meaning the proto zero value.

export interface ResponseHeader {
  clusterId: bigint;
  memberId: bigint;
  revision: number;
  raftTerm: number;
}

export interface KeyValue {
  key: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
  value: Uint8Array;
  lease: bigint; // 0n: no lease
}

export type SortOrder = 'NONE' | 'ASCEND' | 'DESCEND';
export type SortTarget = 'KEY' | 'VERSION' | 'CREATE' | 'MOD' | 'VALUE';

export interface RangeRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  limit?: number;
  revision?: number;
  sortOrder?: SortOrder;
  sortTarget?: SortTarget;
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
  minModRevision?: number;
  maxModRevision?: number;
  minCreateRevision?: number;
  maxCreateRevision?: number;
}

export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

export interface PutRequest {
  key: Uint8Array;
  value: Uint8Array;
  lease?: bigint;
  prevKv?: boolean;
  ignoreValue?: boolean;
  ignoreLease?: boolean;
}

export interface PutResponse {
  header: ResponseHeader;
  prevKv?: KeyValue;
}

export interface DeleteRangeRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  prevKv?: boolean;
}

export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: number;
  prevKvs: KeyValue[];
}

export type RequestOp =
  | { requestRange: RangeRequest }
  | { requestPut: PutRequest }
  | { requestDeleteRange: DeleteRangeRequest }
  | { requestTxn: TxnRequest };

export type ResponseOp =
  | { responseRange: RangeResponse }
  | { responsePut: PutResponse }
  | { responseDeleteRange: DeleteRangeResponse }
  | { responseTxn: TxnResponse };

export type CompareResult = 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL';
export type CompareTarget = 'VERSION' | 'CREATE' | 'MOD' | 'VALUE' | 'LEASE';

export interface Compare {
  result: CompareResult;
  target: CompareTarget;
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  // Exactly one of these, chosen by `target` (the proto's target_union).
  version?: number;
  createRevision?: number;
  modRevision?: number;
  value?: Uint8Array;
  lease?: bigint;
}

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
}

export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface CompactionRequest {
  revision: number;
  physical?: boolean;
}

export interface CompactionResponse {
  header: ResponseHeader;
}

export interface StatusResponse {
  header: ResponseHeader;
  version: string;
  dbSize: number;
  leader: bigint;
  raftIndex: number;
  raftTerm: number;
  raftAppliedIndex: number;
  errors: string[];
  dbSizeInUse: number;
  isLearner: boolean;
}

/** What the gateway needs from a member for the KV and maintenance services. */
export interface KvService {
  range(req: RangeRequest): Promise<RangeResponse>;
  put(req: PutRequest): Promise<PutResponse>;
  deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse>;
  txn(req: TxnRequest): Promise<TxnResponse>;
  compact(req: CompactionRequest): Promise<CompactionResponse>;
  status(): Promise<StatusResponse>;
  /** etcd's Hash (absent: the gateway answers Unimplemented). */
  hash?(): Promise<HashResponse>;
  /** etcd's HashKV (absent: the gateway answers Unimplemented). */
  hashKV?(req: HashKVRequest): Promise<HashKVResponse>;
}

// ---- Lease service ---------------------------------------------------------------------------
// etcd's proto spells these fields `ID`, `TTL`, `grantedTTL` (already camelCase, and the JSON
// gateway uses them as is). Ids are int64 (`bigint`); TTLs are seconds (`number`, safe integers:
// the largest allowed TTL is 9,000,000,000 s).

export interface LeaseGrantRequest {
  /** Requested TTL in seconds; raised to the minimum TTL at apply, > 9e9 is LeaseTTLTooLarge. */
  TTL: number;
  /** Client-chosen id; absent or 0n: the server chooses one before proposing. */
  ID?: bigint;
}

export interface LeaseGrantResponse {
  header: ResponseHeader;
  ID: bigint;
  /** The TTL granted (after the minimum TTL rule). */
  TTL: number;
  error?: string;
}

export interface LeaseRevokeRequest {
  ID: bigint;
}

export interface LeaseRevokeResponse {
  header: ResponseHeader;
}

export interface LeaseKeepAliveRequest {
  ID: bigint;
}

export interface LeaseKeepAliveResponse {
  header: ResponseHeader;
  ID: bigint;
  /** The new TTL; 0 when the lease is not found (etcd answers, it does not fail the stream). */
  TTL: number;
}

export interface LeaseTimeToLiveRequest {
  ID: bigint;
  /** Also list the keys attached to the lease. */
  keys?: boolean;
}

export interface LeaseTimeToLiveResponse {
  header: ResponseHeader;
  ID: bigint;
  /** Remaining seconds (truncated); -1 when the lease is not found. */
  TTL: number;
  /** The TTL granted, in seconds; 0 when not found. */
  grantedTTL: number;
  keys: Uint8Array[];
}

export type LeaseLeasesRequest = Record<string, never>;

export interface LeaseStatus {
  ID: bigint;
}

export interface LeaseLeasesResponse {
  header: ResponseHeader;
  leases: LeaseStatus[];
}

// ---- Maintenance: Hash and HashKV --------------------------------------------------------------
// `hash` is a uint32 (a CRC-32), so the JSON gateway writes it as a number, not a string.

/** Hash: a CRC-32 over the whole backend (every bucket but the consistent index), as etcd's. */
export interface HashResponse {
  header: ResponseHeader;
  hash: number;
}

export interface HashKVRequest {
  /** The revision to hash up to; absent or 0: the current revision. */
  revision?: number;
}

/** HashKV: a CRC-32 over the KV history a member at `revision` must hold (see MvccStore.hashKV). */
export interface HashKVResponse {
  header: ResponseHeader;
  hash: number;
  /** The store's compaction revision (-1: never compacted). */
  compactRevision: number;
}

/** What the maintenance routes need for Hash and HashKV. */
export type MaintenanceHashService = Required<Pick<KvService, 'hash' | 'hashKV'>>;
