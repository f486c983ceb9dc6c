// The clients of a Jepsen run: each its own KvClient, issuing a seeded random
// mix of get, put, append, cas and delete, one call at a time, every call
// recorded.
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '@xraft/core';
import type { Cluster, KvClient, KvClientOptions } from '../../src/index.js';
import type { Input, Recorder } from './recorder.js';

/** WorkloadOptions configure a {@link Workload}. */
export interface WorkloadOptions {
  readonly clients: number;
  /** Keys only appended to (with unique suffixes) and read: every append is traced in the final value. */
  readonly appendKeys: readonly string[];
  /** Keys put, cas'ed, deleted and read, with unique values. */
  readonly registerKeys: readonly string[];
  /** Pause between one client's calls, [min, max] ms. */
  readonly thinkMs: readonly [number, number];
  /** The KvClient options of client `i`. */
  readonly clientOptions: (i: number) => KvClientOptions;
  /** Each client's choices come from a PRNG seeded from this. */
  readonly seed: number;
}

/**
 * Workload runs `clients` concurrent clients against a cluster until
 * {@link stop}. Each is a Jepsen "process": sequential calls, and after a
 * call whose outcome is unknown it retires its KvClient and takes a fresh one
 * (a new session), since the old one may still have that call in flight.
 */
export class Workload {
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private readonly live = new Set<KvClient>();
  /** KvClients opened in all (fresh ones after unknown outcomes included). */
  sessions = 0;

  constructor(
    private readonly c: Cluster,
    private readonly recorder: Recorder,
    private readonly o: WorkloadOptions,
  ) {}

  /** start launches every client. */
  start(): void {
    for (let i = 0; i < this.o.clients; i++) this.loops.push(this.loop(i, this.o.seed + 1 + i));
  }

  /** stop asks every client to stop after its current call, waits for them, and closes their KvClients. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    await Promise.all([...this.live].map((kv) => kv.close()));
  }

  private open(i: number, random: () => number): KvClient {
    const kv = this.c.client({ ...this.o.clientOptions(i), random });
    this.live.add(kv);
    this.sessions++;
    return kv;
  }

  private async retire(kv: KvClient): Promise<void> {
    this.live.delete(kv);
    await kv.close();
  }

  private async loop(i: number, seed: number): Promise<void> {
    const name = `c${i}`;
    const random = seededRandom(seed);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    /** The value this client last saw in each register key (what its cas expects). */
    const known = new Map<string, string | undefined>();
    let kv = this.open(i, random);
    for (let n = 0; !this.stopped; n++) {
      let input: Input;
      if (random() < 0.5) {
        const key = pick(this.o.appendKeys);
        input = random() < 0.55 ? { op: 'append', key, suffix: `${name}.${n},` } : { op: 'get', key };
      } else {
        const key = pick(this.o.registerKeys);
        const r = random();
        const value = `${name}.${n}`;
        if (r < 0.35) input = { op: 'get', key };
        else if (r < 0.6) input = { op: 'put', key, value };
        else if (r < 0.9)
          input = { op: 'cas', key, expected: random() < 0.8 ? known.get(key) : undefined, value };
        else input = { op: 'delete', key };
      }
      const result = await this.recorder.call(name, kv, input);
      if (result.outcome === 'ok') {
        if (input.op === 'get' && this.o.registerKeys.includes(input.key))
          known.set(input.key, result.output as string | undefined);
        else if (input.op === 'put') known.set(input.key, input.value);
        else if (input.op === 'cas' && result.output === true) known.set(input.key, input.value);
        else if (input.op === 'delete') known.set(input.key, undefined);
      } else if (result.outcome === 'unknown') {
        await this.retire(kv);
        kv = this.open(i, random);
      }
      const [min, max] = this.o.thinkMs;
      await sleep(min + random() * (max - min));
    }
    await this.retire(kv);
  }
}
