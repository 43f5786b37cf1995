/**
 * Dead letters: a message that a service cannot accept goes to `dlq.<topic>`
 * with the payload (as text, truncated to 64 KiB), the reason and who rejected it.
 */
import { DeadLetter, type DeadLetter as DeadLetterMsg } from '../contracts/messages.ts';
import { validate } from '../contracts/codec.ts';

export const DEAD_LETTER_PAYLOAD_MAX_BYTES = 64 * 1024;

/** A short, bounded label for metrics, derived from the reason text. */
export type ReasonKind = 'empty' | 'too_large' | 'malformed_json' | 'schema' | 'handler' | 'other';

export function reasonKind(reason: string): ReasonKind {
  if (reason.startsWith('empty payload')) return 'empty';
  if (reason.startsWith('payload too large')) return 'too_large';
  if (reason.startsWith('malformed JSON')) return 'malformed_json';
  if (reason.startsWith('schema')) return 'schema';
  if (reason.startsWith('handler')) return 'handler';
  return 'other';
}

/** Build a valid DeadLetter for a rejected payload. */
export function makeDeadLetter(args: {
  topic: string;
  payload: Buffer | string | null;
  reason: string;
  source: string;
  now_ms?: number;
}): DeadLetterMsg {
  const bytes = args.payload === null ? Buffer.alloc(0) : typeof args.payload === 'string' ? Buffer.from(args.payload) : args.payload;
  let reason = args.reason;
  let payload: string;
  if (bytes.length > DEAD_LETTER_PAYLOAD_MAX_BYTES) {
    // Cut on a character boundary: drop a trailing partial UTF-8 sequence.
    payload = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, DEAD_LETTER_PAYLOAD_MAX_BYTES)).replace(/\uFFFD$/, '');
    reason = `${reason} (payload truncated from ${bytes.length} bytes)`;
  } else {
    payload = bytes.toString('utf8');
  }
  const dl: DeadLetterMsg = { topic: args.topic, payload, reason, source: args.source, ts_ms: args.now_ms ?? Date.now() };
  const v = validate(DeadLetter, dl);
  if (!v.ok) throw new Error(`bug: invalid dead letter: ${v.reason}`);
  return dl;
}
