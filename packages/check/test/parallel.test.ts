import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { CheckerPool, checkHistory, checkHistoryParallel, kvModel, registerModel } from '../src/index.js';
import { mutate, seededRandom, simulateKv, simulateRegister, testSeed } from './support.js';

const WORKER = fileURLToPath(new URL('../dist/worker.js', import.meta.url));

/** The parallel checker's workers run built JavaScript: this suite needs `pnpm build` first. */
function requireBuild(): void {
  if (!existsSync(WORKER))
    throw new Error(
      `${WORKER} is missing: run \`pnpm build\` first (the checker's workers run built JavaScript)`,
    );
}

describe('checkHistoryParallel', () => {
  test('a multi-key history across 2 threads gets the serial answer, ok and illegal (seed printed)', async () => {
    requireBuild();
    const seed = testSeed();
    console.log(`parallel.test seed=${seed} (replay: XRAFT_SEED=${seed})`);
    const rnd = seededRandom(seed);
    const ops = simulateKv(rnd, { ops: 3_000, clients: 6, keys: 12, values: 4, unknownRate: 0.01 });
    const serial = checkHistory(kvModel, ops);
    const parallel = await checkHistoryParallel('kv', ops, { threads: 2, timeoutMs: 30_000 });
    expect(serial.result).toBe('ok');
    expect(parallel.result).toBe('ok');
    const verdicts = (r: typeof serial) => r.partitions.map((p) => [p.key, p.ops, p.result]);
    expect(verdicts(parallel)).toEqual(verdicts(serial));

    // Mutate outputs until one makes the history illegal; both must explain it alike.
    for (let tries = 0; tries < 50; tries++) {
      const m = mutate(rnd, ops, [undefined, 'a', 'b', 'zz'])!;
      const s = checkHistory(kvModel, m.ops, { timeoutMs: 10_000 });
      if (s.result !== 'illegal') continue;
      const p = await checkHistoryParallel('kv', m.ops, { threads: 2, timeoutMs: 10_000 });
      expect(p.result).toBe('illegal');
      expect(verdicts(p)).toEqual(verdicts(s));
      expect(p.explanation?.text).toBe(s.explanation?.text);
      return;
    }
    throw new Error(`no mutation of seed ${seed} made the history illegal`);
  });

  test('models are named; bigint times and a single partition work', async () => {
    requireBuild();
    const ops = simulateRegister(seededRandom(7), { ops: 200, clients: 4, values: 3 }).map((op) =>
      op.status === 'ok'
        ? { ...op, call: BigInt(op.call) + 10n ** 15n, return: BigInt(op.return) + 10n ** 15n }
        : { ...op, call: BigInt(op.call) + 10n ** 15n },
    );
    const r = await checkHistoryParallel('register', ops, { threads: 2 });
    expect(r.result).toBe(checkHistory(registerModel, ops).result);
    expect(r.partitions).toHaveLength(1);
    expect((await checkHistoryParallel('kv', [], { threads: 2 })).result).toBe('ok');
  });

  test('a CheckerPool serves many checks, and leaves no thread behind once destroyed', async () => {
    requireBuild();
    const ports = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
    const before = ports();
    const pool = new CheckerPool({ threads: 2 });
    try {
      for (let seed = 1; seed <= 5; seed++) {
        const ops = simulateKv(seededRandom(seed), {
          ops: 400,
          clients: 4,
          keys: 5,
          values: 3,
          unknownRate: 0.05,
        });
        const r = await pool.check('kv', ops);
        expect(r.result, `seed ${seed}`).toBe(checkHistory(kvModel, ops).result);
      }
    } finally {
      await pool.destroy();
    }
    expect(ports()).toBe(before);
    await checkHistoryParallel('kv', [], { threads: 2 });
    expect(ports()).toBe(before);
  });

  test('bad arguments are refused with a clear message', async () => {
    await expect(checkHistoryParallel('nope' as 'kv', [])).rejects.toThrow(
      'unknown model "nope": use one of register, kv',
    );
    await expect(checkHistoryParallel('kv', [], { threads: 0 })).rejects.toThrow(
      /threads must be a positive integer/,
    );
  });
});
