import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry, EntryType } from '@xraft/core';
import { testSeed } from '../../../tools/testing/seed.js';

export { testSeed };

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
