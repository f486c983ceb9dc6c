import { describe, expect, test } from 'vitest';
import {
  checkHistory,
  History,
  type RegisterInput,
  type RegisterOutput,
  type RegisterValue,
  registerModel,
} from '../src/index.js';

/** A fake clock: each reading is 10 ns after the previous one. */
function ticks(): () => bigint {
  let t = 0n;
  return () => (t += 10n);
}

describe('History', () => {
  test('records calls and returns; fail drops, info and pending become unknown', () => {
    const h = new History<RegisterInput, RegisterOutput>({ now: ticks() });
    const w = h.invoke(1, { op: 'write', value: 1 }); // 10
    const r = h.invoke(2, { op: 'read' }); // 20
    const f = h.invoke(3, { op: 'write', value: 9 }); // 30
    const i = h.invoke(4, { op: 'write', value: 2 }); // 40
    h.invoke(5, { op: 'read' }); // 50, never completed
    expect(h.pending).toBe(5);
    h.ok(w); // 60
    h.ok(r, 1); // 70
    h.fail(f);
    h.info(i);
    expect(h.pending).toBe(1);
    expect(h.operations()).toEqual([
      {
        status: 'ok',
        clientId: 1,
        input: { op: 'write', value: 1 },
        output: undefined,
        call: 10n,
        return: 60n,
      },
      { status: 'ok', clientId: 2, input: { op: 'read' }, output: 1, call: 20n, return: 70n },
      { status: 'unknown', clientId: 4, input: { op: 'write', value: 2 }, call: 40n },
      { status: 'unknown', clientId: 5, input: { op: 'read' }, call: 50n },
    ]);
  });

  test('operations are plain data: they survive structured cloning', () => {
    const h = new History<RegisterInput, RegisterOutput>();
    h.ok(h.invoke('a', { op: 'write', value: 'x' }));
    h.invoke('b', { op: 'read' });
    const ops = h.operations();
    expect(structuredClone(ops)).toEqual(ops);
  });

  test('completing an operation twice, or one never invoked, is an error', () => {
    const h = new History<RegisterInput, RegisterOutput>();
    const id = h.invoke(1, { op: 'read' });
    h.ok(id, null);
    expect(() => h.fail(id)).toThrow('operation 0 of client 1 already completed as ok');
    expect(() => h.ok(7)).toThrow(/no operation 7 in this history/);
  });

  test('a history recorded against a real concurrent register checks ok', async () => {
    let value: RegisterValue = null;
    const h = new History<RegisterInput, RegisterOutput>();
    const pause = () => new Promise<void>((resolve) => setImmediate(resolve));
    const client = async (id: number) => {
      for (let k = 0; k < 20; k++) {
        if ((id + k) % 3 === 0) {
          const op = h.invoke(id, { op: 'write', value: id * 100 + k });
          await pause();
          value = id * 100 + k;
          await pause();
          h.ok(op);
        } else {
          const op = h.invoke(id, { op: 'read' });
          await pause();
          const seen = value;
          await pause();
          h.ok(op, seen);
        }
      }
    };
    await Promise.all([1, 2, 3, 4].map(client));
    const ops = h.operations();
    expect(ops).toHaveLength(80);
    expect(checkHistory(registerModel, ops).result).toBe('ok');
  });
});
