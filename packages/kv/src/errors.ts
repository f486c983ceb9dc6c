/**
 * The typed errors of `@xraft/kv`. Client-facing ones (DESIGN.md "The KvClient
 * contract") say whether the call may have been applied, since that is what a
 * caller must know to decide whether to retry.
 */

/**
 * TimeoutError: a call got no definite answer within its timeout. For a
 * write the outcome is unknown: it may or may not have been applied (a retry
 * by the caller is a new request, so it may apply twice; `cas` makes a retry
 * conditional). A read had no effect either way.
 */
export class TimeoutError extends Error {
  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
    /** Whether the call was a write, whose outcome is then unknown. */
    readonly write = true,
  ) {
    super(
      `${operation} got no answer within ${timeoutMs} ms${write ? '; it may or may not have been applied' : ''}. Check that a majority of the cluster is up and reachable, or raise the client's timeoutMs.`,
    );
    this.name = 'TimeoutError';
  }
}

/**
 * NotLeaderError: the client gave up finding a leader after a bounded number
 * of search rounds. The call was NOT applied: no node accepted it.
 */
export class NotLeaderError extends Error {
  constructor(
    readonly operation: string,
    readonly rounds: number,
    readonly nodes: readonly string[],
  ) {
    super(
      `${operation}: no leader found after ${rounds} rounds over [${nodes.join(', ')}]; it was not applied. The cluster has no quorum (too many nodes down or partitioned): restore a majority and retry.`,
    );
    this.name = 'NotLeaderError';
  }
}

/** ClosedError: the client was closed before (or while) the call ran. Pending calls may or may not have been applied. */
export class ClosedError extends Error {
  constructor(readonly operation: string) {
    super(`${operation}: the KvClient is closed; create a new client to go on`);
    this.name = 'ClosedError';
  }
}

/**
 * SessionExpiredError: the cluster expired this client's session (thesis
 * §6.3: inactivity measured in log entries, or eviction of the least recently
 * active session) while the call was in doubt, so exactly-once can no longer
 * be promised: the call may or may not have been applied. The client opens a
 * fresh session for later calls by itself. Calls that were surely not applied
 * are retried in the new session transparently and never see this error.
 */
export class SessionExpiredError extends Error {
  constructor(
    readonly operation: string,
    readonly clientId: number,
  ) {
    super(
      `${operation}: client session ${clientId} expired on the cluster while the call was in doubt; it may or may not have been applied. Raise the state machine's sessionTimeoutEntries/maxSessions if this happens under normal load.`,
    );
    this.name = 'SessionExpiredError';
  }
}

/** RequestRejectedError: a node refused a request as malformed (a version mismatch or a bug); it was not applied. */
export class RequestRejectedError extends Error {
  constructor(
    readonly operation: string,
    readonly reason: string,
  ) {
    super(`${operation}: the cluster rejected the request as malformed: ${reason}`);
    this.name = 'RequestRejectedError';
  }
}

/** CodecError: bytes that do not decode as the expected kv message; `offset` is where decoding failed. */
export class CodecError extends Error {
  constructor(
    readonly what: string,
    readonly offset: number,
    detail: string,
  ) {
    super(`malformed ${what} at byte offset ${offset}: ${detail}`);
    this.name = 'CodecError';
  }
}

/** SnapshotError: bytes given to `restore` are not a valid kv snapshot (corrupt, truncated or of another version). */
export class SnapshotError extends Error {
  constructor(detail: string) {
    super(
      `invalid kv snapshot: ${detail}. The state machine was left unchanged; install a snapshot from a healthy replica.`,
    );
    this.name = 'SnapshotError';
  }
}

/**
 * UndeliveredError is what a {@link KvTransport} rejects with when a request
 * surely never reached the node (no route, the worker is down at send time).
 * The client may then report the call as not applied. Any other rejection
 * (timeout, the worker died while the request was in flight) means "maybe delivered".
 */
export class UndeliveredError extends Error {
  constructor(
    readonly node: string,
    detail: string,
  ) {
    super(`request to ${node} not delivered: ${detail}`);
    this.name = 'UndeliveredError';
  }
}
