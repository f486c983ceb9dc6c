import type { Message } from './messages.js';
import type { ReadState } from './read-index.js';
import type { Snapshot } from './snapshot.js';
import type { Entry, HardState } from './types.js';

/**
 * Ready is everything the core asks its host to do after one or more events,
 * in the order the host must follow (etcd-io/raft `Ready`, DESIGN.md):
 *
 * 1. send `earlyMessages` at once: the leader's AppendEntries, Heartbeats and
 *    TimeoutNow, which may go out before the leader's own write (thesis §10.2.1);
 * 2. install `snapshot`, if any, durably (it replaces the log up to its
 *    index, keeping the entries after it only if the log holds its last
 *    entry, §7); then make `hardState` and `entries` durable, in one atomic
 *    batch, after every earlier Ready's batch (entries may overwrite a suffix
 *    starting at `entries[0].index`: truncate the stored log there first);
 * 3. only then send `messages`: votes and append acknowledgements promise
 *    durable state (§5.2, §5.3 "before responding to RPCs");
 * 4. restore the state machine from `snapshot`, if any; then apply
 *    `committed` to it, in order: they are committed;
 * 5. call {@link RaftNode.advance} with this Ready once step 2 is done.
 *
 * `readStates` answer ReadIndex requests (thesis §6.4) and need no durability:
 * serve each `ok` one once the state machine has applied its index.
 */
export interface Ready {
  /** The hard state to persist, if it changed since the previous Ready. */
  readonly hardState: HardState | null;
  /** A snapshot received from the leader (InstallSnapshot, §7), to install before anything else. */
  readonly snapshot: Snapshot | null;
  /** Entries to append to stable storage; empty when there are none. */
  readonly entries: readonly Entry[];
  /** Messages that may be sent before `hardState`/`entries` are durable. */
  readonly earlyMessages: readonly Message[];
  /** Messages to send only after `hardState` and `entries` are durable. */
  readonly messages: readonly Message[];
  /** Committed entries to apply to the state machine, in log order. */
  readonly committed: readonly Entry[];
  /** Answers to ReadIndex requests. */
  readonly readStates: readonly ReadState[];
}

/** isEmptyReady tells whether a Ready asks nothing of the host. */
export function isEmptyReady(rd: Ready): boolean {
  return (
    rd.hardState === null &&
    rd.snapshot === null &&
    rd.entries.length === 0 &&
    rd.earlyMessages.length === 0 &&
    rd.messages.length === 0 &&
    rd.committed.length === 0 &&
    rd.readStates.length === 0
  );
}
