import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry, EntryType } from '@xraft/core';

/**
 * testSeed is the seed of a random test: a fresh one on every run, or the one
 * in XRAFT_SEED to replay a failure (the convention of packages/core/test).
 */
export function testSeed(): number {
  const replay = process.env.XRAFT_SEED;
  if (replay === undefined || replay === '') return (Date.now() ^ (Math.random() * 0x100000000)) >>> 0;
  const seed = Number(replay);
  if (!Number.isInteger(seed))
    throw new Error(`XRAFT_SEED must be an integer, got ${JSON.stringify(replay)}`);
  return seed >>> 0;
}

/** entry builds one entry whose data says where it belongs ("index@term"), padded to `size` bytes when given. */
export function entry(index: number, term: number, type: EntryType = 'normal', size?: number): Entry {
  const text = new TextEncoder().encode(`${index}@${term}`);
  const data = new Uint8Array(Math.max(size ?? 0, text.length));
  data.set(text);
  return { index, term, type, data };
}

/** entries builds entries [from, to] of one term. */
export function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

/** TempDirs hands out temporary directories and removes them all on cleanup. */
export class TempDirs {
  private readonly dirs: string[] = [];

  make(prefix = 'xraft-storage-'): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  cleanup(): void {
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}
