/**
 * The inspection bridge: each node worker turns its statechart's XState
 * inspection events into plain {@link InspectionRecord}s, batches them (one
 * `postMessage` per turn), and the main thread hands them to an
 * {@link InspectorLike}: any `@statelyai/inspect` inspector, or the local
 * inspector server (inspector-server.ts). Actor ids are prefixed with the node
 * id and incarnation (`n2#1:x:0`), so the nodes of a cluster, and each life of
 * a node, stay apart in one inspector.
 *
 * Off by default; when off, no node is given an inspection observer at all.
 */
import type { NodeId } from '@xraft/core';
import type { InspectionEvent } from 'xstate';

/** InspectedEvent is an event as the inspector shows it: its type and a bounded summary of its fields. */
export interface InspectedEvent {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** InspectionRecord is one inspection event of a node's statechart, in plain, cloneable form. */
export type InspectionRecord =
  /** An actor started (the node's statechart, once per incarnation). */
  | { readonly type: 'actor'; readonly node: NodeId; readonly actorId: string }
  /** An event was sent to the actor. */
  | {
      readonly type: 'event';
      readonly node: NodeId;
      readonly actorId: string;
      readonly sourceId: string | undefined;
      readonly event: InspectedEvent;
    }
  /** The actor's snapshot after an event: state value, status and a summary of the Raft state (raft.ts toJSON). */
  | {
      readonly type: 'snapshot';
      readonly node: NodeId;
      readonly actorId: string;
      readonly event: InspectedEvent;
      readonly value: unknown;
      readonly status: string;
      readonly context: unknown;
    };

/**
 * InspectorLike is what the cluster forwards inspection to: the shape of an
 * `@statelyai/inspect` inspector (`createWebSocketInspector`,
 * `createBrowserInspector`, `createSkyInspector`, `createInspector(adapter)`).
 */
export interface InspectorLike {
  actor(actor: string | object, snapshot?: object, info?: object): void;
  event(actor: string, event: InspectedEvent, info?: { source?: string }): void;
  snapshot(actor: string, snapshot: object, info?: { event?: InspectedEvent }): void;
}

/** Longest array, and deepest nesting, an event summary keeps. */
const MAX_ITEMS = 8;
const MAX_DEPTH = 3;

/**
 * summarize makes a value small and cloneable for the inspector: byte arrays
 * become their length, long arrays their first items and a count, objects with
 * a `toJSON` (the Raft state) their summary; nesting stops at a fixed depth.
 */
export function summarize(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') {
    return typeof value === 'function' || typeof value === 'symbol' ? String(value) : value;
  }
  if (ArrayBuffer.isView(value)) return `<${value.byteLength} bytes>`;
  if (depth >= MAX_DEPTH) return Array.isArray(value) ? `[${value.length} items]` : '{…}';
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((v) => summarize(v, depth + 1));
    if (value.length > MAX_ITEMS) items.push(`… ${value.length - MAX_ITEMS} more`);
    return items;
  }
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return summarize(withJson.toJSON(), depth);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = summarize(v, depth + 1);
  return out;
}

function inspectedEvent(event: { type: string }): InspectedEvent {
  return summarize(event) as InspectedEvent;
}

/**
 * Inspection is the worker side of the bridge: an XState inspection observer
 * that turns events into records and posts them in batches, at most one
 * `postMessage` per turn of the worker's event loop.
 */
export class Inspection {
  private batch: InspectionRecord[] = [];
  private scheduled = false;
  private readonly prefix: string;

  constructor(
    private readonly node: NodeId,
    incarnation: number,
    private readonly post: (records: InspectionRecord[]) => void,
  ) {
    this.prefix = `${node}#${incarnation}:`;
  }

  /** observe is the `inspect` observer given to the node's actor. */
  readonly observe = (e: InspectionEvent): void => {
    const record = this.record(e);
    if (record === null) return;
    this.batch.push(record);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  };

  /** flush posts the records gathered so far. */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.batch.length === 0) return;
    const records = this.batch;
    this.batch = [];
    this.post(records);
  };

  private record(e: InspectionEvent): InspectionRecord | null {
    const actorId = this.prefix + e.actorRef.sessionId;
    switch (e.type) {
      case '@xstate.actor':
        return { type: 'actor', node: this.node, actorId };
      case '@xstate.event':
        return {
          type: 'event',
          node: this.node,
          actorId,
          sourceId: e.sourceRef === undefined ? undefined : this.prefix + e.sourceRef.sessionId,
          event: inspectedEvent(e.event),
        };
      case '@xstate.snapshot': {
        const s = e.snapshot as { value?: unknown; status?: string; context?: unknown };
        return {
          type: 'snapshot',
          node: this.node,
          actorId,
          event: inspectedEvent(e.event),
          value: s.value,
          status: s.status ?? 'active',
          context: summarize(s.context),
        };
      }
      default:
        // Microsteps and actions are internal detail of one macrostep: the inspector draws from snapshots.
        return null;
    }
  }
}

/**
 * forwardInspection hands `records` to `inspector`. `definition` is the
 * statechart (its machine) so the inspector can draw it.
 */
export function forwardInspection(
  inspector: InspectorLike,
  definition: { readonly config: unknown },
  records: readonly InspectionRecord[],
): void {
  for (const r of records) {
    switch (r.type) {
      case 'actor':
        // @statelyai/inspect reads the definition from `logic.config` of an actor-like object.
        inspector.actor({ sessionId: r.actorId, logic: definition }, { status: 'active' });
        break;
      case 'event':
        inspector.event(r.actorId, r.event, r.sourceId === undefined ? {} : { source: r.sourceId });
        break;
      case 'snapshot':
        inspector.snapshot(
          r.actorId,
          { value: r.value, status: r.status, context: r.context },
          { event: r.event },
        );
        break;
    }
  }
}
