// PeerTransport over real loopback sockets, several members in one process: ordered delivery
// per peer, reconnect after a restart on either side, refused handshakes logged on both sides,
// bounded queues toward a dead peer (drops + onUnreachable, other peers unaffected), a 20 MiB
// snapshot streamed while heartbeats keep arriving, and misbehaving connections closed alone.
// Waits are bounded (waitFor fails the test); nothing asserts on timing.

import assert from 'node:assert/strict';
import net from 'node:net';
import { crc32 } from 'node:zlib';
import { afterEach, describe, it } from 'node:test';
import {
  FrameReader, FrameType, decodeHello, encodeHelloFrame, encodeMessageFrame, encodePingFrame,
} from '../../src/transport/codec.js';
import { helloOf, tokenHashOf } from '../../src/transport/handshake.js';
import { SeededRng } from '../../src/raft/rng.js';
import type { Message, NodeId } from '../../src/raft/types.js';
import { CLUSTER_ID, TOKEN, baseMessage, deadPort, mesh, randomBytes, startMember, waitFor } from './helpers.js';
import type { Member } from './helpers.js';

let live: Member[] = [];
async function member(id: NodeId, over: Parameters<typeof startMember>[1] = {}, port = 0): Promise<Member> {
  const m = await startMember(id, over, port);
  live.push(m);
  return m;
}
afterEach(async () => {
  await Promise.all(live.map((m) => m.t.close()));
  live = [];
});

const hb = (from: NodeId, to: NodeId, index: number): Message => baseMessage('MsgHeartbeat', from, to, index);
const from = (m: Member, id: NodeId): Message[] => m.received.filter((x) => x.from === id);
const connected = (a: Member, b: Member): boolean => a.t.peerStatus(b.id)?.connected === true && b.t.peerStatus(a.id)?.connected === true;

describe('PeerTransport', () => {
  it('delivers messages in order per peer across a 3-member mesh, both directions of each pair', async () => {
    const ms = [await member(1n), await member(2n), await member(3n)];
    mesh(ms);
    await waitFor('mesh connected', () => connected(ms[0]!, ms[1]!) && connected(ms[0]!, ms[2]!) && connected(ms[1]!, ms[2]!));
    const rng = new SeededRng(11);
    const N = 300;
    for (let i = 1; i <= N; i++) {
      for (const a of ms) {
        const batch = ms.filter((b) => b !== a).map((b) => {
          const m: Message = { ...baseMessage('MsgApp', a.id, b.id, i), entries: [{ term: 1, index: i, type: 0, data: randomBytes(rng, rng.intBelow(200)) }] };
          return m;
        });
        a.t.send(batch);
      }
    }
    await waitFor('all delivered', () => ms.every((m) => m.received.length === 2 * N));
    for (const b of ms) {
      for (const a of ms) {
        if (a === b) continue;
        assert.deepEqual(from(b, a.id).map((x) => x.index), Array.from({ length: N }, (_, i) => i + 1), `${a.id} -> ${b.id} in order`);
      }
    }
    for (const a of ms) for (const b of ms) if (a !== b) assert.equal(a.t.peerStatus(b.id)!.droppedMessages, 0);
  });

  // Found by `npm run test:cluster-long`: a follower re-forwarding a proposal it got from a member
  // that took it for the leader handed the transport a message from that member, and the
  // transport's assert stopped the whole member.
  it('drops a relayed request (from another member) instead of sending it; other traffic flows', async () => {
    const ms = [await member(1n), await member(2n)];
    mesh(ms);
    await waitFor('connected', () => connected(ms[0]!, ms[1]!));
    const relayed = ['MsgProp', 'MsgReadIndex', 'MsgTransferLeader'] as const;
    ms[0]!.t.send([...relayed.map((type) => baseMessage(type, 3n, 2n, 7)), hb(1n, 2n, 8)]);
    await waitFor('the heartbeat arrives', () => ms[1]!.received.some((x) => x.index === 8));
    assert.deepEqual(ms[1]!.received.map((x) => [x.type, x.from]), [['MsgHeartbeat', 1n]]);
    assert.equal(ms[0]!.t.relayedDropped, relayed.length);
    assert.ok(connected(ms[0]!, ms[1]!), 'the connection stays up');
    // Anything else claiming another sender is a bug in the caller, not a relay.
    assert.throws(() => ms[0]!.t.send([hb(3n, 2n, 9)]), /not from this member/);
  });

  it('reconnects after the listening side restarts, and after the dialing side restarts', async () => {
    let a = await member(1n);
    let b = await member(2n);
    mesh([a, b]);
    await waitFor('connected', () => connected(a, b));
    await b.t.close();
    await waitFor('a notices b is gone', () => a.t.peerStatus(2n)!.connected === false && a.unreachable.includes(2n));
    b = await member(2n, {}, b.port);
    b.t.addPeer(1n, [a.url]);
    await waitFor('a redials restarted b', () => connected(a, b));
    a.t.send([hb(1n, 2n, 1), hb(1n, 2n, 2)]);
    b.t.send([hb(2n, 1n, 3)]);
    await waitFor('traffic after b restarted', () => b.received.length === 2 && from(a, 2n).some((x) => x.index === 3));
    assert.deepEqual(b.received.map((x) => x.index), [1, 2]);

    await a.t.close();
    await waitFor('b notices a is gone', () => b.t.peerStatus(1n)!.connected === false);
    a = await member(1n, {}, a.port);
    a.t.addPeer(2n, [b.url]);
    await waitFor('restarted a dials b', () => connected(a, b));
    b.t.send([hb(2n, 1n, 4)]);
    await waitFor('b reaches restarted a', () => a.received.some((x) => x.index === 4));
  });

  it('refuses a cluster id mismatch, with a clear line on both sides', async () => {
    const a = await member(1n, { clusterId: 0xaaan });
    const b = await member(2n, { clusterId: 0xbbbn });
    mesh([a, b]);
    const line = 'member 1 has cluster id aaa, expected bbb; refusing';
    await waitFor('b refuses', () => b.log.has('warn', line));
    await waitFor('a logs the refusal', () => a.log.has('warn', 'refused by the other side: member 1 has cluster id aaa, expected bbb'));
    assert.equal(a.t.peerStatus(2n)!.connected, false);
    assert.equal(b.t.peerStatus(1n)!.connected, false);
    a.t.send([hb(1n, 2n, 1)]);
    await waitFor('a keeps redialing', () => a.log.lines.filter((l) => l.msg.includes('redial scheduled')).length >= 3);
    assert.equal(b.received.length, 0);
  });

  it('refuses a token mismatch and a wrong member at the address', async () => {
    const a = await member(1n, { clusterToken: 'other-token' });
    const b = await member(2n);
    const c = await member(3n);
    a.t.addPeer(2n, [b.url]);
    b.t.addPeer(1n, [a.url]);
    await waitFor('b refuses the token', () => b.log.has('warn', 'member 1 has a different cluster token'));
    await waitFor('a logs it', () => a.log.has('warn', 'refused by the other side: member 1 has a different cluster token'));
    // c believes member 4 listens at b's URL.
    c.t.addPeer(4n, [b.url]);
    await waitFor('b refuses c', () => b.log.has('warn', 'member 3 expected member 4 at this address, but this is member 2; refusing'));
    assert.equal(b.t.peerStatus(1n)!.connected, false);
  });

  it('bounds the queue to a dead peer: drops, reports unreachable, expires, and other peers are unaffected', async () => {
    const port = await deadPort();
    const a = await member(1n, { queueFramesMax: 16, queueBytesMax: 64 * 1024, downQueueMaxAgeMs: 200 });
    const c = await member(3n);
    a.t.addPeer(2n, [`http://127.0.0.1:${port}`]);
    mesh([a, c]);
    await waitFor('a-c connected', () => connected(a, c));
    a.t.send(Array.from({ length: 100 }, (_, i) => hb(1n, 2n, i + 1)));
    let st = a.t.peerStatus(2n)!;
    assert.equal(st.queuedFrames, 16);
    assert.equal(st.droppedMessages, 84);
    const big = { ...baseMessage('MsgApp', 1n, 2n), entries: [{ term: 1, index: 1, type: 0 as const, data: new Uint8Array(70 * 1024) }] };
    a.t.send([big]);
    assert.equal(a.t.peerStatus(2n)!.droppedMessages, 85, 'a message larger than the byte bound is dropped');
    await waitFor('unreachable reported', () => a.unreachable.includes(2n));
    for (let i = 1; i <= 200; i++) {
      a.t.send([hb(1n, 2n, i), hb(1n, 3n, i)]);
      st = a.t.peerStatus(2n)!;
      assert.ok(st.queuedFrames <= 16 && st.queuedBytes <= 64 * 1024, 'queue within bounds');
    }
    await waitFor('c got everything', () => c.received.length === 200);
    assert.deepEqual(c.received.map((x) => x.index), Array.from({ length: 200 }, (_, i) => i + 1));
    await waitFor('queued frames expire without a connection', () => a.t.peerStatus(2n)!.queuedFrames === 0);
  });

  it('streams a 20 MiB snapshot while heartbeats keep flowing, and reports success', async () => {
    const a = await member(1n);
    const b = await member(2n);
    mesh([a, b]);
    await waitFor('connected', () => connected(a, b));
    const data = randomBytes(new SeededRng(5), 20 * 1024 * 1024);
    const snap: Message = {
      ...baseMessage('MsgSnap', 1n, 2n),
      snapshot: { metadata: { index: 1000, term: 3, confState: { voters: [1n, 2n], learners: [] } }, data },
    };
    a.t.send([snap]);
    let index = 0;
    let beatsBeforeSnap = -1;
    b.t.onMessage((m) => {
      b.received.push(m);
      if (m.type === 'MsgSnap') beatsBeforeSnap = b.received.length - 1;
    });
    const beat = setInterval(() => a.t.send([hb(1n, 2n, ++index)]), 1);
    try {
      await waitFor('snapshot status', () => a.snapStatus.length > 0, 60_000);
    } finally {
      clearInterval(beat);
    }
    assert.deepEqual(a.snapStatus, [{ id: 2n, ok: true }]);
    const got = b.received.find((m) => m.type === 'MsgSnap');
    assert.ok(got?.snapshot);
    assert.deepEqual(got.snapshot.metadata, snap.snapshot!.metadata);
    assert.equal(got.snapshot.data.byteLength, data.byteLength);
    assert.equal(crc32(got.snapshot.data), crc32(data));
    assert.ok(beatsBeforeSnap > 0, 'heartbeats sent after the snapshot arrived before it completed');
    const beats = b.received.filter((m) => m.type === 'MsgHeartbeat').map((m) => m.index);
    assert.deepEqual(beats, beats.slice().sort((x, y) => x - y), 'heartbeats stay in order');
  });

  it('reports a snapshot as failed when the receiver goes away mid-stream', async () => {
    const a = await member(1n);
    const b = await member(2n);
    mesh([a, b]);
    await waitFor('connected', () => connected(a, b));
    const snap: Message = {
      ...baseMessage('MsgSnap', 1n, 2n),
      snapshot: { metadata: { index: 10, term: 1, confState: { voters: [1n, 2n], learners: [] } }, data: new Uint8Array(64 * 1024 * 1024) },
    };
    a.t.send([snap]);
    await b.t.close();
    await waitFor('failure reported', () => a.snapStatus.length > 0);
    assert.deepEqual(a.snapStatus, [{ id: 2n, ok: false }]);
  });

  it('closes only the connection that sends a bad frame', async () => {
    const a = await member(1n);
    const b = await member(10n);
    const c = await member(11n);
    mesh([a, b, c]);
    b.t.addPeer(5n, ['http://127.0.0.1:1']); // a fake member we impersonate below
    await waitFor('mesh connected', () => connected(a, b) && connected(b, c) && connected(a, c));
    const connectsBefore = b.log.lines.filter((l) => l.msg.includes('peer connected')).length;

    const garbage = await rawPeer(b.port);
    garbage.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await garbage.closed;

    for (const bad of ['crc', 'wrong sender', 'local-only type'] as const) {
      const fake = await rawPeer(b.port);
      fake.socket.write(encodeHelloFrame(FrameType.Hello, helloOf({ clusterId: CLUSTER_ID, memberId: 5n, tokenHash: tokenHashOf(TOKEN) }, 10n)));
      await waitFor('fake handshake answered', () => fake.frames.some((f) => f.type === FrameType.HelloAck));
      assert.equal(decodeHello(fake.frames[0]!.payload).fromId, 10n);
      fake.socket.write(encodeMessageFrame(hb(5n, 10n, 777)));
      fake.socket.write(encodePingFrame());
      let frame = encodeMessageFrame(hb(5n, 10n, 778));
      if (bad === 'crc') frame[frame.length - 1]! ^= 0xff;
      if (bad === 'wrong sender') frame = encodeMessageFrame(hb(1n, 10n, 778));
      if (bad === 'local-only type') frame = encodeMessageFrame(baseMessage('MsgHup', 5n, 10n));
      fake.socket.write(frame);
      await fake.closed;
    }
    assert.equal(b.received.filter((m) => m.index === 777).length, 3, 'the good message before each bad frame was delivered');
    assert.ok(!b.received.some((m) => m.index === 778), 'nothing after the bad frame');
    assert.ok(b.log.has('warn', 'crc mismatch'));
    assert.ok(b.log.has('warn', 'message from member 1 on the connection of member 5'));
    assert.ok(b.log.has('warn', 'local-only message MsgHup'));

    a.t.send([hb(1n, 10n, 1)]);
    c.t.send([hb(11n, 10n, 2)]);
    b.t.send([hb(10n, 1n, 3), hb(10n, 11n, 4)]);
    await waitFor('others unaffected', () => b.received.some((m) => m.index === 1) && b.received.some((m) => m.index === 2)
      && a.received.some((m) => m.index === 3) && c.received.some((m) => m.index === 4));
    assert.equal(b.log.lines.filter((l) => l.msg.includes('peer connected')).length, connectsBefore + 3, 'only the fake connected; a and c kept their connections');
  });

  it('closes a connection that never completes the handshake, and one that goes silent', async () => {
    const b = await member(10n, { handshakeTimeoutMs: 300, idleTimeoutMs: 400, pingIntervalMs: 100, housekeepingIntervalMs: 50 });
    b.t.addPeer(5n, ['http://127.0.0.1:1']);
    const mute = await rawPeer(b.port);
    await mute.closed;
    assert.ok(b.log.has('warn', 'no handshake within 300 ms'));
    const silent = await rawPeer(b.port);
    silent.socket.write(encodeHelloFrame(FrameType.Hello, helloOf({ clusterId: CLUSTER_ID, memberId: 5n, tokenHash: tokenHashOf(TOKEN) }, 10n)));
    await silent.closed;
    assert.ok(b.log.has('warn', 'nothing received for'));
    assert.ok(silent.frames.some((f) => f.type === FrameType.Ping), 'b pinged the silent peer before giving up');
    await waitFor('unreachable reported', () => b.unreachable.includes(5n));
  });

  it('removePeer closes the connection and drops later messages; updatePeer redirects a dialer', async () => {
    const port = await deadPort();
    const a = await member(1n);
    const b = await member(2n);
    a.t.addPeer(2n, [`http://127.0.0.1:${port}`]);
    b.t.addPeer(1n, [a.url]);
    await waitFor('a fails to reach the wrong url', () => a.log.lines.some((l) => l.msg.includes('ECONNREFUSED')));
    a.t.updatePeer(2n, [b.url]);
    await waitFor('connected after update', () => connected(a, b));
    b.t.removePeer(1n);
    assert.equal(b.t.hasPeer(1n), false);
    await waitFor('a sees the connection go', () => a.t.peerStatus(2n)!.connected === false);
    await waitFor('b refuses the removed member', () => b.log.has('warn', 'member 1 is not a peer of member 2'));
    b.t.send([hb(2n, 1n, 1)]);
    assert.equal(a.received.length, 0);
  });
});

/** A raw TCP client to a transport's port that records the frames it receives. */
async function rawPeer(port: number): Promise<{ socket: net.Socket; frames: ReturnType<FrameReader['push']>; closed: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const reader = new FrameReader();
  const frames: ReturnType<FrameReader['push']> = [];
  socket.on('data', (d: Buffer) => frames.push(...reader.push(d)));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, frames, closed };
}
