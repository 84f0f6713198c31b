// The WAL's public surface: the Wal class (src/wal/wal.ts) and what its host needs to call it.
// The codec, scan and replay modules stay importable for tests and tools (e.g. a future
// `tetcdutl wal dump`), but the wal-writer worker should only need what is exported here.
export {
  Wal, walDirOf, SEGMENT_SIZE_DEFAULT_BYTES, PREALLOC_CHUNK_DEFAULT_BYTES, APPEND_MAX_BYTES,
  type WalOptions, type WalRepair, type SyncMode, type WalFailpoint,
} from './wal.js';
export type { RecoveredLog } from './replay.js';
export { WalError, WalCorruptError, type WalErrorCode } from './errors.js';
export { RECORD_PAYLOAD_MAX_BYTES } from './record.js';
