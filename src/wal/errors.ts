// Errors the WAL raises to its host. They are thrown (the WAL is a synchronous library owned by
// the wal-writer worker) and cross threads as `{ code, message }` like every other error here.
//
// WalCorruptError means "refuse to start": the log holds damage that is not a torn tail from a
// crash, so truncating it could drop acknowledged writes. The message names the file and the
// byte offset so that an operator can look at it (and e.g. restore the member from a peer).

export type WalErrorCode = 'WalCorrupt' | 'WalMismatch';

export class WalError extends Error {
  readonly code: WalErrorCode;
  constructor(code: WalErrorCode, message: string) {
    super(message);
    this.name = 'WalError';
    this.code = code;
  }
}

/** Real corruption (not a torn tail): the member must refuse to start. */
export class WalCorruptError extends WalError {
  /** Segment file name (no directory), or '' when the damage is not in one file (e.g. a missing segment). */
  readonly file: string;
  /** Byte offset of the damaged record in `file` (-1 when not applicable). */
  readonly offsetBytes: number;
  constructor(file: string, offsetBytes: number, why: string) {
    const where = file === '' ? 'wal' : `wal segment ${file}${offsetBytes >= 0 ? ` at offset ${offsetBytes}` : ''}`;
    super('WalCorrupt', `${where}: ${why}; refusing to start`);
    this.name = 'WalCorruptError';
    this.file = file;
    this.offsetBytes = offsetBytes;
  }
}
