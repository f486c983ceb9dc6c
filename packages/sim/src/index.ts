export { Disk, type DiskConditions, type DurableWrite, FAST_DISK } from './disk.js';
export {
  FAULT_PROFILES,
  FAULTS_OPTIONS,
  type FaultKind,
  type FaultProfile,
  type FaultProfileName,
  type FaultsOption,
  profileFor,
} from './faults.js';
export { type HostEnv, type HostObserver, type HostService, NodeHost } from './host.js';
export {
  checkExactlyOnce,
  checkKv,
  FINAL_CLIENT,
  historyOf,
  type KvCheckSummary,
  type KvFinding,
} from './kv-check.js';
export {
  type KvCallOutcome,
  type KvClientLink,
  type KvClientTiming,
  SimKvClient,
} from './kv-client.js';
export { describeEntry, KvServer, type KvServerEnv, type Reply } from './kv-server.js';
export {
  DEFAULT_KV_WORKLOAD,
  describeInput,
  type KvCall,
  type KvCallStatus,
  KvWorkload,
  type KvWorkloadEnv,
  type KvWorkloadOptions,
  type SimKvStats,
} from './kv-workload.js';
export {
  type DurableView,
  Monitor,
  type MonitoredNode,
  type MonitorOptions,
  type Property,
  sameEntry,
  type Violation,
} from './monitors.js';
export { Nemesis, type NemesisStats } from './nemesis.js';
export { Network, type NetworkConditions, type NetworkStats, RELIABLE_NETWORK } from './network.js';
export {
  type ClientRead,
  digestEntry,
  EMPTY_DIGEST,
  ReadMonitor,
  type ReadMonitorOptions,
  type ReadOutcome,
  type ReadStats,
  type ServedRead,
} from './reads.js';
export { mixSeed, Rng } from './rng.js';
export { NodeClock, Scheduler, type Task } from './scheduler.js';
export {
  MAX_NODES,
  type ResolvedSimOptions,
  type RunSeedOptions,
  resolveOptions,
  runSeed,
  type SimOptions,
  type SimRaftOptions,
  type SimReadStats,
  type SimResult,
  type SimStats,
  Simulation,
} from './simulation.js';
export {
  describeEvent,
  formatEvent,
  formatMessage,
  formatTime,
  type KvEvent,
  type KvPhase,
  type ReadEvent,
  type SimEvent,
  type SimEventKind,
  Trace,
} from './trace.js';
export {
  addBatchResult,
  type BatchResult,
  type BatchTask,
  emptyBatchResult,
  runBatch,
} from './worker.js';
export {
  DEFAULT_WORKLOAD,
  payloadText,
  type ReadClient,
  Workload,
  type WorkloadOptions,
} from './workload.js';
