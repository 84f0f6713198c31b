// The lease service (etcdserverpb.Lease) as the gateway calls it. The member implements it
// (src/lease/member-lease.ts); the JSON routes (src/gateway/routes/lease.ts) depend only on this.

import type {
  LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseLeasesResponse,
  LeaseRevokeRequest, LeaseRevokeResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
} from '../api/types.js';

export interface LeaseService {
  /** Through raft. Errors: LeaseTTLTooLarge, LeaseExist (a client-chosen id in use). */
  leaseGrant(req: LeaseGrantRequest): Promise<LeaseGrantResponse>;
  /** Through raft; deletes every attached key in one revision. Errors: LeaseNotFound. */
  leaseRevoke(req: LeaseRevokeRequest): Promise<LeaseRevokeResponse>;
  /** Answered by the leader; an unknown lease answers TTL 0 (etcd keeps the stream open). */
  leaseKeepAlive(req: LeaseKeepAliveRequest): Promise<LeaseKeepAliveResponse>;
  /** An unknown lease answers TTL -1 (etcd's gRPC layer turns not-found into that). */
  leaseTimeToLive(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse>;
  leaseLeases(): Promise<LeaseLeasesResponse>;
}
