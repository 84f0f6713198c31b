// The small actor runtime: every stateful component of a member lives on its own worker thread,
// owns its state alone, and talks to the others only through typed messages over MessagePorts.
//
// What it provides:
// - `spawnActor()`: starts a worker (through workers/boot.mjs, which loads TypeScript) with an
//   explicit name and resource limits, and turns any crash or unexpected exit of it into one
//   clear fatal callback, so that a member never half-works.
// - `Mailbox`: the receiving side of a port for one discriminated union of messages. Handlers
//   are synchronous; a handler that throws is an invariant failure and crashes the actor.
// - `Outbox`: the sending side, with an optional transfer list (ArrayBuffers move, not copy).
//
// Messages between our own threads are plain typed records (structured clone keeps Uint8Array,
// bigint, Map); they are validated with zod only where they enter the process (the gateway).

import assert from 'node:assert/strict';
import { MessageChannel, MessagePort, Worker, parentPort, workerData } from 'node:worker_threads';
import type { TransferListItem } from 'node:worker_threads';

const BOOT_URL = new URL('../../workers/boot.mjs', import.meta.url);

/** Worker heap bounds: generous, but finite so that a leak crashes loudly instead of swapping. */
export const ACTOR_OLD_GENERATION_MB_MAX = 8192;
export const ACTOR_YOUNG_GENERATION_MB_MAX = 64;

export interface ActorSpec<Init> {
  /** Thread name, as shown in logs, profiles and crash reports (e.g. "wal-writer"). */
  name: string;
  /** file: URL of the TypeScript entry of the actor (workers/<name>.ts). */
  entry: URL;
  init: Init;
  /** Ports handed to the actor at start (they move to it). */
  ports?: Record<string, MessagePort>;
  /** Called once if the actor dies for any reason other than `stop()`. */
  onFatal: (name: string, reason: string) => void;
}

export interface ActorHandle {
  readonly name: string;
  readonly worker: Worker;
  /** Ends the worker; its exit is then not reported as fatal. */
  stop(): Promise<void>;
}

/** What an actor's entry file receives as workerData. */
export interface ActorBoot<Init> {
  entry: string;
  name: string;
  init: Init;
  ports: Record<string, MessagePort>;
}

export function spawnActor<Init>(spec: ActorSpec<Init>): ActorHandle {
  const ports = spec.ports ?? {};
  const data: ActorBoot<Init> = { entry: spec.entry.href, name: spec.name, init: spec.init, ports };
  const worker = new Worker(BOOT_URL, {
    name: spec.name,
    workerData: data,
    transferList: Object.values(ports),
    resourceLimits: {
      maxOldGenerationSizeMb: ACTOR_OLD_GENERATION_MB_MAX,
      maxYoungGenerationSizeMb: ACTOR_YOUNG_GENERATION_MB_MAX,
    },
    stdout: false,
    stderr: false,
  });
  let stopping = false;
  let reported = false;
  const fatal = (reason: string): void => {
    if (stopping || reported) return;
    reported = true;
    spec.onFatal(spec.name, reason);
  };
  worker.on('error', (err: Error) => fatal(err.stack ?? String(err)));
  worker.on('exit', (code) => fatal(`exited unexpectedly with code ${code}`));
  return {
    name: spec.name,
    worker,
    async stop() {
      if (stopping) return;
      stopping = true;
      await worker.terminate();
    },
  };
}

/** Inside an actor: its name, init record and ports. */
export function actorBoot<Init>(): ActorBoot<Init> {
  assert.ok(parentPort, 'actorBoot() must be called inside a worker thread');
  const data = workerData as ActorBoot<Init>;
  assert.equal(typeof data.name, 'string');
  return data;
}

/** The port to the main thread, inside an actor. */
export function mainPort(): MessagePort {
  assert.ok(parentPort, 'mainPort() must be called inside a worker thread');
  return parentPort as unknown as MessagePort;
}

export interface Tagged {
  type: string;
}

/** The sending side of a typed channel. */
export class Outbox<Out extends Tagged> {
  constructor(private readonly port: MessagePort | Worker) {}

  send(msg: Out, transfer?: readonly TransferListItem[]): void {
    if (transfer && transfer.length > 0) this.port.postMessage(msg, transfer);
    else this.port.postMessage(msg);
  }
}

/** The receiving side: one handler for one union of messages. */
export function receive<In extends Tagged>(port: MessagePort | Worker, handler: (msg: In) => void): void {
  port.on('message', (msg: In) => {
    assert.equal(typeof msg?.type, 'string', 'actor message without a type tag');
    handler(msg);
  });
}

export function assertNever(x: never): never {
  throw new Error(`unhandled message: ${JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
}

/** A fresh pair of connected ports, for wiring two actors together. */
export function channel(): { a: MessagePort; b: MessagePort } {
  const ch = new MessageChannel();
  return { a: ch.port1, b: ch.port2 };
}

/**
 * Coalesces many wake-ups into one run per macrotask: actors call `schedule()` from every
 * message handler, and `run` sees everything that arrived meanwhile in one go. This is how the
 * actors batch across threads (one WAL write per burst of proposals, one apply per burst of
 * commits).
 */
export class Coalescer {
  private scheduled = false;

  constructor(private readonly run: () => void) {}

  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.run();
    });
  }
}
