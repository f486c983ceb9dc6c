/**
 * StateMachine is what a node applies its committed commands to (DESIGN.md
 * "The state machine interface", hashicorp/raft's FSM). Every node applies the
 * same commands in the same order (State Machine Safety, §5.4.3), so every
 * deterministic state machine ends in the same state.
 */
export interface StateMachine {
  /** apply executes one committed command, at log `index`; the result goes back to its proposer. */
  apply(command: Uint8Array, index: number): unknown;
  /** snapshot serializes the whole state (log compaction, §7). */
  snapshot(): Uint8Array;
  /** restore replaces the whole state with a snapshot's. */
  restore(snapshot: Uint8Array): void;
}
