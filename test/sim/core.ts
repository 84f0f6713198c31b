// The one place where the simulation touches the raft core's implementation (everything else
// uses only the contract in src/raft/types.ts). Keeping the seam this narrow is what lets the
// mutation check run the unchanged simulation against an edited copy of the core under /tmp: the
// copy keeps these relative imports and nothing else needs to move.

import { decodeConfChange } from '../../src/raft/confchange.js';
import { RawNode } from '../../src/raft/rawnode.js';
import { MemoryStorage } from '../../src/raft/storage.js';
import type { NodeId, RaftConfig, RawNodeApi } from '../../src/raft/types.js';

/** The stable storage a simulated host writes to when its writes complete. */
export type SimStorage = MemoryStorage;

export function newStorage(): SimStorage {
  return new MemoryStorage();
}

/** Writes the initial configuration into a brand-new initial member's empty storage. */
export function bootstrapStorage(storage: SimStorage, voters: NodeId[]): void {
  RawNode.bootstrap(storage, voters);
}

export function newRawNode(cfg: RaftConfig): RawNodeApi {
  return new RawNode(cfg);
}

export { decodeConfChange };
