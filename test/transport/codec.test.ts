// Codec, handshake and queue units: exact round trips (hand-made and seeded-random messages,
// frames split at random points), the worked-example sizes of codec.ts, and hostile input
// (flipped bytes, truncations, huge lengths) that must end in FrameError and nothing else.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FRAME_HEADER_BYTES, FRAME_PAYLOAD_MAX_BYTES, FrameError, FrameReader, FrameType, PROTOCOL_VERSION,
  decodeHello, decodeMessage, decodeRefuse, decodeSnapAck, decodeSnapBegin, decodeSnapChunk, encodeHelloFrame,
  encodeMessageFrame, encodeRefuseFrame, encodeSnapAckFrame, encodeSnapBeginFrame, encodeSnapChunkFrame,
  messageFrameBytes,
} from '../../src/transport/codec.js';
import type { Frame } from '../../src/transport/codec.js';
import {
  backoffDelayMs, checkAckHello, checkInboundHello, helloOf, parsePeerUrl, tokenHashOf,
} from '../../src/transport/handshake.js';
import { FrameQueue } from '../../src/transport/queue.js';
import { SeededRng } from '../../src/raft/rng.js';
import type { Message } from '../../src/raft/types.js';
import { baseMessage, randomBytes, randomMessage } from './helpers.js';

function oneFrame(buf: Buffer): Frame {
  const frames = new FrameReader().push(buf);
  assert.equal(frames.length, 1);
  return frames[0]!;
}

function roundTrip(m: Message): Message {
  const f = oneFrame(encodeMessageFrame(m));
  assert.equal(f.type, FrameType.Message);
  return decodeMessage(f.payload);
}

/** Runs fn; passes if it returns or throws FrameError, fails on any other exception. */
function onlyFrameErrors(fn: () => unknown): 'ok' | 'frame-error' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof FrameError) return 'frame-error';
    throw err;
  }
}

describe('message codec', () => {
  it('round-trips every field of hand-made messages, bigint ids at the u64 edge', () => {
    const app: Message = {
      ...baseMessage('MsgApp', 1n, (1n << 64n) - 1n, 41),
      term: 7, logTerm: 6, commit: 40, context: new Uint8Array([9, 8, 7]),
      entries: [
        { term: 7, index: 42, type: 0, data: new Uint8Array([1, 2, 3]) },
        { term: 7, index: 43, type: 1, data: new Uint8Array(0) },
        { term: Number.MAX_SAFE_INTEGER, index: 2 ** 40 + 3, type: 0, data: new Uint8Array(1000).fill(0xab) },
      ],
    };
    const resp: Message = { ...baseMessage('MsgAppResp', 2n, 1n, 40), reject: true, rejectHint: 39, logTerm: 5 };
    const snap: Message = {
      ...baseMessage('MsgSnap', 0xdeadbeefcafef00dn, 3n),
      snapshot: { metadata: { index: 100, term: 4, confState: { voters: [1n, 2n, 3n], learners: [4n] } }, data: new Uint8Array([5, 6]) },
    };
    for (const m of [app, resp, snap]) assert.deepEqual(roundTrip(m), m);
  });

  it('sends afterPersist nowhere: it decodes as false', () => {
    const m = { ...baseMessage('MsgVoteResp', 1n, 2n), afterPersist: true };
    assert.deepEqual(roundTrip(m), { ...m, afterPersist: false });
  });

  it('matches the worked example sizes in codec.ts', () => {
    assert.equal(messageFrameBytes(baseMessage('MsgHeartbeat', 1n, 2n)), 75);
    assert.equal(encodeMessageFrame(baseMessage('MsgHeartbeat', 1n, 2n)).length, 75);
    const entries = Array.from({ length: 100 }, (_, i) => ({ term: 1, index: i + 1, type: 0 as const, data: new Uint8Array(128) }));
    const app = { ...baseMessage('MsgApp', 1n, 2n), entries };
    assert.equal(encodeMessageFrame(app).length, FRAME_HEADER_BYTES + 66 + 100 * (21 + 128));
  });

  it('round-trips 2000 seeded random messages fed in randomly split pieces', () => {
    const rng = new SeededRng(20240601);
    const msgs = Array.from({ length: 2000 }, () => randomMessage(rng));
    const stream = Buffer.concat(msgs.map(encodeMessageFrame));
    const reader = new FrameReader();
    const out: Message[] = [];
    for (let off = 0; off < stream.length;) {
      const n = 1 + rng.intBelow(rng.intBelow(4) === 0 ? 20 : 5000);
      for (const f of reader.push(stream.subarray(off, off + n))) out.push(decodeMessage(f.payload));
      off += n;
    }
    assert.equal(out.length, msgs.length);
    for (let i = 0; i < msgs.length; i++) assert.deepEqual(out[i], msgs[i], `message ${i}`);
  });

  it('decodes into fresh buffers that do not alias the frame', () => {
    const m = { ...baseMessage('MsgApp', 1n, 2n), entries: [{ term: 1, index: 1, type: 0 as const, data: new Uint8Array([1, 2]) }] };
    const frame = encodeMessageFrame(m);
    const d = decodeMessage(oneFrame(frame).payload);
    assert.notEqual(d.entries[0]!.data.buffer, frame.buffer, 'entry data does not alias the frame');
    assert.ok(d.entries[0]!.data.buffer.byteLength < frame.length, 'one copy of the body, not of a pooled slab');
    frame.fill(0);
    assert.deepEqual(d.entries[0]!.data, new Uint8Array([1, 2]));
  });
});

describe('hostile input', () => {
  it('every single flipped bit in a frame is caught (FrameError or an incomplete frame, never a wrong message)', () => {
    const rng = new SeededRng(7);
    const frame = encodeMessageFrame(randomMessage(rng));
    let caught = 0;
    for (let i = 0; i < frame.length; i++) {
      for (const bit of [0, 3, 7]) {
        const bad = Buffer.from(frame);
        bad[i]! ^= 1 << bit;
        let frames: Frame[] = [];
        if (onlyFrameErrors(() => { frames = new FrameReader().push(bad); }) === 'frame-error') caught += 1;
        else assert.equal(frames.length, 0, `flip at byte ${i} bit ${bit} produced a frame`);
      }
    }
    assert.ok(caught > frame.length, 'most flips are reported at once');
  });

  it('payload decoders throw only FrameError on truncated and mutated payloads', () => {
    const rng = new SeededRng(99);
    let errors = 0;
    for (let n = 0; n < 3000; n++) {
      const payload = Buffer.from(oneFrame(encodeMessageFrame(randomMessage(rng))).payload);
      const cut = payload.subarray(0, rng.intBelow(payload.length + 1));
      for (let k = rng.intBelow(4); k > 0 && cut.length > 0; k--) cut[rng.intBelow(cut.length)] = rng.intBelow(256);
      for (const dec of [decodeMessage, decodeSnapBegin, decodeSnapChunk, decodeSnapAck, decodeHello]) {
        if (onlyFrameErrors(() => dec(cut)) === 'frame-error') errors += 1;
      }
    }
    assert.ok(errors > 3000, 'the fuzz reached the error paths');
  });

  it('rejects a length beyond the bound before buffering the payload', () => {
    const h = Buffer.alloc(FRAME_HEADER_BYTES);
    h.writeUInt32LE(FRAME_PAYLOAD_MAX_BYTES + 1, 0);
    h.writeUInt8(FrameType.Message, 4);
    assert.throws(() => new FrameReader().push(h), FrameError);
    const small = Buffer.from(h);
    small.writeUInt32LE(1000, 0);
    assert.throws(() => new FrameReader(999).push(small), /exceeds the 999-byte bound/);
  });

  it('rejects unknown frame types, integers above 2^53 and counts larger than the frame', () => {
    const zero = Buffer.alloc(FRAME_HEADER_BYTES);
    assert.throws(() => new FrameReader().push(zero), /unknown frame type 0/);
    const body = Buffer.from(oneFrame(encodeMessageFrame(baseMessage('MsgHeartbeat', 1n, 2n))).payload);
    const big = Buffer.from(body);
    big.writeUInt32LE(0x00200000, 18 + 4); // high half of term = 2^21 -> term >= 2^53
    assert.throws(() => decodeMessage(big), /above 2\^53/);
    const many = Buffer.from(body);
    many.writeUInt32LE(0xffffffff, 62); // entry count
    assert.throws(() => decodeMessage(many), /does not fit the frame/);
    const badType = Buffer.from(body);
    badType[0] = 200;
    assert.throws(() => decodeMessage(badType), /unknown message type 200/);
  });
});

describe('control frames', () => {
  it('round-trips hello, refuse, snapshot begin/chunk/ack', () => {
    const hello = { version: PROTOCOL_VERSION, clusterId: 5n, fromId: 1n, toId: (1n << 63n) + 1n, tokenHash: tokenHashOf('t') };
    const f = oneFrame(encodeHelloFrame(FrameType.HelloAck, hello));
    assert.equal(f.type, FrameType.HelloAck);
    assert.deepEqual(decodeHello(f.payload), hello);
    assert.equal(decodeRefuse(oneFrame(encodeRefuseFrame('no, thanks')).payload), 'no, thanks');
    assert.equal(decodeRefuse(oneFrame(encodeRefuseFrame('x'.repeat(5000))).payload).length, 1024);
    const data = randomBytes(new SeededRng(1), 300);
    const snap: Message = { ...baseMessage('MsgSnap', 1n, 2n), snapshot: { metadata: { index: 9, term: 2, confState: { voters: [1n, 2n], learners: [] } }, data } };
    const b = decodeSnapBegin(oneFrame(encodeSnapBeginFrame(77, snap)).payload);
    assert.equal(b.snapId, 77);
    assert.equal(b.totalBytes, 300);
    assert.deepEqual(b.message, { ...snap, snapshot: { ...snap.snapshot!, data: new Uint8Array(0) } });
    assert.deepEqual(decodeSnapChunk(oneFrame(encodeSnapChunkFrame(77, 100, data.subarray(100, 200))).payload), { snapId: 77, offset: 100, data: data.slice(100, 200) });
    assert.deepEqual(decodeSnapAck(oneFrame(encodeSnapAckFrame(77, true)).payload), { snapId: 77, ok: true });
  });

  it('rejects a hello without the magic', () => {
    const payload = Buffer.from(oneFrame(encodeHelloFrame(FrameType.Hello, helloOf({ clusterId: 1n, memberId: 1n, tokenHash: tokenHashOf('') }, 2n))).payload);
    payload[0] = 0;
    assert.throws(() => decodeHello(payload), /not a tetcd peer/);
  });
});

describe('handshake decisions', () => {
  const local = { clusterId: 0xabcn, memberId: 0x20n, tokenHash: tokenHashOf('tok') };
  const isPeer = (id: bigint): boolean => id === 0x10n || id === 0x30n;
  const from = (fromId: bigint, over: object = {}) => ({ ...helloOf({ ...local, memberId: fromId }, 0x20n), ...over });

  it('accepts a known lower peer with matching cluster, token and version', () => {
    assert.equal(checkInboundHello(local, from(0x10n), isPeer), undefined);
  });

  it('names the mismatch in one sentence', () => {
    assert.equal(checkInboundHello(local, from(0x10n, { clusterId: 0xdefn }), isPeer), 'member 10 has cluster id def, expected abc');
    assert.match(checkInboundHello(local, from(0x10n, { tokenHash: tokenHashOf('other') }), isPeer)!, /^member 10 has a different cluster token/);
    assert.equal(checkInboundHello(local, from(0x10n, { version: 9 }), isPeer), 'member 10 speaks peer protocol version 9, expected 1');
    assert.equal(checkInboundHello(local, from(0x10n, { toId: 0x21n }), isPeer), 'member 10 expected member 21 at this address, but this is member 20');
    assert.match(checkInboundHello(local, from(0x11n), isPeer)!, /is not a peer of member 20/);
    assert.match(checkInboundHello(local, from(0x30n), isPeer)!, /only the lower member id dials/);
    assert.match(checkInboundHello(local, { ...from(0x10n), fromId: 0x20n }, isPeer)!, /itself/);
  });

  it('checks the answer on the dialer side too', () => {
    const ack = { ...helloOf({ ...local, memberId: 0x30n }, 0x20n) };
    assert.equal(checkAckHello(local, 0x30n, ack), undefined);
    assert.match(checkAckHello(local, 0x31n, ack)!, /member 30 answered at the address of member 31/);
    assert.match(checkAckHello(local, 0x30n, { ...ack, clusterId: 1n })!, /has cluster id 1, expected abc/);
  });

  it('backs off exponentially with jitter, bounded by the max', () => {
    const rng = new SeededRng(3);
    const delays = Array.from({ length: 14 }, (_, a) => backoffDelayMs(a, 100, 5000, rng));
    delays.forEach((d, a) => {
      const base = Math.min(5000, 100 * 2 ** a);
      assert.ok(d >= base / 2 && d <= base, `attempt ${a}: ${d} outside [${base / 2}, ${base}]`);
    });
    assert.ok(new Set(delays.slice(10)).size > 1, 'jitter varies the capped delays');
  });

  it('parses http peer URLs and refuses others', () => {
    assert.deepEqual(parsePeerUrl('http://127.0.0.1:2380'), { host: '127.0.0.1', port: 2380 });
    assert.deepEqual(parsePeerUrl('http://[::1]:2380'), { host: '::1', port: 2380 });
    assert.throws(() => parsePeerUrl('https://a:1'), /TLS/);
    assert.throws(() => parsePeerUrl('http://a'), /port is required/);
    assert.throws(() => parsePeerUrl('nonsense'), /not a URL/);
  });
});

describe('FrameQueue', () => {
  it('is bounded by count and by bytes, and expires by age', () => {
    const q = new FrameQueue(3, 100);
    assert.ok(q.fits(40));
    q.push(Buffer.alloc(40), 1);
    q.push(Buffer.alloc(40), 2);
    assert.equal(q.fits(21), false, 'bytes bound');
    q.push(Buffer.alloc(20), 3);
    assert.equal(q.fits(0), false, 'count bound');
    assert.equal(q.expire(3), 2);
    assert.equal(q.length, 1);
    assert.equal(q.bytes, 20);
    assert.equal(q.shift()!.length, 20);
    assert.equal(q.shift(), undefined);
    assert.equal(q.bytes, 0);
  });

  it('keeps order across many pushes and shifts', () => {
    const q = new FrameQueue(1000, 1 << 20);
    let next = 0;
    let expect = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 37; i++) q.push(Buffer.from([next++ & 0xff]), 0);
      for (let i = 0; i < 30; i++) assert.equal(q.shift()![0], expect++ & 0xff);
    }
    assert.equal(q.length, next - expect);
  });
});
