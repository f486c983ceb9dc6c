import { type Model, type StepResult, UNKNOWN, type Unknown } from '../model.js';

/** RegisterValue is a register's value; `null` until the first write. */
export type RegisterValue = string | number | null;

/** RegisterInput is a register operation: read, write, or compare-and-set. */
export type RegisterInput =
  | { readonly op: 'read' }
  | { readonly op: 'write'; readonly value: RegisterValue }
  | { readonly op: 'cas'; readonly expected: RegisterValue; readonly value: RegisterValue };

/**
 * RegisterOutput is a register response: the value read, `undefined` for a
 * write, whether a cas succeeded.
 */
export type RegisterOutput = RegisterValue | boolean | undefined;

/**
 * registerModel is a single read/write/cas register, initially `null`
 * (Porcupine's canonical example, and Knossos's `cas-register`). Values
 * compare with `===`.
 */
export const registerModel: Model<RegisterValue, RegisterInput, RegisterOutput> = {
  name: 'register',
  init: () => null,
  step(state, input, output): StepResult<RegisterValue> {
    switch (input.op) {
      case 'read':
        return { ok: output === UNKNOWN || output === state, state };
      case 'write':
        return { ok: true, state: input.value };
      case 'cas': {
        const matches = state === input.expected;
        const ok = output === UNKNOWN || output === matches;
        return { ok, state: ok && matches ? input.value : state };
      }
    }
  },
  key: (state) => (state === null ? 'n' : typeof state === 'number' ? `d${state}` : `s${state}`),
  describe(input, output) {
    const out = output === UNKNOWN ? '?' : show(output);
    switch (input.op) {
      case 'read':
        return `read() -> ${out}`;
      case 'write':
        return `write(${show(input.value)})${output === UNKNOWN ? ' -> ?' : ''}`;
      case 'cas':
        return `cas(${show(input.expected)}, ${show(input.value)}) -> ${out}`;
    }
  },
  describeState: (state) => show(state),
  readOnly: (input) => input.op === 'read',
};

function show(v: RegisterOutput | Unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}
