import { join } from 'node:path';
import { DiskStorage, type DiskStorageOptions, MemoryStorage } from '@xraft/storage';
import { afterAll, expect } from 'vitest';
import { runStorageConformance, type StorageHarness } from './conformance.js';
import { TempDirs } from './helpers.js';

const temps = new TempDirs();
afterAll(() => temps.cleanup());

runStorageConformance('MemoryStorage', async () => {
  const storage = new MemoryStorage();
  await storage.load();
  const same = async () => storage;
  return { storage, reopen: same, crashReopen: same, cleanup: () => storage.close() };
});

/** diskHarness runs DiskStorage on a fresh `<tmp>/n1` directory; a clean run must need no repairs. */
function diskHarness(options: DiskStorageOptions = {}) {
  return async (): Promise<StorageHarness> => {
    const dir = join(temps.make(), 'n1');
    const opened: DiskStorage[] = [];
    const warnings: string[] = [];
    const openOne = async () => {
      const d = await DiskStorage.open(dir, { ...options, warn: (m) => warnings.push(m) });
      opened.push(d);
      await d.load();
      return d;
    };
    let current = await openOne();
    return {
      storage: current,
      reopen: async () => {
        await current.close();
        current = await openOne();
        return current;
      },
      crashReopen: async () => {
        current = await openOne();
        return current;
      },
      cleanup: async () => {
        for (const d of opened) await d.close();
        expect(warnings).toEqual([]);
      },
    };
  };
}

runStorageConformance('DiskStorage', diskHarness());
// Tiny segments: every few writes start a segment, so rolls and compaction's segment deletion run constantly.
runStorageConformance('DiskStorage, 300-byte segments', diskHarness({ segmentBytes: 300 }));
// Blocking writes (a node worker's setting): the same contract with each group commit a blocking writev.
runStorageConformance('DiskStorage, blocking writes', diskHarness({ blockingWrites: true }));
runStorageConformance(
  'DiskStorage, blocking writes, 300-byte segments',
  diskHarness({ blockingWrites: true, segmentBytes: 300 }),
);
