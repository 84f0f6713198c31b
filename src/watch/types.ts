// The watch service's request model: etcd's WatchRequest / WatchResponse (etcdserverpb) as plain
// records, in the conventions of src/api/types.ts (camelCase proto names, Uint8Array bytes,
// number revisions). Watch ids are int64 chosen by clients, so they are bigint (exact).

import type { ResponseHeader } from '../api/types.js';
import type { WatchEvent } from '../server/messages.js';

export type { WatchEvent };

/** WatchCreateRequest.FilterType: NOPUT drops PUT events, NODELETE drops DELETE events. */
export const FILTER_NOPUT = 0;
export const FILTER_NODELETE = 1;

/** etcd's AutoWatchID: a create request without a watch id gets the next free one. */
export const AUTO_WATCH_ID = 0n;
/** etcd's InvalidWatchID: answers not tied to one watch (progress, a refused create). */
export const INVALID_WATCH_ID = -1n;

export interface WatchCreateRequest {
  key: Uint8Array;
  /** Absent/empty: the single key; [0]: every key >= key; else the range [key, rangeEnd). */
  rangeEnd?: Uint8Array;
  /** 0/absent: from the next revision. */
  startRevision?: number;
  progressNotify?: boolean;
  filters?: number[];
  prevKv?: boolean;
  watchId?: bigint;
  fragment?: boolean;
}

export type WatchRequest =
  | { createRequest: WatchCreateRequest }
  | { cancelRequest: { watchId: bigint } }
  | { progressRequest: Record<string, never> };

export interface WatchResponse {
  header: ResponseHeader;
  watchId: bigint;
  created?: boolean;
  canceled?: boolean;
  compactRevision?: number;
  cancelReason?: string;
  fragment?: boolean;
  events: WatchEvent[];
}
