import type { MessagePort } from 'node:worker_threads';
import type { NodeId } from '@xraft/core';
import type { InspectionRecord } from './inspection.js';
import type { LinkSettings } from './link.js';
import type { SnapshotPolicy } from './snapshot-policy.js';

/** StorageSpec says where a node worker keeps its Raft state. */
export type StorageSpec =
  /** In the main thread's memory, reached over `port` (see remote-storage.ts): survives worker crashes. */
  | { readonly kind: 'memory'; readonly port: MessagePort }
  /** `DiskStorage` of `@xraft/storage` under `dir` (`<dataDir>/<id>`). */
  | { readonly kind: 'disk'; readonly dir: string };

/** BootFault is a fault a worker injects into its own bootstrap (tests of the supervisor's crash-loop guard). */
export type BootFault = 'throw';

/**
 * WorkerBoot is the `workerData` of a node worker: everything one incarnation
 * needs. Ports and shared buffers in it are transferred or shared, not copied.
 */
export interface WorkerBoot {
  readonly id: NodeId;
  /** Every node of the cluster, in `Cluster.ids` order (status cells name leaders by index in it). */
  readonly voters: readonly NodeId[];
  /** 1 for a node's first worker, then one more per restart. */
  readonly incarnation: number;
  readonly electionTimeoutMs: readonly [number, number];
  readonly heartbeatIntervalMs: number;
  readonly storage: StorageSpec;
  /** Ports to the peers whose workers existed when this one was spawned; others come as `peer-port`. */
  readonly peers: Readonly<Record<NodeId, MessagePort>>;
  /** Current settings of this node's outgoing links, by peer. */
  readonly links: Readonly<Record<NodeId, LinkSettings>>;
  /** The comlink control port (control.ts). */
  readonly control: MessagePort;
  /** The client port (client-port.ts): KV requests from clients. */
  readonly client: MessagePort;
  /** Clock-drift bound for lease reads (thesis §6.4.1); null: lease reads are ReadIndex reads. */
  readonly maxClockDriftMs: number | null;
  /** When to snapshot and compact the log (§7). */
  readonly snapshotPolicy: SnapshotPolicy;
  /** This incarnation's StatusCell buffer. */
  readonly status: SharedArrayBuffer;
  /** The node's Counters buffer, shared by all its incarnations. */
  readonly counters: SharedArrayBuffer;
  /** Two Int32s: the one a paused worker waits on (set to 1 to cut pauses short), and a count of pauses begun. */
  readonly pause: SharedArrayBuffer;
  /** One Int32, shared by the cluster: 1 while the main thread listens to applies (post `applied` only then). */
  readonly watchApplies: SharedArrayBuffer;
  /** URL of a state machine module (state-machine.ts); the LogRecorder when absent. */
  readonly stateMachine?: string;
  /** Post the statechart's inspection events to the main thread (inspection.ts). */
  readonly inspect: boolean;
  readonly bootFault?: BootFault;
}

/** MainToWorker is what the main thread posts on a node worker's `parentPort`. */
export type MainToWorker =
  /** The port to `peer`'s new incarnation (built by the supervisor when `peer` restarted). */
  { readonly kind: 'peer-port'; readonly peer: NodeId; readonly port: MessagePort };

/** AppliedCommand is one command entry a node applied. */
export interface AppliedCommand {
  readonly index: number;
  readonly command: Uint8Array;
}

/** LogLevel ranks worker log lines. */
export type LogLevel = 'info' | 'warn' | 'error';

/** WorkerToMain is what a node worker posts on its `parentPort`. */
export type WorkerToMain =
  /** The READY handshake: storage loaded, node started, control plane answering. */
  | {
      readonly kind: 'ready';
      readonly incarnation: number;
      /** Seed of the worker's random source, drawn from `crypto`. */
      readonly seed: number;
      /** What the node recovered from storage. */
      readonly recovered: { readonly term: number; readonly commit: number; readonly lastIndex: number };
    }
  /** Command entries applied in one turn, in log order (no-ops are not reported). */
  | { readonly kind: 'applied'; readonly commands: readonly AppliedCommand[] }
  | { readonly kind: 'log'; readonly level: LogLevel; readonly message: string }
  /** Inspection events of the node's statechart, batched (only when booted with `inspect`). */
  | { readonly kind: 'inspect'; readonly records: readonly InspectionRecord[] };
