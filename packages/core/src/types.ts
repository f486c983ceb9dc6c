/** NodeId identifies a Raft server (`'n1'`, `'n2'`, …). */
export type NodeId = string;

/**
 * EntryType: `normal` entries carry a state-machine command; a `noop` entry is
 * appended by every new leader at the start of its term (§8, seed document) so
 * that entries of earlier terms can be committed through it.
 */
export type EntryType = 'normal' | 'noop';

/** Entry is one log entry (§5.3). Entries are immutable once created. */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/**
 * HardState is what a server must persist before it answers any RPC (Figure 2
 * "persistent state"): currentTerm and votedFor, plus the commit index, which
 * lets a restarted server re-apply committed entries without waiting for a leader.
 */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

/** Role is the top-level state of the role statechart. */
export type Role = 'follower' | 'precandidate' | 'candidate' | 'leader';

/** EMPTY_HARD_STATE is the hard state of a server that has never run. */
export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });

/** EMPTY_DATA is the payload of entries without one (no-ops). */
export const EMPTY_DATA: Uint8Array = new Uint8Array(0);

/** assertNever marks a branch the type system proves unreachable; reaching it at run time throws. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
