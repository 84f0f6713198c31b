// PeerTransport: carries raft messages between this member's raft-node and its peers' over TCP,
// in the binary frames of codec.ts. The peer URL is http://host:port (etcd's --listen-peer-urls
// syntax) but the bytes are plain TCP frames, not HTTP: an etcd member cannot talk to a tetcd one,
// and https URLs are refused until TLS is added.
//
// One connection per peer pair, used in both directions. The member with the LOWER id dials; the
// higher one only listens and refuses a dial from a higher id. Why not "both dial, keep one": the
// tie-break then needs a second exchange and can flap when both dials race; a fixed dialer makes
// "one connection" an invariant that a single comparison establishes. The cost: while the lower
// member cannot reach the higher one, the higher one cannot reach it either, even if the network
// allows that direction (the lower member keeps redialing with backoff). When an inbound dial
// arrives for a peer that already has a connection (the dialer restarted and the old socket is
// half-open), the newest connection wins.
//
// Sending never blocks: send() encodes each message into the peer's bounded FrameQueue and the
// pump writes queued frames while the socket's own buffer is below SOCKET_BUFFER_BYTES_MAX. A full
// queue drops the message and reports the peer unreachable (onUnreachable), like etcd; frames
// queued while there is no connection expire after downQueueMaxAgeMs. MsgSnap goes in a separate
// per-peer slot (one at a time) and is streamed as SnapBegin + SnapChunk frames that the pump
// writes only when the message queue is empty, so a heartbeat waits behind at most one socket
// buffer of snapshot chunks, never behind the whole snapshot. The receiver reassembles it (at most
// snapshotDataMaxBytes, one per connection), checks the whole-data CRC, delivers the MsgSnap and
// acks; the sender reports the ack, or the connection's loss, through onSnapshotStatus.
//
// Nothing from a peer is trusted: a frame that does not decode, a message not from the member
// the handshake named, a local-only message type, an out-of-order snapshot chunk: each closes that
// one connection with a warn line; the other connections and the process carry on. Callbacks
// raised by send(), addPeer() and friends run in a microtask, never re-entrantly; onMessage runs
// synchronously from the socket's data event. Callbacks must not throw.
//
// setBlocked(true) is a failpoint for partition tests: raft messages and snapshots are dropped in
// both directions while the connections (handshakes, pings) stay up.
//
// Forwarding (sendForward/onForward): request/response batches between members' main threads
// (src/server/peer-forwarder.ts), e.g. a follower's lease keep-alives for the leader. They share
// the peer's bounded queue with raft messages, but are only accepted while the peer is connected
// (a request has a requester waiting: failing at once lets it retry elsewhere, instead of waiting
// in a queue that may expire). The failpoint drops them too: a partition cuts every path.

import assert from 'node:assert/strict';
import net from 'node:net';
import { crc32 } from 'node:zlib';
import {
  FRAME_PAYLOAD_MAX_BYTES, FrameError, FrameReader, FrameType, decodeHello, decodeMessage, decodeRefuse,
  decodeSnapAck, decodeSnapBegin, decodeSnapChunk, encodeHelloFrame, encodeMessageFrame, encodePingFrame,
  encodeRefuseFrame, encodeSnapAckFrame, encodeSnapBeginFrame, encodeSnapChunkFrame, messageFrameBytes,
  decodeForward, encodeForwardFrame, forwardPayloadBytes, FORWARD_FRAME_PAYLOAD_MAX_BYTES, FRAME_HEADER_BYTES,
} from './codec.js';
import type { ForwardItem, Frame, Hello } from './codec.js';
import {
  backoffDelayMs, checkAckHello, checkInboundHello, clusterIdToAdopt, helloOf, hex, parsePeerUrl, tokenHashOf,
} from './handshake.js';
import type { LocalIdentity } from './handshake.js';
import { FrameQueue } from './queue.js';
import { NONE } from '../raft/types.js';
import type { Message, MessageType, NodeId } from '../raft/types.js';

/** etcd's streamBufSize: messages queued per peer. */
export const PEER_QUEUE_FRAMES_MAX = 4096;
export const PEER_QUEUE_BYTES_MAX = 64 * 1024 * 1024;
/** Largest snapshot accepted or sent (etcd's default backend quota is 2 GiB). */
export const SNAPSHOT_DATA_MAX_BYTES = 2 * 1024 * 1024 * 1024;
export const SNAPSHOT_CHUNK_BYTES = 64 * 1024;
/** The pump stops writing while the socket buffers this much (or its high-water mark, if larger). */
export const SOCKET_BUFFER_BYTES_MAX = 256 * 1024;
/** Inbound connections that have not completed the handshake yet; more are closed at once. */
export const INBOUND_HANDSHAKES_MAX = 64;
/** How long a refused socket may linger for the Refuse frame to reach the other side. */
const REFUSE_LINGER_MS = 1000;
const DEFAULTS = {
  queueFramesMax: PEER_QUEUE_FRAMES_MAX,
  queueBytesMax: PEER_QUEUE_BYTES_MAX,
  snapshotDataMaxBytes: SNAPSHOT_DATA_MAX_BYTES,
  snapshotChunkBytes: SNAPSHOT_CHUNK_BYTES,
  backoffInitialMs: 100,
  backoffMaxMs: 5000,
  handshakeTimeoutMs: 5000,
  /** etcd's ConnReadTimeout: no frame (not even a ping) for this long closes the connection. */
  idleTimeoutMs: 5000,
  pingIntervalMs: 1000,
  downQueueMaxAgeMs: 1000,
  housekeepingIntervalMs: 250,
};
/** Types raft only generates locally; a peer sending one is misbehaving. */
const LOCAL_MESSAGE_TYPES = new Set<MessageType>(['MsgHup', 'MsgBeat', 'MsgUnreachable', 'MsgSnapStatus', 'MsgCheckQuorum']);
/**
 * Requests a follower passes on to the leader with the ORIGINAL sender's id as `from` (raft keeps
 * it so the leader answers a read, or transfers leadership, to the member that asked). A follower
 * re-forwards one it got from a member that took it for the leader (leadership just moved). Peers
 * accept on a connection only messages from that connection's member, so such a relay is not sent:
 * it is dropped like a lost message, which raft tolerates (the asker's request times out, as it
 * would had the old leader crashed).
 */
const RELAYED_TYPES = new Set<MessageType>(['MsgProp', 'MsgReadIndex', 'MsgTransferLeader']);

/** The logger shape used (a pino Logger fits). */
export interface TransportLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
type Level = 'debug' | 'info' | 'warn' | 'error';

export interface PeerTransportOptions extends Partial<typeof DEFAULTS> {
  memberId: NodeId;
  clusterId: NodeId;
  /** --initial-cluster-token; only its sha256 goes on the wire. */
  clusterToken: string;
  /** --listen-peer-urls (http://host:port; port 0 picks a free port). */
  listenUrls: string[];
  logger: TransportLogger;
  /** Reconnect jitter (a seeded RNG in tests; src/raft/rng.ts SeededRng fits). */
  rng: { intBelow(n: number): number };
  nowMs?: () => number;
}

export interface PeerStatus {
  connected: boolean;
  urls: string[];
  queuedFrames: number;
  queuedBytes: number;
  sentFrames: number;
  droppedMessages: number;
  receivedMessages: number;
  snapshotInFlight: boolean;
}

/** One TCP connection, dialed or accepted. */
class PeerConn {
  state: 'handshake' | 'open' | 'closed' = 'handshake';
  readonly reader: FrameReader;
  lastReadAtMs: number;
  lastWriteAtMs: number;
  /** The snapshot being received on this connection (at most one). */
  inSnap: InboundSnap | undefined;

  constructor(
    readonly socket: net.Socket,
    readonly outbound: boolean,
    /** Outbound: the member dialed. Inbound: NONE until its Hello is accepted. */
    public peerId: NodeId,
    readonly openedAtMs: number,
    /** host:port of the other end, kept for log lines after the socket is gone. */
    readonly remote: string,
  ) {
    this.reader = new FrameReader(FRAME_PAYLOAD_MAX_BYTES);
    this.lastReadAtMs = openedAtMs;
    this.lastWriteAtMs = openedAtMs;
  }

  write(frame: Buffer, nowMs: number): void {
    assert.notEqual(this.state, 'closed', 'write on a closed connection');
    this.socket.write(frame);
    this.lastWriteAtMs = nowMs;
  }

  /** A method, not a field test, so that TS does not narrow across callbacks that may close it. */
  isClosed(): boolean {
    return this.state === 'closed';
  }

  describe(): string {
    const who = this.peerId === NONE ? 'unidentified member' : `member ${hex(this.peerId)}`;
    return `${who} (${this.remote}, ${this.outbound ? 'dialed' : 'accepted'})`;
  }
}

interface InboundSnap {
  snapId: number;
  totalBytes: number;
  dataCrc: number;
  message: Message;
  /** Allocated once at SnapBegin (bounded by snapshotDataMaxBytes); filled in order. */
  data: Uint8Array;
  receivedBytes: number;
  crc: number;
}

interface OutboundSnap {
  snapId: number;
  message: Message;
  data: Uint8Array;
  /** Bytes of data already handed to the socket. */
  sentBytes: number;
  /** The connection streaming it; undefined until SnapBegin is written. */
  conn: PeerConn | undefined;
  /** True once every chunk is written; then only the ack (or the connection's loss) ends it. */
  awaitingAck: boolean;
  queuedAtMs: number;
}

class Peer {
  /** Open connection (state 'open'); at most one. */
  conn: PeerConn | undefined;
  /** Outbound connection still handshaking (dialer side only). */
  dialing: PeerConn | undefined;
  redialTimer: NodeJS.Timeout | undefined;
  /** Consecutive failed dials; resets on a successful handshake. */
  attempt = 0;
  urlIndex = 0;
  readonly queue: FrameQueue;
  snap: OutboundSnap | undefined;
  /** Last problem logged at warn; a repeat is logged at debug until the next success. */
  lastProblem = '';
  sentFrames = 0;
  droppedMessages = 0;
  receivedMessages = 0;

  constructor(readonly id: NodeId, public urls: string[], readonly dials: boolean, queueFramesMax: number, queueBytesMax: number) {
    this.queue = new FrameQueue(queueFramesMax, queueBytesMax);
  }
}

export class PeerTransport {
  private readonly cfg: typeof DEFAULTS;
  private readonly local: LocalIdentity;
  private readonly log: TransportLogger;
  private readonly rng: { intBelow(n: number): number };
  private readonly now: () => number;
  private readonly peers = new Map<NodeId, Peer>();
  /** Every connection not yet closed, dialed or accepted. */
  private readonly conns = new Set<PeerConn>();
  private readonly servers: net.Server[] = [];
  private readonly housekeeping: NodeJS.Timeout;
  private snapSeq = 0;
  private closed = false;
  /**
   * The "peer traffic blocked" failpoint (setBlocked): while true, no raft message or snapshot
   * leaves or is delivered; connections, handshakes and pings carry on, so healing is instant.
   */
  private blocked = false;
  /** Relayed requests dropped (see RELAYED_TYPES); read by tests. */
  relayedDropped = 0;
  private messageCb: (m: Message) => void = () => undefined;
  private unreachableCb: (id: NodeId) => void = () => undefined;
  private snapshotStatusCb: (id: NodeId, ok: boolean) => void = () => undefined;
  private forwardCb: (from: NodeId, response: boolean, items: ForwardItem[]) => void = () => undefined;
  /** Called once, when a member that did not know its cluster id adopts a peer's (handshake.ts). */
  private clusterIdCb: (clusterId: NodeId) => void = () => undefined;

  constructor(private readonly opts: PeerTransportOptions) {
    const cfg = { ...DEFAULTS };
    for (const k of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
      const v = opts[k];
      if (v !== undefined) cfg[k] = v;
      assert.ok(Number.isFinite(cfg[k]) && cfg[k] > 0, `transport option ${k} must be positive`);
    }
    assert.ok(cfg.backoffMaxMs >= cfg.backoffInitialMs && cfg.idleTimeoutMs > cfg.pingIntervalMs, 'inconsistent timing options');
    assert.ok(cfg.snapshotChunkBytes <= FRAME_PAYLOAD_MAX_BYTES / 2, 'snapshot chunks must fit a frame');
    assert.notEqual(opts.memberId, NONE, 'member id 0 is reserved');
    this.cfg = cfg;
    this.local = { clusterId: opts.clusterId, memberId: opts.memberId, tokenHash: tokenHashOf(opts.clusterToken) };
    this.log = opts.logger;
    this.rng = opts.rng;
    this.now = opts.nowMs ?? (() => performance.now());
    this.housekeeping = setInterval(() => this.tick(), cfg.housekeepingIntervalMs).unref();
  }

  // ------------------------------------------------------------------------------------------
  // Public API

  /** Starts listening on every listen URL; resolves with the bound addresses (port 0 resolved). */
  async listen(): Promise<Array<{ host: string; port: number }>> {
    assert.ok(!this.closed && this.servers.length === 0, 'listen() once, before close()');
    const out: Array<{ host: string; port: number }> = [];
    for (const url of this.opts.listenUrls) {
      const { host, port } = parsePeerUrl(url);
      const server = net.createServer({ noDelay: true }, (s) => this.accept(s));
      this.servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => this.log.error({ err: err.message, url }, 'transport: listener error'));
      const addr = server.address();
      assert.ok(addr !== null && typeof addr === 'object');
      out.push({ host, port: addr.port });
      this.log.info({ url, port: addr.port }, 'transport: listening for peers');
    }
    return out;
  }

  /** Adds a peer (or updates its URLs if known). The lower id of the pair dials at once. */
  addPeer(id: NodeId, urls: string[]): void {
    if (this.closed) return;
    assert.ok(id !== this.local.memberId && id !== NONE, `cannot add member ${hex(id)} as a peer of itself`);
    assert.ok(urls.length > 0, `peer ${hex(id)} needs at least one URL`);
    for (const u of urls) parsePeerUrl(u);
    if (this.peers.has(id)) return this.updatePeer(id, urls);
    const peer = new Peer(id, [...urls], this.local.memberId < id, this.cfg.queueFramesMax, this.cfg.queueBytesMax);
    this.peers.set(id, peer);
    this.log.info({ peer: hex(id), urls, dials: peer.dials }, 'transport: peer added');
    if (peer.dials) this.dial(peer);
  }

  /** New URLs for the next dials; an open connection is kept. A backing-off dialer retries now. */
  updatePeer(id: NodeId, urls: string[]): void {
    const peer = this.peers.get(id);
    if (!peer || this.closed) return;
    assert.ok(urls.length > 0, `peer ${hex(id)} needs at least one URL`);
    for (const u of urls) parsePeerUrl(u);
    peer.urls = [...urls];
    peer.urlIndex = 0;
    this.log.info({ peer: hex(id), urls }, 'transport: peer updated');
    if (peer.dials && peer.redialTimer !== undefined) {
      clearTimeout(peer.redialTimer);
      peer.redialTimer = undefined;
      peer.attempt = 0;
      this.dial(peer);
    }
  }

  /** Forgets a peer: closes its connection, drops its queue and snapshot (no callbacks). */
  removePeer(id: NodeId): void {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    clearTimeout(peer.redialTimer);
    peer.queue.clear();
    peer.snap = undefined;
    for (const c of [peer.conn, peer.dialing]) if (c) this.closeConn(c, 'peer removed', 'info');
    this.log.info({ peer: hex(id) }, 'transport: peer removed');
  }

  hasPeer(id: NodeId): boolean {
    return this.peers.has(id);
  }

  /**
   * Failpoint for partition tests: drop every raft message and snapshot, outgoing and incoming,
   * while `on`; frames already queued are discarded. A MsgSnap dropped reports failure.
   */
  setBlocked(on: boolean): void {
    if (this.blocked === on) return;
    this.blocked = on;
    let discardedFrames = 0;
    if (on) for (const p of this.peers.values()) discardedFrames += p.queue.clear();
    this.log.warn({ blocked: on, discardedFrames }, on ? 'transport: failpoint: peer traffic blocked' : 'transport: failpoint: peer traffic unblocked');
  }

  /** Queues messages for their peers and writes what the sockets accept now. Never blocks. */
  send(msgs: readonly Message[]): void {
    if (this.closed) return;
    if (this.blocked) {
      for (const m of msgs) if (m.type === 'MsgSnap') this.emit(() => this.snapshotStatusCb(m.to, false));
      return;
    }
    const touched = new Set<Peer>();
    const unreachable = new Set<NodeId>();
    const nowMs = this.now();
    for (const m of msgs) {
      if (m.from !== this.local.memberId) {
        assert.ok(RELAYED_TYPES.has(m.type), `sending a ${m.type} that is not from this member`);
        this.relayedDropped += 1;
        this.log.debug({ type: m.type, from: hex(m.from), to: hex(m.to) }, 'transport: relayed request dropped (leadership moved)');
        continue;
      }
      const peer = this.peers.get(m.to);
      if (!peer) {
        this.log.debug({ to: hex(m.to), type: m.type }, 'transport: message to an unknown peer dropped');
        continue;
      }
      if (m.type === 'MsgSnap') {
        this.queueSnapshot(peer, m, nowMs);
      } else if (!this.enqueue(peer, m, nowMs)) {
        peer.droppedMessages += 1;
        unreachable.add(peer.id);
        continue;
      }
      touched.add(peer);
    }
    for (const p of touched) this.pump(p);
    for (const id of unreachable) this.emit(() => this.unreachableCb(id));
  }

  /**
   * Queues one Forward frame (request or response batch) for a connected peer and writes what
   * the socket accepts now. False, and nothing queued, when the peer is unknown or not connected,
   * its queue is full, traffic is blocked or the transport closed. `items` must fit one frame
   * (codec.ts splitForwardItems).
   */
  sendForward(to: NodeId, response: boolean, items: readonly ForwardItem[]): boolean {
    const peer = this.peers.get(to);
    if (this.closed || this.blocked || !peer || !peer.conn || peer.conn.state !== 'open') return false;
    const payloadBytes = forwardPayloadBytes(items);
    assert.ok(payloadBytes <= FORWARD_FRAME_PAYLOAD_MAX_BYTES, `forward batch of ${payloadBytes} bytes: split it first`);
    if (!peer.queue.fits(FRAME_HEADER_BYTES + payloadBytes)) {
      this.log.debug({ peer: hex(to), items: items.length }, 'transport: send queue full; forward batch refused');
      return false;
    }
    peer.queue.push(encodeForwardFrame(response ? FrameType.ForwardResponse : FrameType.ForwardRequest, items), this.now());
    this.pump(peer);
    return true;
  }

  /** Forward batches from peers (runs synchronously from the socket's data event). */
  onForward(cb: (from: NodeId, response: boolean, items: ForwardItem[]) => void): void { this.forwardCb = cb; }

  onMessage(cb: (m: Message) => void): void { this.messageCb = cb; }
  onUnreachable(cb: (peerId: NodeId) => void): void { this.unreachableCb = cb; }
  onSnapshotStatus(cb: (peerId: NodeId, ok: boolean) => void): void { this.snapshotStatusCb = cb; }
  onClusterIdAdopted(cb: (clusterId: NodeId) => void): void { this.clusterIdCb = cb; }
  /** The cluster id said in handshakes (0 until a joining member adopted its peers'). */
  get clusterId(): NodeId { return this.local.clusterId; }

  peerStatus(id: NodeId): PeerStatus | undefined {
    const p = this.peers.get(id);
    if (!p) return undefined;
    return {
      connected: p.conn !== undefined, urls: [...p.urls], queuedFrames: p.queue.length, queuedBytes: p.queue.bytes,
      sentFrames: p.sentFrames, droppedMessages: p.droppedMessages, receivedMessages: p.receivedMessages,
      snapshotInFlight: p.snap !== undefined,
    };
  }

  /** Closes every connection and listener; no callbacks run afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.housekeeping);
    for (const p of this.peers.values()) {
      clearTimeout(p.redialTimer);
      p.queue.clear();
      p.snap = undefined;
    }
    for (const c of [...this.conns]) this.closeConn(c, 'transport closed', 'debug');
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.log.info({}, 'transport: closed');
  }

  // ------------------------------------------------------------------------------------------
  // Sending

  /** Encodes m into the peer's queue; false when it does not fit (the caller drops it). */
  private enqueue(peer: Peer, m: Message, nowMs: number): boolean {
    const bytes = messageFrameBytes(m);
    if (bytes > FRAME_PAYLOAD_MAX_BYTES) {
      this.log.error({ peer: hex(peer.id), type: m.type, bytes }, 'transport: message larger than a frame; dropped');
      return false;
    }
    if (!peer.queue.fits(bytes)) {
      this.log.debug({ peer: hex(peer.id), type: m.type, queued: peer.queue.length }, 'transport: send queue full; dropped');
      return false;
    }
    peer.queue.push(encodeMessageFrame(m), nowMs);
    return true;
  }

  private queueSnapshot(peer: Peer, m: Message, nowMs: number): void {
    assert.ok(m.snapshot, 'MsgSnap without a snapshot');
    const bytes = m.snapshot.data.byteLength;
    let problem: string | undefined;
    if (peer.snap) problem = 'a snapshot to this peer is already in flight';
    else if (bytes > this.cfg.snapshotDataMaxBytes) problem = `snapshot of ${bytes} bytes exceeds the ${this.cfg.snapshotDataMaxBytes}-byte bound`;
    if (problem !== undefined) {
      this.log.warn({ peer: hex(peer.id), bytes }, `transport: ${problem}; snapshot dropped`);
      this.emit(() => this.snapshotStatusCb(peer.id, false));
      return;
    }
    this.snapSeq = (this.snapSeq + 1) >>> 0;
    peer.snap = {
      snapId: this.snapSeq, message: m, data: m.snapshot.data, sentBytes: 0, conn: undefined,
      awaitingAck: false, queuedAtMs: nowMs,
    };
    this.log.info({ peer: hex(peer.id), bytes, index: m.snapshot.metadata.index }, 'transport: snapshot queued');
  }

  /**
   * Writes queued frames, then snapshot chunks, while the socket buffers less than the bound;
   * 'drain' calls it again. Corked, so one burst becomes one writev.
   */
  private pump(peer: Peer): void {
    const conn = peer.conn;
    if (!conn || conn.state !== 'open') return;
    const s = conn.socket;
    const limit = Math.max(SOCKET_BUFFER_BYTES_MAX, s.writableHighWaterMark);
    if (s.writableLength >= limit) return;
    const nowMs = this.now();
    s.cork();
    while (s.writableLength < limit) {
      const frame = peer.queue.shift() ?? this.nextSnapFrame(peer, conn);
      if (!frame) break;
      conn.write(frame, nowMs);
      peer.sentFrames += 1;
    }
    // Checked while corked: uncork() may flush to the kernel at once and shrink writableLength.
    // Stopping at the limit implies a write returned false, so 'drain' will call pump again.
    assert.ok(peer.queue.length === 0 || s.writableLength >= limit, 'pump stopped with room and frames left');
    s.uncork();
  }

  private nextSnapFrame(peer: Peer, conn: PeerConn): Buffer | undefined {
    const snap = peer.snap;
    if (!snap || snap.awaitingAck) return undefined;
    if (snap.conn === undefined) {
      snap.conn = conn;
      snap.awaitingAck = snap.data.byteLength === 0;
      return encodeSnapBeginFrame(snap.snapId, snap.message);
    }
    assert.equal(snap.conn, conn, 'snapshot continues on another connection');
    const end = Math.min(snap.data.byteLength, snap.sentBytes + this.cfg.snapshotChunkBytes);
    const frame = encodeSnapChunkFrame(snap.snapId, snap.sentBytes, snap.data.subarray(snap.sentBytes, end));
    snap.sentBytes = end;
    snap.awaitingAck = end === snap.data.byteLength;
    return frame;
  }

  private finishSnapshot(peer: Peer, ok: boolean, why: string): void {
    const snap = peer.snap;
    if (!snap) return;
    peer.snap = undefined;
    const fields = { peer: hex(peer.id), bytes: snap.data.byteLength, index: snap.message.snapshot?.metadata.index };
    if (ok) this.log.info(fields, `transport: snapshot sent (${why})`);
    else this.log.warn(fields, `transport: snapshot failed (${why})`);
    this.emit(() => this.snapshotStatusCb(peer.id, ok));
  }

  /** Runs a callback after the current call stack (never re-entrantly), unless closed by then. */
  private emit(fn: () => void): void {
    queueMicrotask(() => {
      if (!this.closed) fn();
    });
  }

  // ------------------------------------------------------------------------------------------
  // Connections

  private dial(peer: Peer): void {
    assert.ok(peer.dials && !peer.dialing && !peer.conn, 'dial() with a connection in place');
    if (this.closed) return;
    peer.redialTimer = undefined;
    const url = peer.urls[peer.urlIndex % peer.urls.length]!;
    peer.urlIndex += 1;
    const { host, port } = parsePeerUrl(url);
    const socket = net.connect({ host, port, noDelay: true });
    const conn = new PeerConn(socket, true, peer.id, this.now(), `${host}:${port}`);
    peer.dialing = conn;
    this.wire(conn);
    conn.write(encodeHelloFrame(FrameType.Hello, helloOf(this.local, peer.id)), this.now());
    this.log.debug({ peer: hex(peer.id), url, attempt: peer.attempt }, 'transport: dialing');
  }

  private accept(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    let handshaking = 0;
    for (const c of this.conns) if (!c.outbound && c.state === 'handshake') handshaking += 1;
    if (handshaking >= INBOUND_HANDSHAKES_MAX) {
      this.logLimited('warn', `too many peer connections handshaking (${handshaking}); closing a new one`, {});
      socket.destroy();
      return;
    }
    this.wire(new PeerConn(socket, false, NONE, this.now(), `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`));
  }

  private wire(conn: PeerConn): void {
    this.conns.add(conn);
    const s = conn.socket;
    s.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    s.on('drain', () => {
      const peer = this.peers.get(conn.peerId);
      if (peer && peer.conn === conn) this.pump(peer);
    });
    s.on('error', (err: NodeJS.ErrnoException) => this.closeConn(conn, err.code ?? err.message, 'warn'));
    s.on('close', () => this.closeConn(conn, 'connection closed by the other side', 'warn'));
  }

  /** The handshake is complete: this connection becomes the peer's one connection. */
  private attach(peer: Peer, conn: PeerConn): void {
    assert.equal(conn.state, 'handshake');
    assert.equal(conn.peerId, peer.id);
    const old = peer.conn;
    conn.state = 'open';
    peer.conn = conn;
    if (peer.dialing === conn) peer.dialing = undefined;
    clearTimeout(peer.redialTimer);
    peer.redialTimer = undefined;
    peer.attempt = 0;
    peer.lastProblem = '';
    if (old) this.closeConn(old, 'replaced by a newer connection', 'info');
    this.log.info({ peer: hex(peer.id), remote: conn.describe() }, 'transport: peer connected');
    this.pump(peer);
  }

  /**
   * Closes a connection (idempotent) and repairs the peer's state: a stream in progress fails,
   * the peer is reported unreachable, a dialer schedules a redial. `finalFrame` (a Refuse) is
   * flushed before the socket is destroyed.
   */
  private closeConn(conn: PeerConn, reason: string, level: Level, finalFrame?: Buffer): void {
    if (conn.state === 'closed') return;
    const wasOpen = conn.state === 'open';
    conn.state = 'closed';
    conn.inSnap = undefined;
    this.conns.delete(conn);
    if (finalFrame) {
      conn.socket.end(finalFrame);
      setTimeout(() => conn.socket.destroy(), REFUSE_LINGER_MS).unref();
    } else {
      conn.socket.destroy();
    }
    const peer = this.peers.get(conn.peerId);
    if (!peer) {
      this.logLimited(level, `transport: connection with ${conn.describe()} closed: ${reason}`, {});
      return;
    }
    if (peer.snap?.conn === conn) this.finishSnapshot(peer, false, `connection lost: ${reason}`);
    if (peer.conn === conn) {
      peer.conn = undefined;
      this.emit(() => this.unreachableCb(peer.id));
    }
    if (peer.dialing === conn) peer.dialing = undefined;
    this.peerProblem(peer, level, `${wasOpen ? 'lost connection to' : 'cannot connect to'} ${conn.describe()}: ${reason}`);
    if (peer.dials && !peer.conn && !peer.dialing && !this.closed && this.peers.get(peer.id) === peer) this.scheduleRedial(peer);
  }

  private scheduleRedial(peer: Peer): void {
    if (peer.redialTimer !== undefined) return;
    const delayMs = backoffDelayMs(peer.attempt, this.cfg.backoffInitialMs, this.cfg.backoffMaxMs, this.rng);
    peer.attempt += 1;
    peer.redialTimer = setTimeout(() => {
      peer.redialTimer = undefined;
      if (!this.closed && this.peers.get(peer.id) === peer && !peer.conn && !peer.dialing) this.dial(peer);
    }, delayMs).unref();
    this.log.debug({ peer: hex(peer.id), delayMs, attempt: peer.attempt }, 'transport: redial scheduled');
  }

  /** Logs a peer's problem at `level` the first time, at debug while it repeats. */
  private peerProblem(peer: Peer, level: Level, msg: string): void {
    const key = msg.replace(/\(.*?\)/g, '');
    const lvl = key === peer.lastProblem && level !== 'error' ? 'debug' : level;
    if (level === 'warn' || level === 'error') peer.lastProblem = key;
    this.log[lvl]({ peer: hex(peer.id) }, `transport: ${msg}`);
  }

  /** Problems without a known peer (unknown dialers): identical lines at most once per 10 s. */
  private readonly limited = new Map<string, number>();
  private logLimited(level: Level, msg: string, fields: object): void {
    const key = msg.replace(/\(.*?\)/g, '');
    const nowMs = this.now();
    const last = this.limited.get(key);
    const lvl = last !== undefined && nowMs - last < 10_000 ? 'debug' : level;
    if (lvl !== 'debug') {
      if (this.limited.size >= 256) this.limited.clear();
      this.limited.set(key, nowMs);
    }
    this.log[lvl](fields, msg);
  }

  // ------------------------------------------------------------------------------------------
  // Receiving

  private onData(conn: PeerConn, chunk: Buffer): void {
    if (conn.state === 'closed') return;
    conn.lastReadAtMs = this.now();
    try {
      for (const frame of conn.reader.push(chunk)) {
        if (conn.isClosed()) return;
        if (conn.state === 'handshake') this.onHandshakeFrame(conn, frame);
        else this.onOpenFrame(conn, frame);
      }
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.closeConn(conn, `bad frame from ${conn.describe()}: ${err.message}`, 'warn');
    }
  }

  private onHandshakeFrame(conn: PeerConn, frame: Frame): void {
    if (frame.type === FrameType.Refuse) {
      const reason = decodeRefuse(frame.payload);
      this.closeConn(conn, `refused by the other side: ${reason}`, 'warn');
      return;
    }
    const expected = conn.outbound ? FrameType.HelloAck : FrameType.Hello;
    if (frame.type !== expected) throw new FrameError(`frame type ${frame.type} before the handshake completed`);
    const hello = decodeHello(frame.payload);
    if (conn.outbound) {
      const reason = checkAckHello(this.local, conn.peerId, hello);
      const peer = this.peers.get(conn.peerId);
      if (reason !== undefined || !peer) {
        const why = reason ?? 'peer removed meanwhile';
        this.closeConn(conn, `${why}; refusing`, 'warn', encodeRefuseFrame(why));
        return;
      }
      this.adoptClusterId(hello);
      this.attach(peer, conn);
      return;
    }
    const reason = checkInboundHello(this.local, hello, (id) => this.peers.has(id));
    if (reason !== undefined) {
      this.logLimited('warn', `transport: ${reason}; refusing`, { remote: conn.describe() });
      this.closeConn(conn, `${reason}; refusing`, 'debug', encodeRefuseFrame(reason));
      return;
    }
    const peer = this.peers.get(hello.fromId)!;
    conn.peerId = peer.id;
    this.adoptClusterId(hello); // before the HelloAck, which then says the adopted id
    conn.write(encodeHelloFrame(FrameType.HelloAck, helloOf(this.local, peer.id)), this.now());
    this.attach(peer, conn);
  }

  private adoptClusterId(hello: Hello): void {
    const id = clusterIdToAdopt(this.local, hello);
    if (id === undefined) return;
    this.local.clusterId = id;
    this.log.info({ clusterId: hex(id), from: hex(hello.fromId) }, 'transport: adopted the cluster id of the running cluster');
    this.clusterIdCb(id);
  }

  private onOpenFrame(conn: PeerConn, frame: Frame): void {
    switch (frame.type) {
      case FrameType.Message:
        this.deliver(conn, decodeMessage(frame.payload));
        return;
      case FrameType.SnapBegin:
        this.onSnapBegin(conn, frame.payload);
        return;
      case FrameType.SnapChunk:
        this.onSnapChunk(conn, frame.payload);
        return;
      case FrameType.SnapAck:
        this.onSnapAck(conn, frame.payload);
        return;
      case FrameType.ForwardRequest:
      case FrameType.ForwardResponse: {
        const items = decodeForward(frame.payload);
        const peer = this.peers.get(conn.peerId);
        assert.ok(peer && peer.conn === conn, 'forward frame on a connection that is not the peer\'s');
        if (!this.blocked) this.forwardCb(conn.peerId, frame.type === FrameType.ForwardResponse, items);
        return;
      }
      case FrameType.Ping:
        return;
      case FrameType.Refuse:
        this.closeConn(conn, `refused by the other side: ${decodeRefuse(frame.payload)}`, 'warn');
        return;
      case FrameType.Hello:
      case FrameType.HelloAck:
        throw new FrameError('handshake frame on an open connection');
      default:
        throw new FrameError(`unexpected frame type ${String(frame.type)}`);
    }
  }

  /** Checks that a decoded message belongs on this connection, then hands it to raft. */
  private deliver(conn: PeerConn, m: Message): void {
    if (m.from !== conn.peerId) throw new FrameError(`message from member ${hex(m.from)} on the connection of ${conn.describe()}`);
    if (m.to !== this.local.memberId) throw new FrameError(`message for member ${hex(m.to)} sent to member ${hex(this.local.memberId)}`);
    if (LOCAL_MESSAGE_TYPES.has(m.type)) throw new FrameError(`local-only message ${m.type} from a peer`);
    const peer = this.peers.get(conn.peerId);
    assert.ok(peer && peer.conn === conn, 'delivery on a connection that is not the peer\'s');
    if (this.blocked) return; // the partition failpoint: validated, then dropped
    peer.receivedMessages += 1;
    this.messageCb(m);
  }

  private onSnapBegin(conn: PeerConn, payload: Uint8Array): void {
    const b = decodeSnapBegin(payload);
    if (conn.inSnap) throw new FrameError('a snapshot began while another is in progress');
    if (b.totalBytes > this.cfg.snapshotDataMaxBytes) {
      throw new FrameError(`snapshot of ${b.totalBytes} bytes exceeds the ${this.cfg.snapshotDataMaxBytes}-byte bound`);
    }
    if (b.message.from !== conn.peerId || b.message.to !== this.local.memberId) throw new FrameError('snapshot not from this peer or not for this member');
    conn.inSnap = {
      snapId: b.snapId, totalBytes: b.totalBytes, dataCrc: b.dataCrc, message: b.message,
      data: new Uint8Array(b.totalBytes), receivedBytes: 0, crc: 0,
    };
    this.log.info({ peer: hex(conn.peerId), bytes: b.totalBytes }, 'transport: receiving a snapshot');
    if (b.totalBytes === 0) this.completeSnapshot(conn);
  }

  private onSnapChunk(conn: PeerConn, payload: Uint8Array): void {
    const c = decodeSnapChunk(payload);
    const s = conn.inSnap;
    if (!s || s.snapId !== c.snapId) throw new FrameError(`snapshot chunk for unknown stream ${c.snapId}`);
    if (c.offset !== s.receivedBytes) throw new FrameError(`snapshot chunk at ${c.offset}, expected ${s.receivedBytes}`);
    if (c.offset + c.data.byteLength > s.totalBytes) throw new FrameError('snapshot chunk past the announced size');
    s.data.set(c.data, c.offset);
    s.crc = crc32(c.data, s.crc);
    s.receivedBytes += c.data.byteLength;
    if (s.receivedBytes === s.totalBytes) this.completeSnapshot(conn);
  }

  private completeSnapshot(conn: PeerConn): void {
    const s = conn.inSnap;
    assert.ok(s && s.receivedBytes === s.totalBytes, 'snapshot completed early');
    conn.inSnap = undefined;
    if (s.crc !== s.dataCrc) {
      this.log.warn({ peer: hex(conn.peerId), bytes: s.totalBytes }, 'transport: snapshot data crc mismatch; rejected');
      conn.write(encodeSnapAckFrame(s.snapId, false), this.now());
      return;
    }
    const snapshot = s.message.snapshot;
    assert.ok(snapshot, 'SnapBegin decoded without a snapshot');
    if (this.blocked) {
      conn.write(encodeSnapAckFrame(s.snapId, false), this.now());
      return;
    }
    this.deliver(conn, { ...s.message, snapshot: { metadata: snapshot.metadata, data: s.data } });
    if (conn.state === 'open') conn.write(encodeSnapAckFrame(s.snapId, true), this.now());
  }

  private onSnapAck(conn: PeerConn, payload: Uint8Array): void {
    const a = decodeSnapAck(payload);
    const peer = this.peers.get(conn.peerId);
    const snap = peer?.snap;
    if (!peer || !snap || snap.snapId !== a.snapId || snap.conn !== conn || !snap.awaitingAck) {
      throw new FrameError(`ack for snapshot stream ${a.snapId}, which is not awaiting one`);
    }
    this.finishSnapshot(peer, a.ok, a.ok ? 'acknowledged' : 'rejected by the receiver');
    this.pump(peer);
  }

  // ------------------------------------------------------------------------------------------
  // Timers

  /** Handshake and idle timeouts, pings, and expiry of what waits for a connection. */
  private tick(): void {
    if (this.closed) return;
    const nowMs = this.now();
    for (const c of [...this.conns]) {
      if (c.state === 'handshake' && nowMs - c.openedAtMs > this.cfg.handshakeTimeoutMs) {
        this.closeConn(c, `no handshake within ${this.cfg.handshakeTimeoutMs} ms`, 'warn');
      } else if (c.state === 'open' && nowMs - c.lastReadAtMs > this.cfg.idleTimeoutMs) {
        this.closeConn(c, `nothing received for ${Math.round(nowMs - c.lastReadAtMs)} ms`, 'warn');
      } else if (c.state === 'open' && nowMs - c.lastWriteAtMs >= this.cfg.pingIntervalMs && c.socket.writableLength === 0) {
        c.write(encodePingFrame(), nowMs);
      }
    }
    for (const p of this.peers.values()) {
      if (p.conn) continue;
      const dropped = p.queue.expire(nowMs - this.cfg.downQueueMaxAgeMs);
      if (dropped > 0) {
        p.droppedMessages += dropped;
        this.log.debug({ peer: hex(p.id), dropped }, 'transport: queued messages expired without a connection');
        this.emit(() => this.unreachableCb(p.id));
      }
      if (p.snap && p.snap.conn === undefined && nowMs - p.snap.queuedAtMs > this.cfg.downQueueMaxAgeMs) {
        this.finishSnapshot(p, false, 'no connection to the peer');
      }
    }
  }
}
