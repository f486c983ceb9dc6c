/**
 * The steady write load of `xraft start`: puts through a KvClient, so every
 * write goes through a client session and is applied exactly once however
 * the client retries across crashes and elections (thesis §6.3).
 */
import type { KvClient } from '@xraft/runtime';

/** LOAD_KEYS is how many keys (`load/0`…) the load writes in turn. */
export const LOAD_KEYS = 8;
/** MAX_LOAD_IN_FLIGHT caps the writes awaiting an answer; while it is reached, ticks write nothing. */
export const MAX_LOAD_IN_FLIGHT = 256;
/** TICK_MS is how often the load catches up with its rate. */
const TICK_MS = 50;

/**
 * KvLoad writes `rate` puts per second (spread over {@link LOAD_KEYS} keys)
 * through `kv` from {@link start} to {@link stop}. Writes that would exceed
 * {@link MAX_LOAD_IN_FLIGHT} (the cluster has no leader for a while) are
 * skipped, not queued, so the load never bursts to catch up.
 */
export class KvLoad {
  /** Writes the cluster acknowledged. */
  acknowledged = 0;
  /** Writes that failed (timed out, no leader, client closed). */
  failed = 0;
  /** The message of the latest failure, if any. */
  lastError: string | null = null;
  private issued = 0;
  private inflight = 0;
  private started = 0;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly kv: Pick<KvClient, 'put'>,
    /** Writes per second; > 0. */
    readonly rate: number,
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

  private write(n: number): void {
    this.inflight++;
    this.kv.put(`load/${n % LOAD_KEYS}`, `write-${n}`).then(
      () => {
        this.inflight--;
        this.acknowledged++;
      },
      (err: unknown) => {
        this.inflight--;
        this.failed++;
        this.lastError = err instanceof Error ? err.message : String(err);
      },
    );
  }
}
