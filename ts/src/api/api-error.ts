/**
 * The errors of the API, as values with codes defined once (STYLE.md 12).
 * Every error response has the body `{ error: { code, message } }`; a 5xx
 * never carries the details (they are logged), only the code and a generic
 * message.
 */
import { Type, type Static } from '../contracts/typebox.ts';

/** Code → HTTP status. The one list of the API's error codes. */
export const API_ERRORS = {
  /** A query parameter or body field fails its schema (type, range, length, unknown field). */
  INVALID_PARAMETER: 400,
  /** The pair is not one the service predicts. */
  UNKNOWN_PAIR: 400,
  /** A time is neither epoch milliseconds nor an ISO 8601 UTC instant. */
  INVALID_TIME: 400,
  /** `from` is after `to`. */
  INVALID_RANGE: 400,
  /** The paging cursor is not one this API issued (or was tampered with). */
  INVALID_CURSOR: 400,
  /** The request target cannot be decoded (e.g. `/v1/%ZZ`). */
  INVALID_URL: 400,
  /** A malformed request the parameters' schemas do not cover (e.g. a body that is not valid JSON). */
  BAD_REQUEST: 400,
  /** Missing or unknown x-api-key (only when API keys are configured). */
  UNAUTHORIZED: 401,
  /** A path that is never served (e.g. outside the docs' static folder). */
  FORBIDDEN: 403,
  /** No such route. */
  ROUTE_NOT_FOUND: 404,
  /** The path exists, the method does not: the `allow` header lists the methods. */
  METHOD_NOT_ALLOWED: 405,
  /** The client took too long to send its request. */
  REQUEST_TIMEOUT: 408,
  /** The body is over the size limit. */
  PAYLOAD_TOO_LARGE: 413,
  /** The body's content type is not accepted. */
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** The request headers are over the size limit. */
  HEADERS_TOO_LARGE: 431,
  /** No prediction has been made for the pair yet. */
  NO_PREDICTION: 404,
  /** No model is in production (or no model registry is configured yet). */
  NO_PRODUCTION_MODEL: 404,
  /** No monitoring data: no monitor runs in this process and the API has no prediction store. */
  NO_MONITORING: 404,
  /** The feature store has no order-book features of the pair (or the API reads no feature store). */
  NO_BOOK_FEATURES: 404,
  /** Per-client rate limit exceeded. */
  RATE_LIMITED: 429,
  /** A bug or an unexpected failure: details are logged, not returned. */
  INTERNAL: 500,
  /** A backend (the prediction store) is unavailable; retry later. */
  UNAVAILABLE: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly statusCode: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    opts: { cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.statusCode = API_ERRORS[code];
  }
}

export const isApiError = (e: unknown): e is ApiError => e instanceof ApiError;

/** The body of every error response. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.Union(Object.keys(API_ERRORS).map((c) => Type.Literal(c))),
        message: Type.String(),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, description: 'An error: a stable code and a human-readable message' },
);
export type ErrorBody = Static<typeof ErrorBody>;

export function errorBody(code: ApiErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

/** Generic message returned for any 5xx (details stay in the logs). */
export const HIDDEN_5XX_MESSAGE: Record<number, string> = {
  500: 'internal error (logged on the server)',
  503: 'service unavailable, retry later',
};
