import type { StateMachine } from '@xraft/core';
import { assertNever } from '@xraft/core';
import { decodeEntry } from './codec.js';
import {
  concatValues,
  type KvApplyResult,
  type KvCommand,
  type KvCommandResult,
  type KvEntry,
  type KvPair,
  type KvQuery,
  type KvQueryResult,
  type Value,
  valuesEqual,
} from './commands.js';
import { CodecError, SnapshotError } from './errors.js';
import { OrderedMap } from './ordered-map.js';
import { type SessionLimits, SessionTable } from './sessions.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';

/** KvStateMachineOptions configure a {@link KvStateMachine}; every replica of a cluster must use the same ones. */
export interface KvStateMachineOptions extends Partial<SessionLimits> {}

/** DEFAULT_SESSION_LIMITS: a session lives through a million idle log indexes; at most 10 000 sessions. */
export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  sessionTimeoutEntries: 1_000_000,
  maxSessions: 10_000,
};

/**
 * KvStateMachine is the replicated key-value store (DESIGN.md "The state
 * machine interface"): a deterministic function of the committed log, so
 * every replica that applies the same entries holds the same map (State
 * Machine Safety, §5.4.3).
 *
 * Each entry is a {@link KvEntry}: a session `register`, or one client's batch
 * of commands, each applied exactly once however often it is retried (client
 * sessions, thesis §6.3). Reads do not go through the log: the node answers
 * them with {@link query} after ReadIndex (§6.4).
 */
export class KvStateMachine implements StateMachine {
  private data = new OrderedMap<Value>();
  private sessions: SessionTable;
  /** Index of the last entry applied. Invariant: entries are applied at strictly increasing indexes. */
  private applied = 0;

  constructor(options: KvStateMachineOptions = {}) {
    this.sessions = new SessionTable({ ...DEFAULT_SESSION_LIMITS, ...definedOnly(options) });
  }

  /** lastApplied is the index of the last entry applied (0: none). */
  get lastApplied(): number {
    return this.applied;
  }

  /** size is the number of keys. */
  get size(): number {
    return this.data.size;
  }

  /** sessionCount is the number of live client sessions. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * session describes the live session of `clientId` (undefined: unknown or
   * expired), for status pages and tests.
   */
  session(clientId: number): { lastActive: number; ackedSeq: number; storedResults: number } | undefined {
    const s = this.sessions.get(clientId);
    return s && { lastActive: s.lastActive, ackedSeq: s.ackedSeq, storedResults: s.results.size };
  }

  /**
   * apply executes the committed entry at `index` (§5.3). Expired sessions are
   * dropped first, by log index alone, so every replica drops the same ones at
   * the same entry. An entry that does not decode is `rejected` identically on
   * every replica, without changing state.
   */
  apply(command: Uint8Array, index: number): KvApplyResult {
    if (!Number.isSafeInteger(index) || index <= this.applied) {
      throw new Error(
        `KvStateMachine: entry ${index} applied after ${this.applied}: entries must come in log order`,
      );
    }
    this.applied = index;
    this.sessions.expire(index);
    let entry: KvEntry;
    try {
      entry = decodeEntry(command);
    } catch (err) {
      if (err instanceof CodecError) return { type: 'rejected', reason: err.message };
      throw err;
    }
    switch (entry.type) {
      case 'register':
        this.sessions.open(index);
        return { type: 'registered', clientId: index };
      case 'batch':
        return this.applyBatch(entry.clientId, entry.ackedSeq, entry.commands, index);
      default:
        return assertNever(entry, 'kv entry');
    }
  }

  /** query answers a read from the applied state; the node calls it once ReadIndex allows (§6.4). */
  query(q: KvQuery): KvQueryResult {
    switch (q.type) {
      case 'get':
        return { type: 'value', value: this.data.get(q.key) };
      case 'list': {
        const pairs: KvPair[] = [];
        for (const [key, value] of this.data.range(q.prefix, q.limit)) pairs.push({ key, value });
        return { type: 'pairs', pairs };
      }
      default:
        return assertNever(q, 'kv query');
    }
  }

  /** snapshot serializes the map and the sessions (snapshot.ts): versioned and checksummed. */
  snapshot(): Uint8Array {
    return encodeSnapshot({ lastApplied: this.applied, data: this.data, sessions: this.sessions.values() });
  }

  /**
   * restore replaces the whole state with a snapshot's. A corrupt snapshot
   * throws a `SnapshotError` and leaves the current state untouched.
   */
  restore(snapshot: Uint8Array): void {
    const state = decodeSnapshot(snapshot);
    const sessions = new SessionTable(this.sessions.limits);
    try {
      sessions.load(state.sessions);
    } catch (err) {
      if (err instanceof RangeError) throw new SnapshotError(err.message);
      throw err;
    }
    this.data = state.data;
    this.sessions = sessions;
    this.applied = state.lastApplied;
  }

  private applyBatch(
    clientId: number,
    ackedSeq: number,
    commands: readonly KvCommand[],
    index: number,
  ): KvApplyResult {
    const session = this.sessions.get(clientId);
    // Unknown or expired: apply nothing. The client may have been applied before the session expired, so only
    // it can tell whether re-registering and retrying is safe (thesis §6.3).
    if (session === undefined) return { type: 'sessionExpired', clientId };
    this.sessions.touch(session, index);
    session.ack(ackedSeq);
    const results: KvCommandResult[] = new Array(commands.length);
    for (let i = 0; i < commands.length; i++) {
      const c = commands[i]!;
      let result: KvCommandResult | undefined;
      if (c.seq < session.ackedSeq) {
        result = { seq: c.seq, type: 'stale' };
      } else {
        result = session.results.get(c.seq);
        if (result === undefined) {
          result = this.execute(c);
          session.results.set(result);
        }
      }
      results[i] = result;
    }
    return { type: 'applied', clientId, results };
  }

  private execute(c: KvCommand): KvCommandResult {
    switch (c.type) {
      case 'put':
        this.data.set(c.key, c.value);
        return { seq: c.seq, type: 'ok' };
      case 'delete':
        return { seq: c.seq, type: 'deleted', existed: this.data.delete(c.key) };
      case 'append':
        this.data.set(c.key, concatValues(this.data.get(c.key) ?? '', c.suffix));
        return { seq: c.seq, type: 'ok' };
      case 'cas': {
        const current = this.data.get(c.key);
        const swapped =
          c.expected === undefined
            ? current === undefined
            : current !== undefined && valuesEqual(current, c.expected);
        if (swapped) this.data.set(c.key, c.value);
        return { seq: c.seq, type: 'cas', swapped };
      }
      default:
        return assertNever(c, 'kv command');
    }
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
