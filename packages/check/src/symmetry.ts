/**
 * Symmetry reduction over unknown-outcome operations. Two unknown operations
 * with equal inputs are interchangeable: their outputs are unconstrained,
 * and a deterministic model gives them the same effect. So whenever several
 * are available, the search needs to try only the earliest-called one left
 * (any linearization using a later one can use the earliest instead, and
 * the later one where the earliest was, or never). Histories with many
 * timed-out writes of few distinct values, common under fault injection,
 * shrink from 2^u subsets of unknown operations to a product of counts.
 */
export interface UnknownClasses {
  /** classOf[slot] numbers the class of equal inputs of unknown operation `slot`. */
  readonly classOf: Int32Array;
  /** rankOf[slot] is the operation's place among its class by call time (ties by index). */
  readonly rankOf: Int32Array;
  /** Number of classes. */
  readonly count: number;
}

/**
 * unknownClasses groups unknown operations, given by slot in call order with
 * their inputs, into classes of equal inputs ({@link inputKey}); an input
 * with no key is a class of its own.
 */
export function unknownClasses(inputs: readonly unknown[]): UnknownClasses {
  const classOf = new Int32Array(inputs.length);
  const rankOf = new Int32Array(inputs.length);
  const ids = new Map<string, number>();
  const sizes: number[] = [];
  inputs.forEach((input, slot) => {
    const key = inputKey(input);
    let c = key === undefined ? undefined : ids.get(key);
    if (c === undefined) {
      c = sizes.push(0) - 1;
      if (key !== undefined) ids.set(key, c);
    }
    classOf[slot] = c;
    rankOf[slot] = sizes[c] as number;
    sizes[c] = (sizes[c] as number) + 1;
  });
  return { classOf, rankOf, count: sizes.length };
}

/**
 * inputKey is a canonical string of a plain-data input, equal for equal
 * inputs: primitives, bigints, arrays, Uint8Arrays, and plain objects (keys
 * sorted). Anything else (a Map, a class instance) has no key: it is never
 * considered equal to another input, which only forgoes the reduction.
 */
export function inputKey(input: unknown): string | undefined {
  switch (typeof input) {
    case 'string':
      return JSON.stringify(input);
    case 'number':
      return Object.is(input, -0) ? '-0' : String(input);
    case 'boolean':
      return input ? 'T' : 'F';
    case 'undefined':
      return 'U';
    case 'bigint':
      return `${input}n`;
    case 'object': {
      if (input === null) return 'N';
      if (input instanceof Uint8Array && input.constructor === Uint8Array) {
        let hex = '';
        for (const b of input) hex += b.toString(16).padStart(2, '0');
        return `b${hex}`;
      }
      if (Array.isArray(input)) {
        const parts: string[] = [];
        for (const x of input) {
          const k = inputKey(x);
          if (k === undefined) return undefined;
          parts.push(k);
        }
        return `[${parts.join(',')}]`;
      }
      const proto = Object.getPrototypeOf(input);
      if (proto !== Object.prototype && proto !== null) return undefined;
      const parts: string[] = [];
      for (const name of Object.keys(input).sort()) {
        const k = inputKey((input as Record<string, unknown>)[name]);
        if (k === undefined) return undefined;
        parts.push(`${JSON.stringify(name)}:${k}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      return undefined;
  }
}
