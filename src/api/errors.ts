// Errors are data. Every error a client can see is one row of this table: a stable name, the
// gRPC status code etcd answers with, and etcd's exact message text. The HTTP status comes from
// the gRPC code the way grpc-gateway maps it, so the JSON gateway answers exactly as etcd's does:
// `{"error": message, "message": message, "code": grpcCode}` with that status.
//
// Errors cross thread boundaries as `{ code, message }` (a structured clone of an Error loses its
// class), and `EtcdError.from()` turns them back into an error on the receiving side.

/** gRPC status codes (google.golang.org/grpc/codes). */
export const GrpcCode = {
  OK: 0,
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;
export type GrpcCode = (typeof GrpcCode)[keyof typeof GrpcCode];

/** grpc-gateway's mapping from gRPC code to HTTP status. */
export function httpStatusOf(code: GrpcCode): number {
  switch (code) {
    case GrpcCode.OK: return 200;
    case GrpcCode.Canceled: return 408;
    case GrpcCode.Unknown: return 500;
    case GrpcCode.InvalidArgument: return 400;
    case GrpcCode.DeadlineExceeded: return 504;
    case GrpcCode.NotFound: return 404;
    case GrpcCode.AlreadyExists: return 409;
    case GrpcCode.PermissionDenied: return 403;
    case GrpcCode.ResourceExhausted: return 429;
    case GrpcCode.FailedPrecondition: return 412;
    case GrpcCode.Aborted: return 409;
    case GrpcCode.OutOfRange: return 400;
    case GrpcCode.Unimplemented: return 501;
    case GrpcCode.Internal: return 500;
    case GrpcCode.Unavailable: return 503;
    case GrpcCode.DataLoss: return 500;
    case GrpcCode.Unauthenticated: return 401;
  }
}

const C = GrpcCode;

/** etcd's client-visible errors (api/v3rpc/rpctypes), by name. */
export const ERRORS = {
  EmptyKey: { grpc: C.InvalidArgument, message: 'etcdserver: key is not provided' },
  KeyNotFound: { grpc: C.InvalidArgument, message: 'etcdserver: key not found' },
  ValueProvided: { grpc: C.InvalidArgument, message: 'etcdserver: value is provided' },
  LeaseProvided: { grpc: C.InvalidArgument, message: 'etcdserver: lease is provided' },
  TooManyOps: { grpc: C.InvalidArgument, message: 'etcdserver: too many operations in txn request' },
  DuplicateKey: { grpc: C.InvalidArgument, message: 'etcdserver: duplicate key given in txn request' },
  Compacted: { grpc: C.OutOfRange, message: 'etcdserver: mvcc: required revision has been compacted' },
  FutureRev: { grpc: C.OutOfRange, message: 'etcdserver: mvcc: required revision is a future revision' },
  NoSpace: { grpc: C.ResourceExhausted, message: 'etcdserver: mvcc: database space exceeded' },

  LeaseNotFound: { grpc: C.NotFound, message: 'etcdserver: requested lease not found' },
  LeaseExist: { grpc: C.FailedPrecondition, message: 'etcdserver: lease already exists' },
  LeaseTTLTooLarge: { grpc: C.OutOfRange, message: 'etcdserver: too large lease TTL' },

  MemberExist: { grpc: C.FailedPrecondition, message: 'etcdserver: member ID already exist' },
  PeerURLExist: { grpc: C.FailedPrecondition, message: 'etcdserver: Peer URLs already exists' },
  MemberNotEnoughStarted: {
    grpc: C.FailedPrecondition,
    message: 'etcdserver: re-configuration failed due to not enough started members',
  },
  MemberBadURLs: { grpc: C.InvalidArgument, message: 'etcdserver: given member URLs are invalid' },
  MemberNotFound: { grpc: C.NotFound, message: 'etcdserver: member not found' },
  MemberNotLearner: { grpc: C.FailedPrecondition, message: 'etcdserver: can only promote a learner member' },
  LearnerNotReady: {
    grpc: C.FailedPrecondition,
    message: 'etcdserver: can only promote a learner member which is in sync with leader',
  },
  TooManyLearners: { grpc: C.FailedPrecondition, message: 'etcdserver: too many learner members in cluster' },

  RequestTooLarge: { grpc: C.InvalidArgument, message: 'etcdserver: request is too large' },
  TooManyRequests: { grpc: C.ResourceExhausted, message: 'etcdserver: too many requests' },

  NoLeader: { grpc: C.Unavailable, message: 'etcdserver: no leader' },
  NotLeader: { grpc: C.FailedPrecondition, message: 'etcdserver: not leader' },
  LeaderChanged: { grpc: C.Unavailable, message: 'etcdserver: leader changed' },
  NotCapable: { grpc: C.Unavailable, message: 'etcdserver: not capable' },
  Stopped: { grpc: C.Unavailable, message: 'etcdserver: server stopped' },
  Timeout: { grpc: C.Unavailable, message: 'etcdserver: request timed out' },
  TimeoutDueToLeaderFail: {
    grpc: C.Unavailable,
    message: 'etcdserver: request timed out, possibly due to previous leader failure',
  },
  TimeoutDueToConnectionLost: {
    grpc: C.Unavailable,
    message: 'etcdserver: request timed out, possibly due to connection lost',
  },
  Unhealthy: { grpc: C.Unavailable, message: 'etcdserver: unhealthy cluster' },
  Corrupt: { grpc: C.DataLoss, message: 'etcdserver: corrupt cluster' },
  NotSupportedForLearner: { grpc: C.Unavailable, message: 'etcdserver: rpc not supported for learner' },
  BadLeaderTransferee: { grpc: C.FailedPrecondition, message: 'etcdserver: bad leader transferee' },
} as const satisfies Record<string, { grpc: GrpcCode; message: string }>;

export type ErrorName = keyof typeof ERRORS;

/** The plain form an error takes when it crosses a thread boundary. */
export interface ErrorData {
  grpc: GrpcCode;
  message: string;
}

export class EtcdError extends Error {
  readonly grpc: GrpcCode;

  constructor(grpc: GrpcCode, message: string) {
    super(message);
    this.name = 'EtcdError';
    this.grpc = grpc;
  }

  /** One of etcd's named errors. */
  static of(name: ErrorName): EtcdError {
    const row = ERRORS[name];
    return new EtcdError(row.grpc, row.message);
  }

  /** A bad-request error with a free text (JSON and base64 decoding failures, as etcd words them). */
  static invalidArgument(message: string): EtcdError {
    return new EtcdError(GrpcCode.InvalidArgument, message);
  }

  /** Rebuilds an error that crossed a thread boundary. */
  static from(data: ErrorData): EtcdError {
    return new EtcdError(data.grpc, data.message);
  }

  toData(): ErrorData {
    return { grpc: this.grpc, message: this.message };
  }

  get httpStatus(): number {
    return httpStatusOf(this.grpc);
  }
}

export function isErrorData(x: unknown): x is ErrorData {
  return typeof x === 'object' && x !== null && typeof (x as ErrorData).grpc === 'number' &&
    typeof (x as ErrorData).message === 'string';
}
