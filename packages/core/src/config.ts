import type { NodeId } from './types.js';

/** RaftConfig configures one Raft server. Times are in milliseconds of the injected clock. */
export interface RaftConfig {
  /** This server's id; must be one of `voters`. */
  readonly id: NodeId;
  /** Every voting member of the cluster, this server included. */
  readonly voters: readonly NodeId[];
  /** Randomized election timeout range [min, max] (§5.2; the seed document's 150–300 ms). */
  readonly electionTimeoutMs: readonly [number, number];
  /** Interval between leader heartbeats; well below the minimum election timeout (§5.6). */
  readonly heartbeatIntervalMs: number;
  /** Run a PreVote round before incrementing the term (thesis §9.6). */
  readonly preVote: boolean;
  /** A leader that has not heard from a quorum for a minimum election timeout steps down (§6.2). */
  readonly checkQuorum: boolean;
  /** Most AppendEntries in flight to one follower in replicate state (flow control). */
  readonly maxInflightMessages: number;
  /** Most entry bytes in flight to one follower (flow control). */
  readonly maxInflightBytes: number;
  /** Soft limit on the entry bytes of one AppendEntries (always at least one entry). */
  readonly maxMessageBytes: number;
  /** Bytes of snapshot per InstallSnapshot chunk (§7): no message carries a whole large snapshot. */
  readonly snapshotChunkBytes: number;
  /**
   * The bound on clock drift between servers over one election timeout, which
   * lease reads (thesis §6.4.1) rely on: a leader serves them without a
   * heartbeat round for the minimum election timeout minus this, after a
   * majority answered a round. null (the default) turns lease reads into
   * ReadIndex reads. Needs `checkQuorum`.
   */
  readonly maxClockDriftMs: number | null;
}

/** RaftOptions is {@link RaftConfig} with every field but `id` and `voters` optional. */
export type RaftOptions = Pick<RaftConfig, 'id' | 'voters'> & Partial<Omit<RaftConfig, 'id' | 'voters'>>;

/** DEFAULT_CONFIG holds the defaults of every optional {@link RaftConfig} field. */
export const DEFAULT_CONFIG: Omit<RaftConfig, 'id' | 'voters'> = Object.freeze({
  electionTimeoutMs: [150, 300] as const,
  heartbeatIntervalMs: 50,
  preVote: true,
  checkQuorum: true,
  maxInflightMessages: 256,
  maxInflightBytes: 32 * 1024 * 1024,
  maxMessageBytes: 1024 * 1024,
  snapshotChunkBytes: 256 * 1024,
  maxClockDriftMs: null,
});

/** resolveConfig fills in defaults and rejects inconsistent settings with a message saying what to fix. */
export function resolveConfig(options: RaftOptions): RaftConfig {
  const config: RaftConfig = { ...DEFAULT_CONFIG, ...options };
  const fail = (what: string): never => {
    throw new RangeError(`invalid Raft config for ${JSON.stringify(config.id)}: ${what}`);
  };
  if (typeof config.id !== 'string' || config.id.length === 0) fail('id must be a non-empty string');
  if (config.voters.length === 0) fail('voters must not be empty');
  if (new Set(config.voters).size !== config.voters.length) fail(`voters has duplicates: ${config.voters}`);
  if (!config.voters.includes(config.id)) fail(`voters ${JSON.stringify(config.voters)} must include id`);
  const [min, max] = config.electionTimeoutMs;
  if (!(Number.isFinite(min) && Number.isFinite(max) && min > 0 && min <= max)) {
    fail(`electionTimeoutMs must be [min, max] with 0 < min <= max, got [${min}, ${max}]`);
  }
  if (!(config.heartbeatIntervalMs > 0 && config.heartbeatIntervalMs < min)) {
    fail(
      `heartbeatIntervalMs (${config.heartbeatIntervalMs}) must be > 0 and below the minimum election timeout (${min})`,
    );
  }
  const drift = config.maxClockDriftMs;
  if (drift !== null) {
    if (!(Number.isFinite(drift) && drift >= 0 && drift < min)) {
      fail(`maxClockDriftMs (${drift}) must be >= 0 and below the minimum election timeout (${min})`);
    }
    if (!config.checkQuorum) fail('maxClockDriftMs (lease reads) needs checkQuorum');
  }
  for (const k of [
    'maxInflightMessages',
    'maxInflightBytes',
    'maxMessageBytes',
    'snapshotChunkBytes',
  ] as const) {
    if (!(Number.isInteger(config[k]) && config[k] > 0)) fail(`${k} must be a positive integer`);
  }
  return config;
}
