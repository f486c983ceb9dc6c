export { DiskStorage, type DiskStorageOptions, type DiskStorageStatus } from './disk.js';
export { LogState } from './log-state.js';
export { MemoryStorage } from './memory.js';
export { CorruptionError, type Snapshot, type SnapshotMeta, type Storage } from './storage.js';
