/**
 * The websocket protocol of /v1/ws: one TypeBox schema per frame gives the
 * static type and the validator (server and typed client share them).
 *
 * Client → server (text frames, JSON):
 *   {"op":"subscribe","pairs":["BTC/USD"]}     → "subscribed", then one "snapshot" per pair newly subscribed
 *   {"op":"unsubscribe","pairs":["BTC/USD"]}   → "unsubscribed"
 * Server → client:
 *   hello        on connect: the pairs served and the heartbeat interval
 *   snapshot     per subscribed pair: the latest prediction and recent candles, predictions, errors
 *   prediction   a new prediction, as soon as it is made
 *   candle       a new candle
 *   prediction_error  a prediction error, when it becomes known
 *   error        the client sent something invalid (the connection stays open)
 * Close codes: 4000 slow consumer (send buffer over the limit), 4029 too many
 * messages (more than the per-connection rate), 1001 server shutting down. Without a valid API key (when keys are configured) the
 * upgrade itself is refused with HTTP 401. Heartbeat: protocol-level ping every interval; a
 * client that has not answered the previous ping is dropped.
 */
import { Type, type Static } from '../contracts/typebox.ts';
import { CandleBody, PredictionBody, PredictionErrorBody } from './schemas.ts';

/** Most pairs in one subscribe / unsubscribe frame. */
export const MAX_PAIRS_PER_FRAME = 64;

const Pairs = Type.Array(Type.String({ minLength: 1, maxLength: 32 }), { minItems: 1, maxItems: MAX_PAIRS_PER_FRAME });

export const SubscribeFrame = Type.Object({ op: Type.Literal('subscribe'), pairs: Pairs }, { additionalProperties: false });
export const UnsubscribeFrame = Type.Object({ op: Type.Literal('unsubscribe'), pairs: Pairs }, { additionalProperties: false });
export const ClientFrame = Type.Union([SubscribeFrame, UnsubscribeFrame]);
export type ClientFrame = Static<typeof ClientFrame>;

export const HelloFrame = Type.Object(
  { type: Type.Literal('hello'), pairs: Type.Array(Type.String()), heartbeat_ms: Type.Integer(), server_time_ms: Type.Integer() },
  { additionalProperties: false },
);
export const SubscribedFrame = Type.Object({ type: Type.Literal('subscribed'), pairs: Type.Array(Type.String()) }, { additionalProperties: false });
export const UnsubscribedFrame = Type.Object({ type: Type.Literal('unsubscribed'), pairs: Type.Array(Type.String()) }, { additionalProperties: false });
export const SnapshotFrame = Type.Object(
  {
    type: Type.Literal('snapshot'),
    pair: Type.String(),
    /** The latest prediction, null if none yet. */
    prediction: Type.Union([PredictionBody, Type.Null()]),
    /** Recent history kept in memory, oldest first. */
    predictions: Type.Array(PredictionBody),
    candles: Type.Array(CandleBody),
    errors: Type.Array(PredictionErrorBody),
  },
  { additionalProperties: false },
);
export const PredictionFrame = Type.Object({ type: Type.Literal('prediction'), pair: Type.String(), data: PredictionBody }, { additionalProperties: false });
export const CandleFrame = Type.Object({ type: Type.Literal('candle'), pair: Type.String(), data: CandleBody }, { additionalProperties: false });
export const PredictionErrorFrame = Type.Object(
  { type: Type.Literal('prediction_error'), pair: Type.String(), data: PredictionErrorBody },
  { additionalProperties: false },
);
export const WsErrorCode = Type.Union([Type.Literal('INVALID_MESSAGE'), Type.Literal('UNKNOWN_PAIR')]);
export const ErrorFrame = Type.Object(
  { type: Type.Literal('error'), code: WsErrorCode, message: Type.String() },
  { additionalProperties: false },
);
export const ServerFrame = Type.Union([
  HelloFrame,
  SubscribedFrame,
  UnsubscribedFrame,
  SnapshotFrame,
  PredictionFrame,
  CandleFrame,
  PredictionErrorFrame,
  ErrorFrame,
]);
export type ServerFrame = Static<typeof ServerFrame>;
export type SnapshotFrame = Static<typeof SnapshotFrame>;
export type PredictionFrame = Static<typeof PredictionFrame>;
export type CandleFrame = Static<typeof CandleFrame>;
export type PredictionErrorFrame = Static<typeof PredictionErrorFrame>;
export type ErrorFrame = Static<typeof ErrorFrame>;

/** Close codes the server uses. */
export const WS_CLOSE = {
  /** Server shutting down. */
  GOING_AWAY: 1001,
  /** The client did not read fast enough: its send buffer passed the limit. */
  SLOW_CONSUMER: 4000,
  /** The client sent more messages than its per-second budget (like HTTP 429). */
  TOO_MANY_MESSAGES: 4029,
} as const;

export const WS_PATH = '/v1/ws';

/**
 * One unfragmented, unmasked server text frame (RFC 6455 section 5.2): FIN +
 * opcode 1, the payload length in 7, 16 or 64 bits, then the UTF-8 payload.
 * Built once per broadcast and written to every subscriber as is.
 */
export function textFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const headLen = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = Buffer.allocUnsafe(headLen + n);
  out[0] = 0x81;
  if (n < 126) out[1] = n;
  else if (n < 65_536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  payload.copy(out, headLen);
  return out;
}
