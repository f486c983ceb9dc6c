import { and, not, or, setup } from 'xstate';
import {
  answerPreVote,
  canVote,
  countOwnVote,
  electionResult,
  grantVote,
  recordVote,
  rejectVote,
  startElection,
  startPreVote,
} from './election.js';
import {
  abortTransfer,
  becomeLeader,
  broadcastHeartbeat,
  canTransferTo,
  handleAppendEntriesResponse,
  handleHeartbeatResponse,
  handlePersistedAsLeader,
  leaveLeadership,
  propose,
  quorumActive,
  readIndex,
  rejectProposal,
  resetRecentActive,
  startTransfer,
} from './leader.js';
import type {
  AppendEntries,
  AppendEntriesResponse,
  Heartbeat,
  HeartbeatResponse,
  InstallSnapshot,
  InstallSnapshotResponse,
  Message,
  PreVote,
  PreVoteResponse,
  RequestVote,
} from './messages.js';
import type { Raft } from './raft.js';
import type { ReadMode } from './read-index.js';
import { answerStale, handleAppendEntries, handleHeartbeat } from './replication.js';
import { handleInstallSnapshot, handleInstallSnapshotResponse } from './snapshot.js';
import type { HardState, NodeId } from './types.js';

/** Propose asks the leader to append commands, as one batch (Raft's Start()). */
export interface ProposeEvent {
  readonly type: 'Propose';
  readonly commands: readonly Uint8Array[];
}

/**
 * Persisted tells the core that the host made a Ready durable: its log up to
 * (index, term) (0, 0 when it held no entries) and its hard state, if any.
 */
export interface PersistedEvent {
  readonly type: 'Persisted';
  readonly index: number;
  readonly term: number;
  readonly hardState: HardState | null;
}

/** TransferLeadership asks the leader to hand leadership to `to` (§3.10). */
export interface TransferLeadershipEvent {
  readonly type: 'TransferLeadership';
  readonly to: NodeId;
}

/** ReadIndex asks the leader to confirm a read (thesis §6.4); `ctx` names it in the ReadState answer. */
export interface ReadIndexEvent {
  readonly type: 'ReadIndex';
  readonly ctx: number;
  readonly mode: ReadMode;
}

/** RaftEvent is every event the role statechart takes: one per RPC or per batch, never per entry. */
export type RaftEvent = Message | ProposeEvent | PersistedEvent | TransferLeadershipEvent | ReadIndexEvent;

/** RaftContext is the statechart's context: the server's protocol state, mutated by the role modules. */
export interface RaftContext {
  readonly raft: Raft;
}

type Args = { context: RaftContext; event: RaftEvent };
const msg = <M extends Message>(event: RaftEvent) => event as M;

/**
 * raftMachine is the role statechart of one Raft server (§5.2 Figure 4, with
 * thesis §9.6 PreVote): follower → precandidate → candidate → leader.
 * Timeouts are delayed transitions on the injected clock; the election
 * timeout is drawn afresh from the injected random source on every entry.
 * Term rules shared by every role sit on the root; each role overrides them
 * where it behaves differently.
 */
export const raftMachine = setup({
  types: {
    context: {} as RaftContext,
    events: {} as RaftEvent,
    input: {} as RaftContext,
  },
  delays: {
    electionTimeout: ({ context }) => context.raft.randomizedElectionTimeout(),
    minElectionTimeout: ({ context }) => context.raft.config.electionTimeoutMs[0],
    heartbeatInterval: ({ context }) => context.raft.config.heartbeatIntervalMs,
  },
  guards: {
    isStale: ({ context, event }: Args) => msg(event).term < context.raft.term,
    isHigherTerm: ({ context, event }: Args) => msg(event).term > context.raft.term,
    isSameTerm: ({ context, event }: Args) => msg(event).term === context.raft.term,
    canVote: ({ context, event }: Args) => canVote(context.raft, msg<RequestVote | PreVote>(event)),
    /** §9.6/§6.2: within a lease, a vote request for a later term is ignored, unless it comes from a transfer. */
    breaksLease: ({ context, event }: Args) => {
      const m = msg<RequestVote | PreVote>(event);
      return (
        context.raft.config.checkQuorum &&
        m.term > context.raft.term &&
        !(m.type === 'RequestVote' && m.transfer)
      );
    },
    isHigherTermRejection: ({ context, event }: Args) => {
      const m = msg<PreVoteResponse>(event);
      return !m.granted && m.term > context.raft.term;
    },
    answersMyPreVote: ({ context, event }: Args) => {
      const m = msg<PreVoteResponse>(event);
      return m.term === (m.granted ? context.raft.term + 1 : context.raft.term);
    },
    wonElection: ({ context }) => electionResult(context.raft) === 'won',
    lostElection: ({ context }) => electionResult(context.raft) === 'lost',
    preVoteEnabled: ({ context }) => context.raft.config.preVote,
    checkQuorumDisabled: ({ context }) => !context.raft.config.checkQuorum,
    quorumActive: ({ context }) => quorumActive(context.raft),
    isTransferring: ({ context }) => context.raft.transferee !== null,
    canTransfer: ({ context, event }) => {
      const to = (event as TransferLeadershipEvent).to;
      return to !== context.raft.transferee && canTransferTo(context.raft, to);
    },
  },
  actions: {
    becomeFollower: ({ context }) => {
      context.raft.role = 'follower';
    },
    /** Adopt the sender's newer term; the leader is unknown (§5.1). */
    stepDown: ({ context, event }: Args) => context.raft.stepDown(msg(event).term, null),
    /** Adopt the sender as leader of its term (§5.2: a candidate that hears from a leader steps down). */
    acceptLeader: ({ context, event }: Args) => context.raft.stepDown(msg(event).term, msg(event).from),
    answerStale: ({ context, event }: Args) => answerStale(context.raft, msg(event)),
    grantVote: ({ context, event }: Args) => grantVote(context.raft, msg<RequestVote>(event)),
    rejectVote: ({ context, event }: Args) => rejectVote(context.raft, msg<RequestVote>(event)),
    grantPreVote: ({ context, event }: Args) => answerPreVote(context.raft, msg<PreVote>(event), true),
    rejectPreVote: ({ context, event }: Args) => answerPreVote(context.raft, msg<PreVote>(event), false),
    startPreVote: ({ context }) => startPreVote(context.raft),
    startElection: ({ context }) => startElection(context.raft),
    markTransferCampaign: ({ context }) => {
      context.raft.campaignIsTransfer = true;
    },
    recordVote: ({ context, event }: Args) => recordVote(context.raft, msg<PreVoteResponse>(event)),
    handleAppendEntries: ({ context, event }: Args) =>
      handleAppendEntries(context.raft, msg<AppendEntries>(event)),
    handleHeartbeat: ({ context, event }: Args) => handleHeartbeat(context.raft, msg<Heartbeat>(event)),
    handleInstallSnapshot: ({ context, event }: Args) =>
      handleInstallSnapshot(context.raft, msg<InstallSnapshot>(event)),
    handleInstallSnapshotResponse: ({ context, event }: Args) =>
      handleInstallSnapshotResponse(context.raft, msg<InstallSnapshotResponse>(event)),
    becomeLeader: ({ context }) => becomeLeader(context.raft),
    leaveLeadership: ({ context }) => leaveLeadership(context.raft),
    broadcastHeartbeat: ({ context }) => broadcastHeartbeat(context.raft),
    resetRecentActive: ({ context }) => resetRecentActive(context.raft),
    handleAppendEntriesResponse: ({ context, event }: Args) =>
      handleAppendEntriesResponse(context.raft, msg<AppendEntriesResponse>(event)),
    handleHeartbeatResponse: ({ context, event }: Args) =>
      handleHeartbeatResponse(context.raft, msg<HeartbeatResponse>(event)),
    propose: ({ context, event }) => propose(context.raft, (event as ProposeEvent).commands),
    rejectProposal: ({ context }) => rejectProposal(context.raft),
    readIndex: ({ context, event }) => {
      const e = event as ReadIndexEvent;
      readIndex(context.raft, e.ctx, e.mode);
    },
    /** Only the leader serves reads; the host redirects the client (§6.4). */
    rejectRead: ({ context, event }) => {
      context.raft.readStates.push({ ctx: (event as ReadIndexEvent).ctx, ok: false, index: 0 });
    },
    markStable: ({ context, event }) => {
      const e = event as PersistedEvent;
      if (e.hardState !== null) context.raft.durable = e.hardState;
      if (e.index > 0) context.raft.log.stableTo(e.index, e.term);
    },
    countOwnVote: ({ context }) => countOwnVote(context.raft),
    commitOwnWrite: ({ context }) => handlePersistedAsLeader(context.raft),
    startTransfer: ({ context, event }) => startTransfer(context.raft, (event as TransferLeadershipEvent).to),
    abortTransfer: ({ context }) => abortTransfer(context.raft),
    /** Election Safety (§5.2) makes this unreachable; reaching it means the protocol is broken. */
    reportSplitBrain: ({ context, event }: Args) => {
      throw new Error(
        `election safety violated: ${context.raft.id} leads term ${context.raft.term} and got ${event.type} from ${msg(event).from} of the same term`,
      );
    },
  },
}).createMachine({
  id: 'raft',
  context: ({ input }) => input,
  initial: 'boot',
  on: {
    PreVote: [
      { guard: 'isStale', actions: 'answerStale' },
      { guard: 'canVote', actions: 'grantPreVote' },
      { actions: 'rejectPreVote' },
    ],
    RequestVote: [
      { guard: 'isStale', actions: 'answerStale' },
      { guard: and(['isHigherTerm', 'canVote']), target: '.follower', actions: ['stepDown', 'grantVote'] },
      { guard: 'isHigherTerm', target: '.follower', actions: ['stepDown', 'rejectVote'] },
      { guard: 'canVote', target: '.follower', actions: 'grantVote' },
      { actions: 'rejectVote' },
    ],
    AppendEntries: [
      { guard: 'isStale', actions: 'answerStale' },
      { target: '.follower.leaderRecent', actions: ['acceptLeader', 'handleAppendEntries'] },
    ],
    Heartbeat: [
      { guard: 'isStale', actions: 'answerStale' },
      { target: '.follower.leaderRecent', actions: ['acceptLeader', 'handleHeartbeat'] },
    ],
    InstallSnapshot: [
      { guard: 'isStale', actions: 'answerStale' },
      { target: '.follower.leaderRecent', actions: ['acceptLeader', 'handleInstallSnapshot'] },
    ],
    TimeoutNow: [
      { guard: not('isStale'), target: '.candidate', actions: ['acceptLeader', 'markTransferCampaign'] },
    ],
    PreVoteResponse: [{ guard: 'isHigherTermRejection', target: '.follower', actions: 'stepDown' }],
    RequestVoteResponse: [{ guard: 'isHigherTerm', target: '.follower', actions: 'stepDown' }],
    AppendEntriesResponse: [{ guard: 'isHigherTerm', target: '.follower', actions: 'stepDown' }],
    HeartbeatResponse: [{ guard: 'isHigherTerm', target: '.follower', actions: 'stepDown' }],
    InstallSnapshotResponse: [{ guard: 'isHigherTerm', target: '.follower', actions: 'stepDown' }],
    Propose: { actions: 'rejectProposal' },
    ReadIndex: { actions: 'rejectRead' },
    Persisted: { actions: 'markStable' },
  },
  states: {
    /**
     * A server (re)starts as if it had just heard from a leader: it may have
     * answered a leader's heartbeat just before it crashed, and that leader's
     * lease (§6.4.1) must outlive the restart, so no vote for a minimum election timeout.
     */
    boot: { always: { target: 'follower.leaderRecent' } },
    follower: {
      entry: 'becomeFollower',
      initial: 'leaderSilent',
      after: {
        electionTimeout: [{ guard: 'preVoteEnabled', target: 'precandidate' }, { target: 'candidate' }],
      },
      on: {
        // Refusing a vote for a later term adopts the term but must not reset the election timer (§5.2).
        RequestVote: { guard: and(['isHigherTerm', not('canVote')]), actions: ['stepDown', 'rejectVote'] },
      },
      states: {
        /** No leader heard from within the minimum election timeout. */
        leaderSilent: {},
        /** A leader was heard from recently: its lease holds, vote requests for later terms are ignored (§9.6). */
        leaderRecent: {
          after: { minElectionTimeout: 'leaderSilent' },
          on: {
            RequestVote: { guard: 'breaksLease' },
            PreVote: { guard: 'breaksLease' },
          },
        },
      },
    },
    precandidate: {
      entry: 'startPreVote',
      after: { electionTimeout: { target: 'precandidate', reenter: true } },
      always: [
        { guard: 'wonElection', target: 'candidate' },
        { guard: 'lostElection', target: 'follower' },
      ],
      on: {
        PreVoteResponse: { guard: 'answersMyPreVote', actions: 'recordVote' },
      },
    },
    candidate: {
      entry: 'startElection',
      after: {
        electionTimeout: [
          { guard: 'preVoteEnabled', target: 'precandidate' },
          { target: 'candidate', reenter: true },
        ],
      },
      always: [
        { guard: 'wonElection', target: 'leader' },
        { guard: 'lostElection', target: 'follower' },
      ],
      on: {
        RequestVoteResponse: { guard: 'isSameTerm', actions: 'recordVote' },
        Persisted: { actions: ['markStable', 'countOwnVote'] },
      },
    },
    leader: {
      entry: 'becomeLeader',
      exit: 'leaveLeadership',
      type: 'parallel',
      on: {
        AppendEntries: { guard: 'isSameTerm', actions: 'reportSplitBrain' },
        Heartbeat: { guard: 'isSameTerm', actions: 'reportSplitBrain' },
        InstallSnapshot: { guard: 'isSameTerm', actions: 'reportSplitBrain' },
        TimeoutNow: { guard: 'isSameTerm' },
        RequestVote: { guard: 'breaksLease' },
        PreVote: { guard: 'breaksLease' },
        AppendEntriesResponse: { guard: 'isSameTerm', actions: 'handleAppendEntriesResponse' },
        HeartbeatResponse: { guard: 'isSameTerm', actions: 'handleHeartbeatResponse' },
        InstallSnapshotResponse: { guard: 'isSameTerm', actions: 'handleInstallSnapshotResponse' },
        Propose: [{ guard: 'isTransferring', actions: 'rejectProposal' }, { actions: 'propose' }],
        ReadIndex: { actions: 'readIndex' },
        Persisted: { actions: ['markStable', 'commitOwnWrite'] },
      },
      states: {
        heartbeat: {
          initial: 'waiting',
          states: {
            waiting: {
              after: {
                heartbeatInterval: { target: 'waiting', reenter: true, actions: 'broadcastHeartbeat' },
              },
            },
          },
        },
        checkQuorum: {
          initial: 'waiting',
          states: {
            waiting: {
              after: {
                minElectionTimeout: [
                  {
                    guard: or(['checkQuorumDisabled', 'quorumActive']),
                    target: 'waiting',
                    reenter: true,
                    actions: 'resetRecentActive',
                  },
                  { target: '#raft.follower' },
                ],
              },
            },
          },
        },
        transfer: {
          initial: 'idle',
          states: {
            idle: {
              on: {
                TransferLeadership: {
                  guard: 'canTransfer',
                  target: 'transferring',
                  actions: 'startTransfer',
                },
              },
            },
            transferring: {
              exit: 'abortTransfer',
              after: { electionTimeout: 'idle' },
              on: {
                TransferLeadership: {
                  guard: 'canTransfer',
                  target: 'transferring',
                  reenter: true,
                  actions: 'startTransfer',
                },
              },
            },
          },
        },
      },
    },
  },
});

/** RaftMachine is the type of {@link raftMachine}. */
export type RaftMachine = typeof raftMachine;
