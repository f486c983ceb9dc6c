export {
  ClosedError,
  type GetOptions,
  KvClient,
  type KvClientOptions,
  NotLeaderError,
  SessionExpiredError,
  TimeoutError,
} from '@xraft/kv';
export { type ClientEndpoint, ClientEndpointTransport, type EndpointMessage } from './client-endpoint.js';
export { ClientPorts, serveClientPort } from './client-port.js';
export {
  type ApplyListener,
  Cluster,
  type ClusterOptions,
  type ClusterStats,
  type LogEntry,
  type NetworkSettings,
  type NodeState,
  type SubmitResult,
} from './cluster.js';
export {
  type ControlApi,
  ControlClient,
  type ControlClientOptions,
  ControlTimeoutError,
  exposeControl,
  type KillMode,
  type NodeReport,
  type NodeUsage,
  WorkerExitedError,
} from './control.js';
export { NodeHost, type NodeHostOptions, NotLeaderError as NodeNotLeaderError } from './host.js';
export {
  forwardInspection,
  type InspectedEvent,
  Inspection,
  type InspectionRecord,
  type InspectorLike,
  summarize,
} from './inspection.js';
export {
  type InspectorServer,
  type InspectorServerOptions,
  PortInUseError,
  startInspectorServer,
} from './inspector-server.js';
export { checkLinkSettings, Link, type LinkCounters, type LinkSettings, RELIABLE_LINK } from './link.js';
export { type Deliver, Mailbox, type MailboxOptions } from './mailbox.js';
export type {
  AppliedCommand,
  BootFault,
  LogLevel,
  MainToWorker,
  StorageSpec,
  WorkerBoot,
  WorkerToMain,
} from './protocol.js';
export { RemoteStorage, serveStorage } from './remote-storage.js';
export { DEFAULT_SNAPSHOT_POLICY, resolveSnapshotPolicy, type SnapshotPolicy } from './snapshot-policy.js';
export {
  type ClientRequestHandler,
  type LoadedStateMachine,
  LogRecorder,
  loadStateMachine,
  type StateMachine,
  type StateMachineModule,
} from './state-machine.js';
export { type CounterName, Counters, StatusCell, type StatusFields } from './status.js';
export {
  type BootSpec,
  DEFAULT_RESTART_POLICY,
  type RestartPolicy,
  Supervisor,
  type SupervisorEvent,
  type SupervisorOptions,
  type WorkerPhase,
} from './supervisor.js';
export {
  type DecodedBatch,
  decodeEnvelope,
  estimateBytes,
  type PeerEnvelope,
  type RaftBatch,
  raftBatch,
  WIRE_VERSION,
  type WireError,
  WireErrorCounter,
  type WireErrorKind,
} from './wire.js';
