import { type DiskConditions, FAST_DISK } from './disk.js';
import { type NetworkConditions, RELIABLE_NETWORK } from './network.js';

/**
 * FaultKind is one kind of trouble the nemesis can cause. Each is a failure
 * Raft must survive (§5.5 crashes, §5.6 timing, the network model of §5.1):
 *
 * - `crash`: a random server dies, losing every write not yet durable, and restarts later from disk;
 * - `crashLeader`: the same, aimed at the current leader;
 * - `crashPending`: the same, aimed at a server with a write in flight (between Ready and durable);
 * - `crashAll`: every server dies at once and restarts, each from whatever reached its disk;
 * - `pause` / `pauseLeader`: a process freezes (GC, SIGSTOP) and resumes with stale beliefs;
 * - `partition`: the network splits into groups, sometimes with a bridge node that sees both sides;
 * - `isolateLeader`: the leader, maybe with one follower, is cut off while clients keep writing to it;
 * - `oneWay`: some links fail in one direction only;
 * - `leaderFlap`: Figure 8 of the paper: the leader gets commands to a minority only, then crashes,
 *   and restarts soon after, so leaders of successive terms leave divergent suffixes behind;
 * - `weather`: a storm of loss, duplication and delay on the whole network;
 * - `slowDisk`: one server's fsync becomes slow, widening the window a crash can land in;
 * - `transfer`: the leader hands leadership to another server (§3.10).
 */
export type FaultKind =
  | 'crash'
  | 'crashLeader'
  | 'crashPending'
  | 'crashAll'
  | 'pause'
  | 'pauseLeader'
  | 'partition'
  | 'isolateLeader'
  | 'oneWay'
  | 'leaderFlap'
  | 'weather'
  | 'slowDisk'
  | 'transfer';

/** FaultProfileName names an intensity profile; `mixed` draws one of the others per seed. */
export type FaultProfileName = 'none' | 'light' | 'heavy';

/** FaultsOption is what a run may ask for: a profile, or `mixed`. */
export type FaultsOption = FaultProfileName | 'mixed';

/** FAULTS_OPTIONS lists the accepted values of {@link FaultsOption}. */
export const FAULTS_OPTIONS: readonly FaultsOption[] = ['none', 'light', 'heavy', 'mixed'];

/** Range is an inclusive-exclusive range of virtual milliseconds. */
export type Range = readonly [number, number];

/** FaultProfile is how hard the nemesis hits: how often, with what, for how long, on what weather. */
export interface FaultProfile {
  readonly name: FaultProfileName;
  /** Mean virtual time between two faults (a Poisson process); Infinity for none. */
  readonly meanIntervalMs: number;
  /** Relative weight of each kind of fault. */
  readonly weights: Readonly<Record<FaultKind, number>>;
  /** The network between storms. */
  readonly network: NetworkConditions;
  /** The network during a `weather` storm. */
  readonly storm: NetworkConditions;
  /** Every disk between `slowDisk` episodes. */
  readonly disk: DiskConditions;
  /** A disk during a `slowDisk` episode. */
  readonly slowDisk: DiskConditions;
  /** How long a crashed server stays down. */
  readonly downMs: Range;
  /** How long a pause lasts. */
  readonly pauseMs: Range;
  /** How long a partition, a cut link, a storm or a slow disk lasts. */
  readonly outageMs: Range;
  /** At most this many servers down at once through single crashes (`crashAll` ignores it). */
  readonly maxDownFraction: number;
  /**
   * Probability that a server crashes just after sending a vote, and after
   * sending an append acknowledgement: the moments a reply that ran ahead of
   * its write (or a vote forgotten on restart) turns into lost state.
   */
  readonly crashAfterVote: number;
  readonly crashAfterAck: number;
}

const NO_FAULTS: Record<FaultKind, number> = {
  crash: 0,
  crashLeader: 0,
  crashPending: 0,
  crashAll: 0,
  pause: 0,
  pauseLeader: 0,
  partition: 0,
  isolateLeader: 0,
  oneWay: 0,
  leaderFlap: 0,
  weather: 0,
  slowDisk: 0,
  transfer: 0,
};

/** FAULT_PROFILES are the built-in intensity profiles. */
export const FAULT_PROFILES: Readonly<Record<FaultProfileName, FaultProfile>> = Object.freeze({
  none: {
    name: 'none',
    meanIntervalMs: Number.POSITIVE_INFINITY,
    weights: NO_FAULTS,
    network: RELIABLE_NETWORK,
    storm: RELIABLE_NETWORK,
    disk: FAST_DISK,
    slowDisk: FAST_DISK,
    downMs: [0, 0],
    pauseMs: [0, 0],
    outageMs: [0, 0],
    maxDownFraction: 0,
    crashAfterVote: 0,
    crashAfterAck: 0,
  },
  light: {
    name: 'light',
    meanIntervalMs: 1500,
    weights: {
      ...NO_FAULTS,
      crash: 3,
      crashLeader: 2,
      crashPending: 1,
      pause: 2,
      pauseLeader: 1,
      partition: 2,
      isolateLeader: 2,
      oneWay: 1,
      leaderFlap: 1,
      weather: 2,
      slowDisk: 1,
      transfer: 1,
    },
    network: { dropRate: 0.01, duplicateRate: 0.01, delayMs: [1, 10], spikeRate: 0.002, spikeMs: [50, 300] },
    storm: { dropRate: 0.1, duplicateRate: 0.05, delayMs: [1, 60], spikeRate: 0.02, spikeMs: [100, 500] },
    disk: { fsyncMs: [0.2, 3], stallRate: 0.002, stallMs: [10, 100] },
    slowDisk: { fsyncMs: [10, 80], stallRate: 0.05, stallMs: [100, 400] },
    downMs: [50, 1500],
    pauseMs: [50, 600],
    outageMs: [200, 2000],
    maxDownFraction: 0.5,
    crashAfterVote: 0.02,
    crashAfterAck: 0.0005,
  },
  heavy: {
    name: 'heavy',
    meanIntervalMs: 300,
    weights: {
      crash: 3,
      crashLeader: 3,
      crashPending: 3,
      crashAll: 0.5,
      pause: 2,
      pauseLeader: 2,
      partition: 3,
      isolateLeader: 3,
      oneWay: 2,
      leaderFlap: 4,
      weather: 2,
      slowDisk: 2,
      transfer: 1,
    },
    network: { dropRate: 0.05, duplicateRate: 0.05, delayMs: [1, 30], spikeRate: 0.02, spikeMs: [50, 600] },
    storm: { dropRate: 0.3, duplicateRate: 0.15, delayMs: [1, 120], spikeRate: 0.05, spikeMs: [100, 1000] },
    disk: { fsyncMs: [0.5, 8], stallRate: 0.02, stallMs: [20, 300] },
    slowDisk: { fsyncMs: [20, 150], stallRate: 0.1, stallMs: [100, 600] },
    downMs: [5, 800],
    pauseMs: [50, 1500],
    outageMs: [100, 1500],
    maxDownFraction: 0.67,
    crashAfterVote: 0.15,
    crashAfterAck: 0.003,
  },
});

/** profileFor resolves a {@link FaultsOption}: `mixed` draws none (10%), light (40%) or heavy (50%). */
export function profileFor(option: FaultsOption, draw: number): FaultProfile {
  if (option !== 'mixed') return FAULT_PROFILES[option];
  return FAULT_PROFILES[draw < 0.1 ? 'none' : draw < 0.5 ? 'light' : 'heavy'];
}
