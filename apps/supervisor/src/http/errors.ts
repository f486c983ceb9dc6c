/**
 * Errors of the KV HTTP API as replies: every failure becomes a status code
 * and a body `{"error": "<message>"}` whose message says what happened and,
 * for writes whose fate is unknown, that they may or may not have been applied.
 */
import {
  ClosedError,
  NotLeaderError,
  RequestRejectedError,
  SessionExpiredError,
  TimeoutError,
} from '@xraft/kv';

/** Reply is one HTTP answer: a status, a JSON body (none for 204) and extra headers. */
export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** The request surely had no effect, so running it again is safe (a retry with the same id does). */
  readonly notApplied?: boolean;
}

/** RETRY_AFTER_S is the `Retry-After` (seconds) of a 503 when no leader was found: elections take ~150–300 ms. */
export const RETRY_AFTER_S = 1;

/** HttpError is a failure of the request itself (bad input, unknown route), with its status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** errorBody is the JSON body of every error reply. */
export function errorBody(message: string): { error: string } {
  return { error: message };
}

/**
 * errorReply turns what a handler threw into a reply:
 * NotLeaderError → 503 + Retry-After (not applied); TimeoutError → 504
 * (outcome unknown); ClosedError → 503 (shutting down); SessionExpiredError →
 * 503 (outcome unknown); RequestRejectedError → 500; a KvClient argument
 * error (TypeError) → 400; fastify's own errors keep their 4xx status.
 */
export function errorReply(err: unknown, maxBodyBytes: number): Reply {
  const fail = (status: number, message: string, headers?: Record<string, string>): Reply => ({
    status,
    body: errorBody(message),
    ...(headers ? { headers } : {}),
  });
  const refuse = (status: number, message: string, headers?: Record<string, string>): Reply => ({
    ...fail(status, message, headers),
    notApplied: true,
  });
  if (err instanceof HttpError) return refuse(err.status, err.message, { ...err.headers });
  if (err instanceof NotLeaderError) {
    return refuse(503, err.message, { 'retry-after': String(RETRY_AFTER_S) });
  }
  if (err instanceof TimeoutError) return fail(504, err.message);
  if (err instanceof ClosedError) {
    return fail(
      503,
      `${err.operation}: the server is shutting down; a write in flight may or may not have been applied`,
    );
  }
  if (err instanceof SessionExpiredError) return fail(503, err.message);
  if (err instanceof RequestRejectedError) return refuse(500, err.message);
  if (err instanceof TypeError) return refuse(400, err.message);
  const e = err as { code?: unknown; statusCode?: unknown; message?: unknown };
  if (e?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return refuse(413, `request body is larger than the limit of ${maxBodyBytes} bytes`);
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return refuse(e.statusCode, String(e.message));
  }
  return fail(500, `internal error: ${err instanceof Error ? err.message : String(err)}`);
}
