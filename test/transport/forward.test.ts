// Forwarding between members: the ForwardRequest / ForwardResponse frames (round trips, the
// split into frames, and every malformed length or bound ending in FrameError), the lease bodies
// they carry (round trips, hostile JSON rejected), PeerTransport's sendForward / onForward between
// two real transports, PeerForwarder (batching, deadline, cap, connection loss, the serving side)
// and MemberLeases' retry loop around a forwarder.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { EtcdError, ERRORS, GrpcCode } from '../../src/api/errors.js';
import type { LeaseKeepAliveResponse, LeaseTimeToLiveResponse, ResponseHeader } from '../../src/api/types.js';
import { MemberLeases } from '../../src/lease/member-lease.js';
import type { LeaseForwarder } from '../../src/lease/member-lease.js';
import { FORWARD_PENDING_MAX, PeerForwarder } from '../../src/server/peer-forwarder.js';
import type { PeerForwarderDeps } from '../../src/server/peer-forwarder.js';
import {
  FORWARD_BODY_MAX_BYTES, FORWARD_FRAME_PAYLOAD_MAX_BYTES, FORWARD_ITEMS_PER_FRAME_MAX, FRAME_HEADER_BYTES, FrameError,
  FrameReader, FrameType, decodeForward, encodeForwardFrame, splitForwardItems,
} from '../../src/transport/codec.js';
import type { ForwardItem, Frame } from '../../src/transport/codec.js';
import {
  ForwardBodyError, decodeLeaseAnswerBody, decodeLeaseRequestBody, encodeLeaseAnswerBody, encodeLeaseRequestBody,
} from '../../src/transport/forward-lease.js';
import { mesh, startMember, waitFor } from './helpers.js';
import type { Member } from './helpers.js';

const U64_MAX = (1n << 64n) - 1n;

function oneFrame(buf: Buffer): Frame {
  const frames = new FrameReader().push(buf);
  assert.equal(frames.length, 1);
  return frames[0]!;
}

const body = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
const text = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

/** A payload built by hand: u32 count, then (u64 id, u32 length, bytes) per item. */
function rawPayload(count: number, items: Array<{ id: bigint; len: number; bytes: number }>): Buffer {
  const parts = [Buffer.alloc(4)];
  parts[0]!.writeUInt32LE(count, 0);
  for (const it of items) {
    const h = Buffer.alloc(12);
    h.writeBigUInt64LE(it.id, 0);
    h.writeUInt32LE(it.len, 8);
    parts.push(h, Buffer.alloc(it.bytes, 0x61));
  }
  return Buffer.concat(parts);
}

describe('forward frames', () => {
  it('round-trip ids at the u64 edges, empty and large bodies, both frame types', () => {
    const items: ForwardItem[] = [
      { id: 0n, body: new Uint8Array(0) },
      { id: U64_MAX, body: body('{"k":"keepAlive","ID":"7"}') },
      { id: 1n << 63n, body: new Uint8Array(100_000).fill(7) },
    ];
    for (const type of [FrameType.ForwardRequest, FrameType.ForwardResponse] as const) {
      const f = oneFrame(encodeForwardFrame(type, items));
      assert.equal(f.type, type);
      const back = decodeForward(f.payload);
      assert.deepEqual(back.map((i) => i.id), items.map((i) => i.id));
      back.forEach((it, i) => assert.deepEqual(new Uint8Array(it.body), items[i]!.body));
    }
  });

  it('decoded bodies share one copy of the payload, not the socket buffer', () => {
    const payload = oneFrame(encodeForwardFrame(FrameType.ForwardRequest, [{ id: 1n, body: body('a') }, { id: 2n, body: body('b') }])).payload;
    const [a, b] = decodeForward(payload);
    assert.ok(a && b);
    assert.equal(a.body.buffer, b.body.buffer);
    assert.notEqual(a.body.buffer, payload.buffer);
  });

  it('splits batches by item count and by bytes, keeping order', () => {
    const many: ForwardItem[] = Array.from({ length: 2 * FORWARD_ITEMS_PER_FRAME_MAX + 5 }, (_, i) => ({ id: BigInt(i), body: body('x') }));
    const groups = splitForwardItems(many);
    assert.deepEqual(groups.map((g) => g.length), [FORWARD_ITEMS_PER_FRAME_MAX, FORWARD_ITEMS_PER_FRAME_MAX, 5]);
    assert.deepEqual(groups.flat().map((i) => i.id), many.map((i) => i.id));
    const big: ForwardItem[] = Array.from({ length: 5 }, (_, i) => ({ id: BigInt(i), body: new Uint8Array(FORWARD_BODY_MAX_BYTES) }));
    const bigGroups = splitForwardItems(big);
    assert.ok(bigGroups.length >= 3, `5 bodies of the largest size in ${bigGroups.length} frames`);
    for (const g of bigGroups) encodeForwardFrame(FrameType.ForwardRequest, g); // each fits (asserted inside)
    assert.throws(() => splitForwardItems([{ id: 1n, body: new Uint8Array(FORWARD_BODY_MAX_BYTES + 1) }]), /exceeds the bound/);
    assert.throws(() => encodeForwardFrame(FrameType.ForwardRequest, []), /0 items/);
  });

  it('rejects every malformed count, length and bound with FrameError', () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      ['no items', rawPayload(0, []), /no items/],
      ['count above the bound', rawPayload(FORWARD_ITEMS_PER_FRAME_MAX + 1, []), /does not fit/],
      ['count larger than the frame', rawPayload(3, [{ id: 1n, len: 1, bytes: 1 }]), /does not fit|truncated/],
      ['body longer than the frame', rawPayload(1, [{ id: 1n, len: 10, bytes: 3 }]), /truncated/],
      ['body above the bound', rawPayload(1, [{ id: 1n, len: FORWARD_BODY_MAX_BYTES + 1, bytes: 0 }]), /exceeds the bound/],
      ['trailing bytes', Buffer.concat([rawPayload(1, [{ id: 1n, len: 2, bytes: 2 }]), Buffer.from([0])]), /trailing/],
      ['truncated count', Buffer.from([1, 0]), /truncated/],
      ['truncated id', Buffer.concat([rawPayload(1, []), Buffer.alloc(5)]), /does not fit|truncated/],
    ];
    for (const [what, payload, re] of cases) assert.throws(() => decodeForward(payload), (err: unknown) => err instanceof FrameError && re.test(err.message), what);
    assert.throws(() => decodeForward(new Uint8Array(FORWARD_FRAME_PAYLOAD_MAX_BYTES + 1)), FrameError);
  });

  it('the frame reader accepts the forward types and no type above them', () => {
    const f = encodeForwardFrame(FrameType.ForwardResponse, [{ id: 5n, body: body('x') }]);
    assert.equal(oneFrame(f).type, FrameType.ForwardResponse);
    const unknown = Buffer.from(f);
    unknown.writeUInt8(FrameType.ForwardResponse + 1, 4);
    assert.throws(() => new FrameReader().push(unknown), /unknown frame type 11/);
    const flipped = Buffer.from(f);
    flipped.writeUInt8(flipped.readUInt8(FRAME_HEADER_BYTES + 4) ^ 1, FRAME_HEADER_BYTES + 4); // an id bit: the crc catches it
    assert.throws(() => new FrameReader().push(flipped), /crc mismatch/);
  });
});

const HEADER: ResponseHeader = { clusterId: U64_MAX, memberId: 2n, revision: 9, raftTerm: 3 };

describe('forwarded lease bodies', () => {
  it('round-trip requests and answers, ids at the int64 edges', () => {
    for (const r of [
      { kind: 'keepAlive', req: { ID: -(1n << 63n) } },
      { kind: 'timeToLive', req: { ID: (1n << 63n) - 1n, keys: true } },
      { kind: 'timeToLive', req: { ID: 7n } },
    ] as const) assert.deepEqual(decodeLeaseRequestBody(encodeLeaseRequestBody(r)), r);
    const ka: LeaseKeepAliveResponse = { header: HEADER, ID: 7n, TTL: 5 };
    assert.deepEqual(decodeLeaseAnswerBody('keepAlive', encodeLeaseAnswerBody('keepAlive', { ok: ka })!), { ok: ka });
    const ttl: LeaseTimeToLiveResponse = { header: HEADER, ID: -7n, TTL: -1, grantedTTL: 0, keys: [new Uint8Array([0, 255, 1]), new Uint8Array(0)] };
    assert.deepEqual(decodeLeaseAnswerBody('timeToLive', encodeLeaseAnswerBody('timeToLive', { ok: ttl })!), { ok: ttl });
    const err = EtcdError.of('NotLeader').toData();
    assert.deepEqual(decodeLeaseAnswerBody('keepAlive', encodeLeaseAnswerBody('keepAlive', { err })!), { err });
  });

  it('an answer larger than the bound is not encoded', () => {
    const keys = Array.from({ length: 5 }, () => new Uint8Array(FORWARD_BODY_MAX_BYTES / 4));
    assert.equal(encodeLeaseAnswerBody('timeToLive', { ok: { header: HEADER, ID: 1n, TTL: 1, grantedTTL: 1, keys } }), undefined);
  });

  it('rejects hostile request and answer bodies with ForwardBodyError', () => {
    const badRequests = [
      'not json', '[]', '{"k":"revoke","ID":"1"}', '{"k":"keepAlive","ID":"9223372036854775808"}', '{"k":"keepAlive","ID":7}',
      '{"k":"keepAlive","ID":"1","extra":1}', '{"k":"timeToLive","ID":"1","keys":"yes"}', '{"k":"keepAlive","ID":"00000000000000000001"}',
    ];
    for (const b of badRequests) assert.throws(() => decodeLeaseRequestBody(body(b)), ForwardBodyError, b);
    const h = '"header":{"clusterId":"1","memberId":"2","revision":3,"raftTerm":4}';
    const badAnswers: Array<['keepAlive' | 'timeToLive', string]> = [
      ['keepAlive', `{"ok":{${h},"ID":"1","TTL":9000000001}}`],
      ['keepAlive', `{"ok":{${h},"ID":"1","TTL":1.5}}`],
      ['keepAlive', '{"ok":{"header":{"clusterId":"18446744073709551616","memberId":"2","revision":3,"raftTerm":4},"ID":"1","TTL":1}}'],
      ['keepAlive', `{"ok":{${h},"ID":"1","TTL":1},"err":{"grpc":1,"message":""}}`],
      ['keepAlive', '{"err":{"grpc":17,"message":"x"}}'],
      ['keepAlive', `{"err":{"grpc":14,"message":"${'x'.repeat(2000)}"}}`],
      ['timeToLive', `{"ok":{${h},"ID":"1","TTL":1}}`],
      ['timeToLive', `{"ok":{${h},"ID":"1","TTL":1,"grantedTTL":1,"keys":["not base64!"]}}`],
    ];
    for (const [kind, b] of badAnswers) assert.throws(() => decodeLeaseAnswerBody(kind, body(b)), ForwardBodyError, b);
    assert.throws(() => decodeLeaseRequestBody(new Uint8Array(FORWARD_BODY_MAX_BYTES + 1)), /exceeds the bound/);
  });
});

describe('PeerTransport forwarding', () => {
  const members: Member[] = [];
  after(async () => { await Promise.all(members.map((m) => m.t.close())); });

  it('carries request and response batches both ways; refuses without a connection or when blocked', async () => {
    const [a, b] = [await startMember(1n), await startMember(2n)];
    members.push(a, b);
    const got: Array<{ at: bigint; from: bigint; response: boolean; ids: bigint[]; bodies: string[] }> = [];
    for (const m of [a, b]) m.t.onForward((from, response, items) => got.push({ at: m.id, from, response, ids: items.map((i) => i.id), bodies: items.map((i) => text(i.body)) }));
    assert.equal(a.t.sendForward(2n, false, [{ id: 1n, body: body('x') }]), false, 'unknown peer');
    mesh([a, b]);
    await waitFor('connected', () => a.t.peerStatus(2n)?.connected === true && b.t.peerStatus(1n)?.connected === true);
    assert.ok(a.t.sendForward(2n, false, [{ id: 1n, body: body('q1') }, { id: 2n, body: body('q2') }]));
    assert.ok(b.t.sendForward(1n, true, [{ id: 2n, body: body('r2') }]));
    await waitFor('both batches', () => got.length === 2);
    assert.deepEqual(got.sort((x, y) => Number(x.at - y.at)), [
      { at: 1n, from: 2n, response: true, ids: [2n], bodies: ['r2'] },
      { at: 2n, from: 1n, response: false, ids: [1n, 2n], bodies: ['q1', 'q2'] },
    ]);
    a.t.setBlocked(true);
    assert.equal(a.t.sendForward(2n, false, [{ id: 3n, body: body('x') }]), false, 'blocked');
    a.t.setBlocked(false);
    await b.t.close();
    await waitFor('a sees b gone', () => a.t.peerStatus(2n)?.connected === false && a.unreachable.includes(2n));
    assert.equal(a.t.sendForward(2n, false, [{ id: 4n, body: body('x') }]), false, 'not connected');
  });
});

// ---- PeerForwarder ----

interface Harness {
  f: PeerForwarder;
  sent: Array<{ to: bigint; response: boolean; items: ForwardItem[] }>;
  leader: { id: bigint };
  warnings: string[];
}

function harness(over: Partial<PeerForwarderDeps> = {}): Harness {
  const sent: Harness['sent'] = [];
  const leader = { id: 2n };
  const warnings: string[] = [];
  const f = new PeerForwarder({
    memberId: 1n, leader: () => leader.id, send: (to, response, items) => sent.push({ to, response, items }),
    keepAliveHere: async (req) => ({ header: HEADER, ID: req.ID, TTL: 5 }),
    timeToLiveHere: async () => { throw EtcdError.of('NotLeader'); },
    logger: { warn: (_o, msg) => warnings.push(msg) },
    ...over,
  });
  return { f, sent, leader, warnings };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function answerBody(ttl: number): Uint8Array {
  return encodeLeaseAnswerBody('keepAlive', { ok: { header: HEADER, ID: 7n, TTL: ttl } })!;
}

async function rejection(p: Promise<unknown>): Promise<EtcdError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof EtcdError, String(err));
    return err;
  }
  assert.fail('expected a rejection');
}

describe('PeerForwarder', () => {
  it('batches one turn of requests into one send per peer and settles answers by id', async () => {
    const h = harness();
    const ps = Array.from({ length: 1000 }, (_, i) => h.f.keepAlive(i % 2 === 0 ? 2n : 3n, { ID: BigInt(i) }, 10_000));
    await turn();
    assert.deepEqual(h.sent.map((s) => [s.to, s.response, s.items.length]), [[2n, false, 500], [3n, false, 500]]);
    for (const s of h.sent) h.f.onResponses(s.to, s.items.map((it) => ({ id: it.id, body: answerBody(4) })));
    const answers = await Promise.all(ps);
    assert.ok(answers.every((a) => a.TTL === 4 && a.header.memberId === 1n), 'TTL from the leader, header of this member');
    assert.equal(h.f.pendingCount, 0);
  });

  it('ignores answers from a member that was not asked, and late answers', async () => {
    const h = harness();
    const p = h.f.keepAlive(2n, { ID: 7n }, 10_000);
    await turn();
    const id = h.sent[0]!.items[0]!.id;
    h.f.onResponses(3n, [{ id, body: answerBody(1) }]);
    assert.equal(h.f.pendingCount, 1);
    h.f.onResponses(2n, [{ id, body: answerBody(2) }]);
    assert.equal((await p).TTL, 2);
    h.f.onResponses(2n, [{ id, body: answerBody(3) }]); // late: nothing to settle, nothing thrown
  });

  it('carries the leader\'s error back, and a bad answer fails only its request', async () => {
    const h = harness();
    const p1 = h.f.keepAlive(2n, { ID: 1n }, 10_000);
    const p2 = h.f.keepAlive(2n, { ID: 2n }, 10_000);
    await turn();
    const [i1, i2] = h.sent[0]!.items;
    h.f.onResponses(2n, [
      { id: i1!.id, body: encodeLeaseAnswerBody('keepAlive', { err: EtcdError.of('NotLeader').toData() })! },
      { id: i2!.id, body: body('{"ok":"nonsense"}') },
    ]);
    assert.equal((await rejection(p1)).message, ERRORS.NotLeader.message);
    assert.equal((await rejection(p2)).grpc, GrpcCode.Internal);
    assert.equal(h.warnings.length, 1);
  });

  it('fails at the deadline with Timeout, or NoLeader while no leader is known', async () => {
    const h = harness();
    assert.equal((await rejection(h.f.keepAlive(2n, { ID: 1n }, 20))).message, ERRORS.Timeout.message);
    h.leader.id = 0n;
    assert.equal((await rejection(h.f.timeToLive(2n, { ID: 1n }, 20))).message, ERRORS.NoLeader.message);
    assert.equal(h.f.pendingCount, 0);
  });

  it('fails what waits on a lost peer, or on a send raft-node refused, and nothing else', async () => {
    const h = harness();
    const to2 = [h.f.keepAlive(2n, { ID: 1n }, 10_000), h.f.keepAlive(2n, { ID: 2n }, 10_000)];
    const to3 = h.f.keepAlive(3n, { ID: 3n }, 10_000);
    h.f.onPeerUnreachable(2n);
    for (const p of to2) assert.equal((await rejection(p)).message, ERRORS.Timeout.message);
    assert.equal(h.f.pendingCount, 1);
    await turn();
    const id3 = h.sent.find((s) => s.to === 3n)!.items[0]!.id;
    h.f.onSendFailed(2n, [id3]); // not this peer's: ignored
    assert.equal(h.f.pendingCount, 1);
    h.f.onSendFailed(3n, [id3]);
    assert.equal((await rejection(to3)).message, ERRORS.Timeout.message);
  });

  it('caps pending requests with TooManyRequests, and close fails the rest with Stopped', async () => {
    const h = harness();
    const ps = Array.from({ length: FORWARD_PENDING_MAX }, (_, i) => h.f.keepAlive(2n, { ID: BigInt(i + 1) }, 60_000));
    for (const p of ps) p.catch(() => undefined);
    assert.equal((await rejection(h.f.keepAlive(2n, { ID: 1n }, 60_000))).message, ERRORS.TooManyRequests.message);
    h.f.close();
    assert.equal((await rejection(ps[0]!)).message, ERRORS.Stopped.message);
    assert.equal(h.f.pendingCount, 0);
    assert.equal((await rejection(h.f.keepAlive(2n, { ID: 1n }, 60_000))).message, ERRORS.Stopped.message);
  });

  it('serves peers\' requests here and answers in one batch: results, NotLeader, bad bodies', async () => {
    const h = harness();
    h.f.onRequests(3n, [
      { id: 10n, body: encodeLeaseRequestBody({ kind: 'keepAlive', req: { ID: 7n } }) },
      { id: 11n, body: encodeLeaseRequestBody({ kind: 'timeToLive', req: { ID: 7n } }) },
      { id: 12n, body: body('{"k":"grant"}') },
    ]);
    await waitFor('answers sent', () => h.sent.length > 0);
    assert.equal(h.sent.length, 1);
    const { to, response, items } = h.sent[0]!;
    assert.deepEqual([to, response, items.map((i) => i.id).sort()], [3n, true, [10n, 11n, 12n]]);
    const byId = new Map(items.map((i) => [i.id, i.body]));
    assert.deepEqual(decodeLeaseAnswerBody('keepAlive', byId.get(10n)!), { ok: { header: HEADER, ID: 7n, TTL: 5 } });
    assert.deepEqual(decodeLeaseAnswerBody('timeToLive', byId.get(11n)!), { err: EtcdError.of('NotLeader').toData() });
    const bad = decodeLeaseAnswerBody('keepAlive', byId.get(12n)!);
    assert.ok('err' in bad && bad.err.grpc === GrpcCode.InvalidArgument);
    assert.equal(h.f.servingCount, 0);
  });
});

// ---- MemberLeases around a forwarder ----

function leases(leader: { id: bigint }, forwarder: LeaseForwarder, local: () => Promise<unknown>): MemberLeases {
  const m = new MemberLeases({
    memberId: 1n, requestTimeoutMs: 2_000, leader: () => leader.id,
    propose: () => Promise.reject(new Error('no proposals here')), query: local,
  });
  m.setForwarder(forwarder);
  return m;
}

describe('MemberLeases with a forwarder', () => {
  it('retries an unreachable or non-leading leader, then asks the new one', async () => {
    const leader = { id: 2n };
    const asked: bigint[] = [];
    const f: LeaseForwarder = {
      keepAlive: async (to, req) => {
        asked.push(to);
        if (asked.length === 1) throw EtcdError.of('Timeout'); // unreachable
        if (to === 2n) { leader.id = 3n; throw EtcdError.of('NotLeader'); }
        return { header: HEADER, ID: req.ID, TTL: 9 };
      },
      timeToLive: async () => assert.fail('not asked'),
    };
    const m = leases(leader, f, () => assert.fail('a follower does not ask its own lessor'));
    assert.equal((await m.leaseKeepAlive({ ID: 7n })).TTL, 9);
    assert.deepEqual(asked, [2n, 2n, 3n]);
  });

  it('does not retry a final error, and gives up at the deadline with Timeout', async () => {
    const leader = { id: 2n };
    let calls = 0;
    const f: LeaseForwarder = {
      keepAlive: async () => { calls += 1; throw EtcdError.of('TooManyRequests'); },
      timeToLive: async () => { calls += 1; throw EtcdError.of('Timeout'); },
    };
    const m = leases(leader, f, () => assert.fail('not local'));
    assert.equal((await rejection(m.leaseKeepAlive({ ID: 7n }))).message, ERRORS.TooManyRequests.message);
    assert.equal(calls, 1);
    assert.equal((await rejection(m.leaseTimeToLive({ ID: 7n }))).message, ERRORS.Timeout.message);
    assert.ok(calls > 2, 'retried until the deadline');
  });

  it('the leader answers locally; serving a peer never forwards and needs leadership', async () => {
    const leader = { id: 1n };
    const f: LeaseForwarder = { keepAlive: () => assert.fail('no forward'), timeToLive: () => assert.fail('no forward') };
    const m = leases(leader, f, async () => ({ header: HEADER, ID: 7n, TTL: 3, grantedTTL: 5, keys: [] }));
    assert.equal((await m.leaseTimeToLive({ ID: 7n })).TTL, 3);
    assert.equal((await m.leaseTimeToLiveHere({ ID: 7n })).TTL, 3);
    leader.id = 2n;
    assert.equal((await rejection(m.leaseTimeToLiveHere({ ID: 7n }))).message, ERRORS.NotLeader.message);
  });
});
