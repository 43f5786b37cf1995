/** The one error type of the stores: a value with a code (STYLE.md 12). */
import type { RejectedDocument, StoreErrorCode } from './types.ts';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  /** For INVALID_DOCUMENT raised by put(): the rejected documents. */
  readonly rejected: RejectedDocument[];

  constructor(code: StoreErrorCode, message: string, opts: { cause?: unknown; rejected?: RejectedDocument[] } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.rejected = opts.rejected ?? [];
  }
}

export const isStoreError = (e: unknown): e is StoreError => e instanceof StoreError;
