import { describe, expect, test } from 'vitest';
import { EntryList, NIL } from '../src/entries.js';
import {
  type AnyModel,
  checkHistory,
  type Explanation,
  type KvInput,
  kvModel,
  type Operation,
  outputOf,
  registerModel,
} from '../src/index.js';
import { timeOrigin } from '../src/operation.js';
import { Search } from '../src/search.js';
import { unknownClasses } from '../src/symmetry.js';
import {
  applyKv,
  applyRegister,
  bruteForce,
  int,
  mutate,
  seededRandom,
  simulateKv,
  simulateRegister,
  testSeed,
} from './support.js';

const KV_OUTPUTS = [undefined, 'a', 'b', 'c', 'ab', 'ba', 'aa'];
const REGISTER_OUTPUTS = [null, 0, 1, 2];

/** replays checks an explanation against its model: the prefix is legal, and nothing stuck may follow it. */
function replays(model: AnyModel, e: Explanation): void {
  let state = model.init();
  for (const i of e.prefix) {
    const op = e.ops[i] as Operation;
    const r = model.step(state, op.input, outputOf(op));
    expect(r.ok, `prefix operation ${i} must be legal`).toBe(true);
    state = r.state;
  }
  expect(e.stuck.length).toBeGreaterThan(0);
  for (const i of e.stuck) {
    const op = e.ops[i] as Operation;
    expect(e.prefix).not.toContain(i);
    expect(model.step(state, op.input, outputOf(op)).ok, `stuck operation ${i} must be illegal next`).toBe(
      false,
    );
  }
}

describe('the checker agrees exactly with brute force on small random histories', () => {
  test('KV store: 600 histories of 1-7 operations on 1-2 keys (seed printed; XRAFT_SEED replays)', () => {
    const seed = testSeed();
    console.log(`random.test kv brute-force seed=${seed} (replay: XRAFT_SEED=${seed})`);
    const rnd = seededRandom(seed);
    const seen = { ok: 0, illegal: 0 };
    for (let n = 0; n < 600; n++) {
      const sim = simulateKv(rnd, {
        ops: int(rnd, 1, 7),
        clients: int(rnd, 1, 4),
        keys: int(rnd, 1, 2),
        values: 2,
        unknownRate: rnd() < 0.5 ? 0 : 0.3,
      });
      const ops = rnd() < 0.6 ? (mutate(rnd, sim, KV_OUTPUTS)?.ops ?? sim) : sim;
      const expected = bruteForce(ops, new Map(), applyKv) ? 'ok' : 'illegal';
      const r = checkHistory(kvModel, ops);
      expect(r.result, `history ${n} of seed ${seed}: ${JSON.stringify(ops)}`).toBe(expected);
      if (r.explanation) replays(kvModel, r.explanation);
      seen[expected]++;
    }
    // Both answers must be well represented, or the comparison proves little.
    expect(seen.ok).toBeGreaterThan(100);
    expect(seen.illegal).toBeGreaterThan(100);
  });

  test('register: 600 histories of 1-7 operations (seed printed; XRAFT_SEED replays)', () => {
    const seed = testSeed();
    console.log(`random.test register brute-force seed=${seed} (replay: XRAFT_SEED=${seed})`);
    const rnd = seededRandom(seed);
    const seen = { ok: 0, illegal: 0 };
    for (let n = 0; n < 600; n++) {
      const sim = simulateRegister(rnd, {
        ops: int(rnd, 1, 7),
        clients: int(rnd, 1, 4),
        values: 3,
        unknownRate: rnd() < 0.5 ? 0 : 0.3,
      });
      const ops = rnd() < 0.6 ? (mutate(rnd, sim, REGISTER_OUTPUTS)?.ops ?? sim) : sim;
      const expected = bruteForce(ops, null, applyRegister) ? 'ok' : 'illegal';
      const r = checkHistory(registerModel, ops);
      expect(r.result, `history ${n} of seed ${seed}: ${JSON.stringify(ops)}`).toBe(expected);
      if (r.explanation) replays(registerModel, r.explanation);
      seen[expected]++;
    }
    expect(seen.ok).toBeGreaterThan(100);
    expect(seen.illegal).toBeGreaterThan(100);
  });
});

test('unknown-outcome-heavy KV histories of up to 8 operations agree with brute force (seed printed)', () => {
  const seed = testSeed();
  console.log(`random.test unknown-heavy brute-force seed=${seed} (replay: XRAFT_SEED=${seed})`);
  const rnd = seededRandom(seed);
  for (let n = 0; n < 300; n++) {
    const sim = simulateKv(rnd, {
      ops: int(rnd, 2, 8),
      clients: int(rnd, 1, 4),
      keys: 1,
      values: 2,
      unknownRate: 0.5,
    });
    const ops = rnd() < 0.7 ? (mutate(rnd, sim, KV_OUTPUTS)?.ops ?? sim) : sim;
    const expected = bruteForce(ops, new Map(), applyKv) ? 'ok' : 'illegal';
    const r = checkHistory(kvModel, ops);
    expect(r.result, `history ${n} of seed ${seed}: ${JSON.stringify(ops)}`).toBe(expected);
    if (r.explanation) replays(kvModel, r.explanation);
    // Each of checkPartition's two searches on its own: the unrestricted one
    // decides exactly; the one allowing single unknown operations only finds
    // linearizations that exist.
    const list = new EntryList(
      ops,
      ops.map((_, i) => i),
      timeOrigin(ops),
    );
    const inputs = ops.map((op) => op.input);
    const unknownInputs: KvInput[] = [];
    for (let e = list.first(list.unknownHead); e !== NIL; e = list.next[e] as number) {
      unknownInputs[list.slot[e] as number] = inputs[list.op[e] as number] as KvInput;
    }
    const p = { model: kvModel, inputs, outputs: ops.map(outputOf), classes: unknownClasses(unknownInputs) };
    const full = new Search(p, list.clone(), Number.POSITIVE_INFINITY).advance(1e9, Number.POSITIVE_INFINITY);
    expect(full?.result, `full search, history ${n} of seed ${seed}`).toBe(expected);
    const single = new Search(p, list.clone(), 1).advance(1e9, Number.POSITIVE_INFINITY);
    if (single?.result === 'ok') expect(expected, `runs of one, history ${n} of seed ${seed}`).toBe('ok');
  }
});

describe('larger random histories', () => {
  test('simulated linearizable executions are ok; one mutated output is usually illegal (seed printed)', () => {
    const seed = testSeed();
    console.log(`random.test simulated seed=${seed} (replay: XRAFT_SEED=${seed})`);
    const rnd = seededRandom(seed);
    let illegal = 0;
    const runs = 40;
    for (let n = 0; n < runs; n++) {
      const sim = simulateKv(rnd, {
        ops: int(rnd, 50, 300),
        clients: int(rnd, 2, 8),
        keys: int(rnd, 1, 4),
        values: 4,
        unknownRate: rnd() < 0.5 ? 0 : 0.02,
      });
      const r = checkHistory(kvModel, sim, { timeoutMs: 10_000 });
      expect(r.result, `simulated history ${n} of seed ${seed}`).toBe('ok');
      const m = mutate(rnd, sim, KV_OUTPUTS);
      if (m === undefined) continue;
      // A mutation may leave the history linearizable; with unknown outcomes
      // an illegal one may also be too costly to refute within the budget.
      const rm = checkHistory(kvModel, m.ops, { timeoutMs: 1_000 });
      if (rm.explanation) {
        replays(kvModel, rm.explanation);
        illegal++;
      }
    }
    expect(illegal).toBeGreaterThan(runs / 4);
  });

  test('executions with many unknown outcomes are ok (seed printed)', () => {
    const seed = testSeed();
    console.log(`random.test unknown-heavy seed=${seed} (replay: XRAFT_SEED=${seed})`);
    const rnd = seededRandom(seed);
    for (let n = 0; n < 20; n++) {
      const sim = simulateKv(rnd, {
        ops: 300,
        clients: int(rnd, 2, 8),
        keys: 2,
        values: 3,
        unknownRate: 0.2,
      });
      expect(checkHistory(kvModel, sim, { timeoutMs: 10_000 }).result, `history ${n} of seed ${seed}`).toBe(
        'ok',
      );
      const reg = simulateRegister(rnd, { ops: 300, clients: int(rnd, 2, 8), values: 3, unknownRate: 0.2 });
      expect(
        checkHistory(registerModel, reg, { timeoutMs: 10_000 }).result,
        `register ${n} of seed ${seed}`,
      ).toBe('ok');
    }
  });
});
