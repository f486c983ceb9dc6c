// Test support: a seeded PRNG, terse constructors for hand-made histories,
// random linearizable histories from a simulated execution, and output
// mutations.
import type {
  KvInput,
  KvOutput,
  Operation,
  RegisterInput,
  RegisterOutput,
  RegisterValue,
} from '../src/index.js';

export { testSeed } from '../../../tools/testing/seed.js';

/** Random is a PRNG returning floats in [0, 1). */
export type Random = () => number;

/** seededRandom is mulberry32: small, fast, and good enough for test inputs. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** int is a uniform integer in [lo, hi]. */
export function int(rnd: Random, lo: number, hi: number): number {
  return lo + Math.floor(rnd() * (hi - lo + 1));
}

/** pick is a uniform element of `xs`. */
export function pick<T>(rnd: Random, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)] as T;
}

/** ok is a completed operation (times in ns; hand-made histories use small integers). */
export function ok<I, O>(clientId: number, input: I, output: O, call: number, ret: number): Operation<I, O> {
  return { status: 'ok', clientId, input, output, call, return: ret };
}

/** unknown is an operation of unknown outcome called at `call`. */
export function unknown<I>(clientId: number, input: I, call: number): Operation<I, never> {
  return { status: 'unknown', clientId, input, call };
}

export const read = (): RegisterInput => ({ op: 'read' });
export const write = (value: RegisterValue): RegisterInput => ({ op: 'write', value });
export const rcas = (expected: RegisterValue, value: RegisterValue): RegisterInput => ({
  op: 'cas',
  expected,
  value,
});

export const put = (key: string, value: string): KvInput => ({ op: 'put', key, value });
export const get = (key: string): KvInput => ({ op: 'get', key });
export const append = (key: string, suffix: string): KvInput => ({ op: 'append', key, suffix });
export const cas = (key: string, expected: string | undefined, value: string): KvInput => ({
  op: 'cas',
  key,
  expected,
  value,
});
export const del = (key: string): KvInput => ({ op: 'delete', key });

/** SimOptions shapes a simulated execution. */
export interface SimOptions {
  readonly ops: number;
  /** Concurrent clients, each running one operation at a time. */
  readonly clients: number;
  /** Keys (KV only). */
  readonly keys?: number;
  /** Distinct values written. */
  readonly values?: number;
  /** Probability that an operation's outcome is unknown (then it takes effect with probability 1/2). */
  readonly unknownRate?: number;
}

interface Planned<I> {
  readonly clientId: number;
  readonly input: I;
  readonly call: number;
  readonly ret: number;
  /** The linearization point, or undefined if the operation never takes effect. */
  readonly at: number | undefined;
  readonly status: 'ok' | 'unknown';
}

/**
 * plan lays out a simulated execution: each client runs operations one after
 * another, each taking effect at an instant between its call and return (an
 * unknown one: at any instant after its call, or never). Times are small
 * integers, so operations often touch.
 */
function plan<I>(rnd: Random, o: SimOptions, input: () => I): Planned<I>[] {
  const out: Planned<I>[] = [];
  const clock = Array.from({ length: o.clients }, () => int(rnd, 0, 20));
  for (let k = 0; k < o.ops; k++) {
    const c = k % o.clients;
    const call = (clock[c] as number) + int(rnd, 0, 30);
    const at = call + int(rnd, 0, 40);
    const ret = at + int(rnd, 0, 40);
    clock[c] = ret;
    const isUnknown = rnd() < (o.unknownRate ?? 0);
    if (!isUnknown) out.push({ clientId: c + 1, input: input(), call, ret, at, status: 'ok' });
    else {
      const late = call + int(rnd, 0, 400);
      out.push({
        clientId: c + 1,
        input: input(),
        call,
        ret,
        at: rnd() < 0.5 ? late : undefined,
        status: 'unknown',
      });
    }
  }
  return out;
}

/** execute applies planned operations in linearization order and records their outputs. */
function execute<I, O, S>(
  planned: Planned<I>[],
  init: S,
  apply: (s: S, input: I) => { state: S; output: O },
): Operation<I, O>[] {
  const outputs = new Map<number, O>();
  const order = planned
    .map((_, i) => i)
    .filter((i) => planned[i]?.at !== undefined)
    .sort((a, b) => (planned[a]?.at as number) - (planned[b]?.at as number) || a - b);
  let s = init;
  for (const i of order) {
    const r = apply(s, (planned[i] as Planned<I>).input);
    s = r.state;
    outputs.set(i, r.output);
  }
  return planned.map((p, i) =>
    p.status === 'ok'
      ? {
          status: 'ok',
          clientId: p.clientId,
          input: p.input,
          output: outputs.get(i) as O,
          call: p.call,
          return: p.ret,
        }
      : { status: 'unknown', clientId: p.clientId, input: p.input, call: p.call },
  );
}

/** KvRef is the reference KV store: all keys in one plain map, no partitioning. */
export type KvRef = ReadonlyMap<string, string>;

/** applyKv is the deliberately plain reference semantics of the KV store (strings only). */
export function applyKv(s: KvRef, input: KvInput): { state: KvRef; output: KvOutput } {
  const key = input.key as string;
  const cur = s.get(key);
  const set = (v: string | undefined) => {
    const m = new Map(s);
    if (v === undefined) m.delete(key);
    else m.set(key, v);
    return m;
  };
  switch (input.op) {
    case 'put':
      return { state: set(input.value as string), output: undefined };
    case 'get':
      return { state: s, output: cur };
    case 'append':
      return { state: set((cur ?? '') + (input.suffix as string)), output: undefined };
    case 'cas':
      return cur === input.expected
        ? { state: set(input.value as string), output: true }
        : { state: s, output: false };
    case 'delete':
      return { state: set(undefined), output: cur !== undefined };
  }
}

/** applyRegister is the reference semantics of the register. */
export function applyRegister(
  s: RegisterValue,
  input: RegisterInput,
): { state: RegisterValue; output: RegisterOutput } {
  switch (input.op) {
    case 'read':
      return { state: s, output: s };
    case 'write':
      return { state: input.value, output: undefined };
    case 'cas':
      return s === input.expected ? { state: input.value, output: true } : { state: s, output: false };
  }
}

const LETTERS = 'abcdefghij';

/** simulateKv is a random linearizable KV history. */
export function simulateKv(rnd: Random, o: SimOptions): Operation<KvInput, KvOutput>[] {
  const keys = Array.from({ length: o.keys ?? 3 }, (_, i) => `k${i}`);
  const values = Array.from({ length: o.values ?? 3 }, (_, i) => LETTERS[i % LETTERS.length] as string);
  const input = (): KvInput => {
    const key = pick(rnd, keys);
    const x = rnd();
    if (x < 0.25) return put(key, pick(rnd, values));
    if (x < 0.55) return get(key);
    if (x < 0.7) return append(key, pick(rnd, values));
    if (x < 0.85) return cas(key, rnd() < 0.25 ? undefined : pick(rnd, values), pick(rnd, values));
    return del(key);
  };
  return execute<KvInput, KvOutput, KvRef>(plan(rnd, o, input), new Map(), applyKv);
}

/** simulateRegister is a random linearizable register history. */
export function simulateRegister(rnd: Random, o: SimOptions): Operation<RegisterInput, RegisterOutput>[] {
  const values = Array.from({ length: o.values ?? 3 }, (_, i) => i);
  const input = (): RegisterInput => {
    const x = rnd();
    if (x < 0.4) return read();
    if (x < 0.8) return write(pick(rnd, values));
    return rcas(rnd() < 0.2 ? null : pick(rnd, values), pick(rnd, values));
  };
  return execute<RegisterInput, RegisterOutput, RegisterValue>(plan(rnd, o, input), null, applyRegister);
}

/**
 * mutate changes the output of one random completed operation that has an
 * output to something else plausible (another value, or a flipped flag);
 * undefined if there is no such operation.
 */
export function mutate<I extends { op: string }, O>(
  rnd: Random,
  ops: readonly Operation<I, O>[],
  alternatives: readonly O[],
): { ops: Operation<I, O>[]; index: number } | undefined {
  const candidates = ops
    .map((_, i) => i)
    .filter((i) => {
      const op = ops[i] as Operation<I, O>;
      return op.status === 'ok' && ['get', 'read', 'cas', 'delete'].includes(op.input.op);
    });
  if (candidates.length === 0) return undefined;
  const index = pick(rnd, candidates);
  const op = ops[index] as Operation<I, O> & { status: 'ok' };
  let output: O;
  if (typeof op.output === 'boolean') output = !op.output as O;
  else {
    const others = alternatives.filter((a) => a !== op.output);
    output = pick(rnd, others);
  }
  const copy = [...ops];
  copy[index] = { ...op, output };
  return { ops: copy, index };
}

/**
 * bruteForce decides linearizability by trying every order (Herlihy & Wing's
 * definition, with no cleverness): completed operations must all appear, in
 * an order consistent with real time, each giving its recorded output;
 * unknown-outcome operations may appear anywhere after their call, with any
 * output, or not at all. For histories of up to about 7 operations.
 */
export function bruteForce<I, O, S>(
  ops: readonly Operation<I, O>[],
  init: S,
  apply: (s: S, input: I) => { state: S; output: O },
): boolean {
  const remaining = new Set(ops.map((_, i) => i));
  const dfs = (s: S): boolean => {
    if ([...remaining].every((i) => ops[i]?.status === 'unknown')) return true;
    for (const i of [...remaining]) {
      const op = ops[i] as Operation<I, O>;
      const mustWait = [...remaining].some((j) => {
        const other = ops[j] as Operation<I, O>;
        return j !== i && other.status === 'ok' && other.return < op.call;
      });
      if (mustWait) continue;
      const r = apply(s, op.input);
      if (op.status === 'ok' && r.output !== op.output) continue;
      remaining.delete(i);
      const found = dfs(r.state);
      remaining.add(i);
      if (found) return true;
    }
    return false;
  };
  return dfs(init);
}
