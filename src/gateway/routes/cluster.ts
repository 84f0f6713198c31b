// The Cluster service as JSON routes (POST {prefix}/cluster/member/{list,add,remove,update,promote})
// and Maintenance's MoveLeader (POST {prefix}/maintenance/transfer-leadership), which etcd's
// gateway serves at that path. The member does the work (src/server/membership.ts); this file only
// converts JSON.
//
// Answers (checked with curl against etcd 3.4): a Member is {"ID","name","peerURLs","clientURLs",
// "isLearner"} with ids as decimal strings and empty/false fields left out (a member added but
// not started has no name and no client URLs); the header has no revision; add answers the new
// member as "member" plus the whole list; MoveLeader answers `{}`.
//
// Promote: only the leader knows whether a learner has caught up, so a follower's member answers
// NotLeader and this route forwards the request to the leader's published client URL (etcd
// forwards it to the leader over its peer HTTP API) and passes the leader's answer through.

import assert from 'node:assert/strict';
import { ERRORS, EtcdError, GrpcCode } from '../../api/errors.js';
import type { MembershipRequest, MemberInfo } from '../../server/membership.js';
import {
  MemberAddRequestJson, MemberIdRequestJson, MemberListRequestJson, MemberUpdateRequestJson, MoveLeaderRequestJson,
} from '../../../schemas/cluster.js';
import type { GatewayPlugin } from '../app.js';
import { headerJson } from '../codec.js';
import { postJson } from '../http.js';

export interface ClusterService {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  /** The member list; with a request, the list once that change is applied. */
  askMembers(req?: MembershipRequest): Promise<{ members: MemberInfo[]; term: number; member?: MemberInfo }>;
  transferLeader(target: bigint): Promise<unknown>;
  /** The leader's id as this member knows it (0: none). */
  status(): Promise<{ leader: bigint }>;
}

/** Bound on a promote forwarded to the leader. */
const FORWARD_TIMEOUT_MS = 5000;

type MembersResult = Awaited<ReturnType<ClusterService['askMembers']>>;

/** Promote on this member; a follower forwards it to the leader (see header). */
async function promote(svc: ClusterService, req: MembershipRequest): Promise<MembersResult | { raw: string }> {
  try {
    return await svc.askMembers(req);
  } catch (err) {
    if (!(err instanceof EtcdError) || err.message !== ERRORS.NotLeader.message) throw err;
    const { leader } = await svc.status();
    const { members } = await svc.askMembers();
    const url = members.find((m) => m.id === leader && m.id !== svc.memberId)?.clientURLs[0];
    if (url === undefined || req.kind !== 'promote') throw err;
    const res = await fetch(`${url.replace(/\/$/, '')}/v3/cluster/member/promote`, {
      method: 'POST', body: JSON.stringify({ ID: req.id.toString() }), signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
    }).catch(() => { throw EtcdError.of('Timeout'); });
    const raw = await res.text();
    if (res.ok) return { raw };
    const body = JSON.parse(raw) as { code?: number; message?: string };
    throw new EtcdError((body.code ?? GrpcCode.Unknown) as GrpcCode, body.message ?? raw);
  }
}

/** Protobuf bytes of a few ids and a list of URLs (for the receive limit). */
const ID_BYTES_MAX = 11;
const urlsBytes = (urls: readonly string[] | undefined): number => (urls ?? []).reduce((n, u) => n + u.length + 3, 0);

export function memberJson(m: MemberInfo): string {
  assert.ok(m.id > 0n, 'a member id is never 0');
  const urls = (name: string, list: string[]) => (list.length === 0 ? '' : `,"${name}":${JSON.stringify(list)}`);
  return `{"ID":"${m.id}"${m.name === '' ? '' : `,"name":${JSON.stringify(m.name)}`}${urls('peerURLs', m.peerURLs)}` +
    `${urls('clientURLs', m.clientURLs)}${m.isLearner ? ',"isLearner":true' : ''}}`;
}

export function membersResponseJson(svc: Pick<ClusterService, 'clusterId' | 'memberId'>, r: { members: MemberInfo[]; term: number; member?: MemberInfo }): string {
  const header = headerJson({ clusterId: svc.clusterId, memberId: svc.memberId, revision: 0, raftTerm: r.term });
  const member = r.member ? `,"member":${memberJson(r.member)}` : '';
  const members = r.members.length === 0 ? '' : `,"members":[${r.members.map(memberJson).join(',')}]`;
  return `{"header":${header}${member}${members}}`;
}

export function clusterService(svc: ClusterService): GatewayPlugin {
  return async (app, { maxRecvBytes }) => {
    const toJson = (r: Awaited<ReturnType<ClusterService['askMembers']>>) => membersResponseJson(svc, r);
    postJson(app, '/cluster/member/list', {
      schema: MemberListRequestJson, sizeOf: () => 0, fromJson: () => undefined, call: () => svc.askMembers(), toJson,
    }, maxRecvBytes);
    postJson(app, '/cluster/member/add', {
      schema: MemberAddRequestJson, sizeOf: (j) => urlsBytes(j.peerURLs) + 2,
      fromJson: (j): MembershipRequest => ({ kind: 'add', peerURLs: j.peerURLs ?? [], isLearner: j.isLearner === true }),
      call: (req) => svc.askMembers(req), toJson,
    }, maxRecvBytes);
    postJson(app, '/cluster/member/remove', {
      schema: MemberIdRequestJson, sizeOf: () => ID_BYTES_MAX,
      fromJson: (j): MembershipRequest => ({ kind: 'remove', id: j.ID ?? 0n }), call: (req) => svc.askMembers(req), toJson,
    }, maxRecvBytes);
    postJson(app, '/cluster/member/promote', {
      schema: MemberIdRequestJson, sizeOf: () => ID_BYTES_MAX,
      fromJson: (j): MembershipRequest => ({ kind: 'promote', id: j.ID ?? 0n }), call: (req) => promote(svc, req),
      toJson: (r) => ('raw' in r ? r.raw : toJson(r)),
    }, maxRecvBytes);
    postJson(app, '/cluster/member/update', {
      schema: MemberUpdateRequestJson, sizeOf: (j) => ID_BYTES_MAX + urlsBytes(j.peerURLs),
      fromJson: (j): MembershipRequest => ({ kind: 'update', id: j.ID ?? 0n, peerURLs: j.peerURLs ?? [] }),
      call: (req) => svc.askMembers(req), toJson,
    }, maxRecvBytes);
    postJson(app, '/maintenance/transfer-leadership', {
      schema: MoveLeaderRequestJson, sizeOf: () => ID_BYTES_MAX, fromJson: (j) => j.targetID ?? 0n,
      call: (target) => svc.transferLeader(target), toJson: () => '{}',
    }, maxRecvBytes);
  };
}
