export { MemoryStorage } from './memory.js';
export { CorruptionError, type Snapshot, type SnapshotMeta, type Storage } from './storage.js';
