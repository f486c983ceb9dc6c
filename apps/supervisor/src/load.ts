/**
 * The steady write load of `xraft start`, which checks itself: every write
 * appends a unique token (`17,`) to one of a few keys through a KvClient, so
 * it goes through a client session and is applied exactly once however the
 * client retries across crashes and elections (thesis §6.3). Writes are
 * grouped in rounds of keys of their own (`load/<round>/<k>`); once a round's
 * writes have all answered, its keys are read back (linearizably) and every
 * acknowledged write must appear exactly once, then the keys are deleted, so
 * the store stays small however long the app runs.
 */
import { type KvClient, NotLeaderError } from '@xraft/runtime';

/** LOAD_KEYS is how many keys one round appends to, in turn. */
export const LOAD_KEYS = 8;
/** ROUND_WRITES is how many writes make a round. */
export const ROUND_WRITES = 400;
/** MAX_LOAD_IN_FLIGHT caps the writes awaiting an answer; while it is reached, ticks write nothing. */
export const MAX_LOAD_IN_FLIGHT = 256;
/** TICK_MS is how often the load catches up with its rate. */
const TICK_MS = 50;

/** LoadKv is what the load uses of a KvClient. */
export type LoadKv = Pick<KvClient, 'append' | 'get' | 'delete'>;

/** loadKey is the key write `n` appends to. */
export function loadKey(n: number): string {
  return `load/${Math.floor(n / ROUND_WRITES)}/${n % LOAD_KEYS}`;
}

/** Round is the writes of one round: acknowledged, surely not applied, outcome unknown. */
interface Round {
  readonly acknowledged: Set<number>;
  readonly unknown: Set<number>;
  issued: number;
  answered: number;
}

/**
 * KvLoad writes `rate` appends per second through `kv` from {@link start}
 * to {@link stop}, and verifies each finished round. Writes that would
 * exceed {@link MAX_LOAD_IN_FLIGHT} (the cluster has no leader for a while)
 * are skipped, not queued, so the load never bursts to catch up.
 */
export class KvLoad {
  /** Writes the cluster acknowledged. */
  acknowledged = 0;
  /** Writes that failed (timed out, no leader, client closed). */
  failed = 0;
  /** The message of the latest failure, if any. */
  lastError: string | null = null;
  /** Acknowledged writes read back and found exactly once. */
  verified = 0;
  /** Acknowledged writes missing when read back: each one is a lost acknowledged write. */
  lost = 0;
  /** Writes found more than once, or found though surely not applied: each one is a bug. */
  duplicated = 0;
  private issued = 0;
  private inflight = 0;
  private started = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly rounds = new Map<number, Round>();
  private verifying: Promise<void> = Promise.resolve();

  constructor(
    private readonly kv: LoadKv,
    /** Writes per second; > 0. */
    readonly rate: number,
    /** Told of each lost or duplicated write. */
    private readonly onAnomaly: (message: string) => void = () => {},
  ) {
    if (!(Number.isFinite(rate) && rate > 0))
      throw new RangeError(`KvLoad rate must be positive, got ${rate}`);
  }

  /** start begins writing. */
  start(): void {
    if (this.timer !== null) return;
    this.started = performance.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** stop writes no more; writes in flight still finish (or fail when their client closes). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * finish stops the load, waits for the writes in flight, and verifies every
   * round not verified yet. The client must still be open.
   */
  async finish(): Promise<void> {
    this.stop();
    while (this.inflight > 0) await new Promise((r) => setTimeout(r, 10));
    for (const n of [...this.rounds.keys()]) this.verifyRound(n);
    await this.verifying;
  }

  private tick(): void {
    const due = Math.floor((this.rate * (performance.now() - this.started)) / 1000);
    for (; this.issued < due; this.issued++) {
      if (this.inflight >= MAX_LOAD_IN_FLIGHT) {
        this.issued = due;
        return;
      }
      this.write(this.issued);
    }
  }

  private round(n: number): Round {
    const r = Math.floor(n / ROUND_WRITES);
    let round = this.rounds.get(r);
    if (round === undefined) {
      round = { acknowledged: new Set(), unknown: new Set(), issued: 0, answered: 0 };
      this.rounds.set(r, round);
    }
    return round;
  }

  private write(n: number): void {
    const round = this.round(n);
    round.issued++;
    this.inflight++;
    const answered = () => {
      this.inflight--;
      round.answered++;
      // A round is done once the writes after it began and all of its own answered.
      for (const [r, rd] of this.rounds) {
        if (r < Math.floor(this.issued / ROUND_WRITES) && rd.answered === rd.issued) this.verifyRound(r);
      }
    };
    this.kv.append(loadKey(n), `${n},`).then(
      () => {
        this.acknowledged++;
        round.acknowledged.add(n);
        answered();
      },
      (err: unknown) => {
        this.failed++;
        this.lastError = err instanceof Error ? err.message : String(err);
        // NotLeaderError means the write was never applied; anything else (a timeout) may have been.
        if (!(err instanceof NotLeaderError)) round.unknown.add(n);
        answered();
      },
    );
  }

  /** verifyRound reads a round's keys back, counts what it finds, and deletes them. */
  private verifyRound(r: number): void {
    const round = this.rounds.get(r);
    if (round === undefined) return;
    this.rounds.delete(r);
    this.verifying = this.verifying.then(async () => {
      const seen = new Map<number, number>();
      const keys = new Set<string>();
      for (let n = r * ROUND_WRITES; n < (r + 1) * ROUND_WRITES; n++) keys.add(loadKey(n));
      try {
        for (const key of keys) {
          const value = await this.kv.get(key);
          const text =
            typeof value === 'string' ? value : new TextDecoder().decode(value ?? new Uint8Array());
          for (const token of text.split(',')) {
            if (token !== '') seen.set(Number(token), (seen.get(Number(token)) ?? 0) + 1);
          }
        }
      } catch (err) {
        // Unverified, not lost: the round is checked again at the next chance.
        this.rounds.set(r, round);
        this.lastError = `verifying round ${r}: ${err instanceof Error ? err.message : String(err)}`;
        return;
      }
      for (const n of round.acknowledged) {
        const times = seen.get(n) ?? 0;
        if (times === 1) this.verified++;
        else if (times === 0) {
          this.lost++;
          this.onAnomaly(`acknowledged write ${n} to ${loadKey(n)} is missing`);
        } else {
          this.duplicated++;
          this.onAnomaly(`write ${n} to ${loadKey(n)} was applied ${times} times`);
        }
      }
      for (const [n, times] of seen) {
        if (round.acknowledged.has(n)) continue;
        if (!round.unknown.has(n) || times > 1) {
          this.duplicated++;
          this.onAnomaly(
            `write ${n} to ${loadKey(n)} is there ${times} time(s) though it failed as not applied`,
          );
        }
      }
      for (const key of keys) await this.kv.delete(key).catch(() => {});
    });
  }
}
