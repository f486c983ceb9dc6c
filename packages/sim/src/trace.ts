import type { HardState, Message, NodeId, ReadMode, Role } from '@xraft/core';
import type { ReadOutcome } from './reads.js';

/** Fields every {@link SimEvent} carries. */
interface EventBase {
  /** Virtual time in milliseconds. */
  readonly time: number;
  /** The node the event happened on, or null for cluster-wide events. */
  readonly node: NodeId | null;
}

/** DeliverEvent: a message reached its destination and was stepped into the node. */
export interface DeliverEvent extends EventBase {
  readonly kind: 'deliver';
  readonly message: Message;
}

/** DropEvent: the network lost a message. */
export interface DropEvent extends EventBase {
  readonly kind: 'drop';
  readonly message: Message;
  readonly reason: 'link down' | 'loss' | 'crashed';
}

/** RoleEvent: a node changed role or term (follower, precandidate, candidate, leader). */
export interface RoleEvent extends EventBase {
  readonly kind: 'role';
  readonly role: Role;
  readonly term: number;
}

/** CommitEvent: a node's commit index moved forward. */
export interface CommitEvent extends EventBase {
  readonly kind: 'commit';
  readonly index: number;
  /** Term of the entry at `index`. */
  readonly entryTerm: number;
}

/** PersistEvent: a write of a node became durable. */
export interface PersistEvent extends EventBase {
  readonly kind: 'persist';
  readonly hardState: HardState | null;
  readonly first: number;
  readonly entries: number;
  readonly lastIndex: number;
  /** A snapshot the write stored (§7): taken by the node, or installed from the leader; 0 when none. */
  readonly snapshotIndex?: number;
  /** The log's compaction point after the write (0: nothing compacted). */
  readonly compactedTo?: number;
}

/** ProposeEvent: a client submitted a command to a node. */
export interface ProposeEvent extends EventBase {
  readonly kind: 'propose';
  readonly payload: string;
  readonly accepted: boolean;
  readonly index: number;
  readonly term: number;
}

/**
 * ReadEvent: a step in the life of a client read (ReadIndex, thesis §6.4).
 * `index` is, when `taken`, the highest index committed anywhere; when `ok`,
 * the ReadState's index; when `served`, the applied index the read observed.
 */
export interface ReadEvent extends EventBase {
  readonly kind: 'read';
  readonly ctx: number;
  readonly mode: ReadMode;
  readonly outcome: ReadOutcome;
  readonly index: number;
}

/**
 * KvPhase is a step in the life of a KV client call (the KV workload):
 * `invoke` (the call starts), `send` (one request to one server), `serve`
 * (a server took a request), `reply` (a server answered), then the call's
 * outcome: `ok`, `fail` (surely not applied) or `unknown` (maybe applied).
 */
export type KvPhase = 'invoke' | 'send' | 'serve' | 'reply' | 'ok' | 'fail' | 'unknown';

/** KvEvent: a step of a KV client call; `node` is the server involved, if any. */
export interface KvEvent extends EventBase {
  readonly kind: 'kv';
  /** The client (`kv3`). */
  readonly client: string;
  /** The call's number in the run's history (0 for a session registration). */
  readonly op: number;
  readonly phase: KvPhase;
  /** What happened, readable: the operation, the request, the answer. */
  readonly text: string;
}

/** CrashEvent: a node's process died, losing every write not yet durable. */
export interface CrashEvent extends EventBase {
  readonly kind: 'crash';
  readonly lostEntries: number;
  readonly lostWrites: number;
  readonly durableIndex: number;
}

/** RestartEvent: a node restarted from what its disk holds. */
export interface RestartEvent extends EventBase {
  readonly kind: 'restart';
  readonly hardState: HardState;
  readonly lastIndex: number;
}

/** PauseEvent: a node's process froze until `until`. */
export interface PauseEvent extends EventBase {
  readonly kind: 'pause';
  readonly until: number;
}

/** PartitionEvent: the network split into groups that cannot talk to each other. */
export interface PartitionEvent extends EventBase {
  readonly kind: 'partition';
  readonly groups: readonly (readonly NodeId[])[];
}

/** LinkEvent: one direction of one link went down or up. */
export interface LinkEvent extends EventBase {
  readonly kind: 'link';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly up: boolean;
}

/** NoteEvent: anything else worth a line (network weather, phases of the run, heal). */
export interface NoteEvent extends EventBase {
  readonly kind: 'note';
  readonly text: string;
}

/** ViolationEvent: a monitor found a broken invariant. */
export interface ViolationEvent extends EventBase {
  readonly kind: 'violation';
  readonly property: string;
  readonly message: string;
}

/** SimEvent is everything a simulation reports: to its trace, and to an `onEvent` listener. */
export type SimEvent =
  | DeliverEvent
  | DropEvent
  | RoleEvent
  | CommitEvent
  | PersistEvent
  | ProposeEvent
  | ReadEvent
  | KvEvent
  | CrashEvent
  | RestartEvent
  | PauseEvent
  | PartitionEvent
  | LinkEvent
  | NoteEvent
  | ViolationEvent;

/** SimEventKind is the discriminant of {@link SimEvent}. */
export type SimEventKind = SimEvent['kind'];

const KIND_CODE: Record<SimEventKind, number> = {
  deliver: 1,
  drop: 2,
  role: 3,
  commit: 4,
  persist: 5,
  propose: 6,
  crash: 7,
  restart: 8,
  pause: 9,
  partition: 10,
  link: 11,
  note: 12,
  violation: 13,
  read: 14,
  kv: 15,
};

const KV_CODE: Record<KvPhase, number> = {
  invoke: 1,
  send: 2,
  serve: 3,
  reply: 4,
  ok: 5,
  fail: 6,
  unknown: 7,
};

const READ_CODE: Record<ReadOutcome, number> = { taken: 1, ok: 2, refused: 3, served: 4 };

const MESSAGE_CODE: Record<Message['type'], number> = {
  PreVote: 1,
  PreVoteResponse: 2,
  RequestVote: 3,
  RequestVoteResponse: 4,
  AppendEntries: 5,
  AppendEntriesResponse: 6,
  Heartbeat: 7,
  HeartbeatResponse: 8,
  TimeoutNow: 9,
  InstallSnapshot: 10,
  InstallSnapshotResponse: 11,
};

/**
 * Trace keeps the last `capacity` events of a run in a ring buffer, for a
 * readable account of how a failure came about, and folds every event ever
 * recorded into a 32-bit hash: two runs of one seed must produce the same
 * hash, or the simulation is not deterministic.
 */
export class Trace {
  /** Events recorded since the start, including those the ring has forgotten. */
  count = 0;
  private readonly ring: (SimEvent | undefined)[];
  private h = 0x811c9dc5;
  private readonly ids = new Map<string, number>();

  constructor(
    readonly capacity: number,
    private readonly listener?: (e: SimEvent) => void,
  ) {
    this.ring = new Array(Math.max(1, capacity));
  }

  /** hash is the FNV-style digest of every event recorded so far. */
  get hash(): number {
    return this.h >>> 0;
  }

  /** record appends an event: to the hash, to the ring, and to the listener. */
  record(e: SimEvent): void {
    this.mix(KIND_CODE[e.kind]);
    this.mix(Math.round(e.time * 1000));
    this.mix(e.node === null ? 0 : this.id(e.node));
    switch (e.kind) {
      case 'deliver':
      case 'drop':
        this.mixMessage(e.message);
        break;
      case 'role':
        this.mix(e.term);
        this.mix(e.role.length);
        break;
      case 'commit':
        this.mix(e.index);
        this.mix(e.entryTerm);
        break;
      case 'persist':
        this.mix(e.lastIndex);
        this.mix(e.entries);
        this.mix(e.hardState?.term ?? -1);
        this.mix(e.hardState?.commit ?? -1);
        this.mix(e.snapshotIndex ?? 0);
        break;
      case 'propose':
        this.mix(e.index);
        this.mix(e.term);
        this.mix(e.accepted ? 1 : 0);
        break;
      case 'read':
        this.mix(e.ctx);
        this.mix(READ_CODE[e.outcome]);
        this.mix(e.index);
        break;
      case 'kv':
        this.mix(this.id(e.client));
        this.mix(e.op);
        this.mix(KV_CODE[e.phase]);
        this.mix(textHash(e.text));
        break;
      case 'crash':
        this.mix(e.lostEntries);
        this.mix(e.durableIndex);
        break;
      case 'restart':
        this.mix(e.hardState.term);
        this.mix(e.lastIndex);
        break;
      case 'pause':
        this.mix(Math.round(e.until * 1000));
        break;
      case 'partition':
        for (const g of e.groups) {
          this.mix(g.length);
          for (const n of g) this.mix(this.id(n));
        }
        break;
      case 'link':
        this.mix(this.id(e.from));
        this.mix(this.id(e.to));
        this.mix(e.up ? 1 : 0);
        break;
      case 'note':
      case 'violation':
        this.mix(this.id(e.kind === 'note' ? e.text : e.message));
        break;
    }
    this.ring[this.count % this.ring.length] = e;
    this.count++;
    this.listener?.(e);
  }

  /** events returns the events still in the ring, oldest first (at most the last `limit`). */
  events(limit = this.ring.length): SimEvent[] {
    const n = Math.min(limit, this.count, this.ring.length);
    const out: SimEvent[] = [];
    for (let i = this.count - n; i < this.count; i++) out.push(this.ring[i % this.ring.length]!);
    return out;
  }

  /** lines formats the last `limit` events, one readable line each. */
  lines(limit = this.ring.length): string[] {
    return this.events(limit).map(formatEvent);
  }

  private mix(x: number): void {
    let h = this.h ^ (x | 0);
    h = Math.imul(h, 0x01000193);
    this.h = h ^ (h >>> 15);
  }

  private mixMessage(m: Message): void {
    this.mix(MESSAGE_CODE[m.type]);
    this.mix(this.id(m.from));
    this.mix(this.id(m.to));
    this.mix(m.term);
    switch (m.type) {
      case 'AppendEntries':
        this.mix(m.prevLogIndex);
        this.mix(m.entries.length);
        this.mix(m.leaderCommit);
        break;
      case 'AppendEntriesResponse':
        this.mix(m.index);
        this.mix(m.success ? 1 : 0);
        break;
      case 'RequestVoteResponse':
      case 'PreVoteResponse':
        this.mix(m.granted ? 1 : 0);
        break;
      case 'Heartbeat':
        this.mix(m.commit);
        break;
      case 'InstallSnapshot':
        this.mix(m.lastIncludedIndex);
        this.mix(m.offset);
        this.mix(m.data.byteLength);
        break;
      case 'InstallSnapshotResponse':
        this.mix(m.lastIncludedIndex);
        this.mix(m.received);
        break;
      default:
        break;
    }
  }

  /** id maps a string (a node id, a note) to a small number for the hash. */
  private id(s: string): number {
    let v = this.ids.get(s);
    if (v === undefined) {
      v = 0;
      for (let i = 0; i < s.length; i++) v = Math.imul(v ^ s.charCodeAt(i), 0x01000193);
      this.ids.set(s, v);
    }
    return v;
  }
}

/** textHash digests a string without remembering it (texts of KV events are mostly unique). */
function textHash(s: string): number {
  let v = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) v = Math.imul(v ^ s.charCodeAt(i), 0x01000193);
  return v;
}

/** formatTime prints virtual milliseconds as seconds with microsecond precision: `12.345678s`. */
export function formatTime(ms: number): string {
  return `${(ms / 1000).toFixed(6)}s`;
}

/** formatMessage describes one RPC: `n1 → n4 AppendEntries t7 prev=(12,3) entries=4 commit=10`. */
export function formatMessage(m: Message): string {
  const head = `${m.from} → ${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case 'AppendEntries': {
      const n = m.entries.length;
      const range = n === 0 ? '' : ` [${m.prevLogIndex + 1}..${m.prevLogIndex + n}]`;
      return `${head} prev=(${m.prevLogIndex},${m.prevLogTerm}) entries=${n}${range} commit=${m.leaderCommit}`;
    }
    case 'AppendEntriesResponse':
      return m.success
        ? `${head} ok index=${m.index}`
        : `${head} reject index=${m.index} hint=(${m.hintIndex},${m.hintTerm})`;
    case 'RequestVote':
      return `${head} last=(${m.lastLogIndex},${m.lastLogTerm})${m.transfer ? ' transfer' : ''}`;
    case 'PreVote':
      return `${head} last=(${m.lastLogIndex},${m.lastLogTerm})`;
    case 'RequestVoteResponse':
    case 'PreVoteResponse':
      return `${head} ${m.granted ? 'granted' : 'rejected'}`;
    case 'Heartbeat':
      return `${head} commit=${m.commit} round=${m.readRound}`;
    case 'HeartbeatResponse':
      return `${head} round=${m.readRound}`;
    case 'TimeoutNow':
      return head;
    case 'InstallSnapshot':
      return `${head} snapshot=(${m.lastIncludedIndex},${m.lastIncludedTerm}) bytes [${m.offset}..${m.offset + m.data.byteLength}) of ${m.size}`;
    case 'InstallSnapshotResponse':
      return `${head} snapshot=(${m.lastIncludedIndex},${m.lastIncludedTerm}) received=${m.received}`;
  }
}

function formatHardState(h: HardState): string {
  return `term=${h.term} vote=${h.vote ?? '-'} commit=${h.commit}`;
}

/** describeEvent is the text of one event, without the time. */
export function describeEvent(e: SimEvent): string {
  switch (e.kind) {
    case 'deliver':
      return formatMessage(e.message);
    case 'drop':
      return `dropped (${e.reason}): ${formatMessage(e.message)}`;
    case 'role':
      return e.role === 'leader'
        ? `${e.node} became leader term ${e.term}`
        : `${e.node} ${e.role} term ${e.term}`;
    case 'commit':
      return `${e.node} committed up to ${e.index} (entry term ${e.entryTerm})`;
    case 'persist': {
      const parts: string[] = [];
      if (e.hardState) parts.push(formatHardState(e.hardState));
      if (e.entries > 0) parts.push(`entries [${e.first}..${e.first + e.entries - 1}]`);
      if (e.snapshotIndex)
        parts.push(`snapshot at ${e.snapshotIndex}, log compacted to ${e.compactedTo ?? 0}`);
      return `${e.node} durable: ${parts.join(', ') || 'nothing new'} (log ends at ${e.lastIndex})`;
    }
    case 'propose':
      return e.accepted
        ? `client → ${e.node} propose ${e.payload}: accepted at index ${e.index} term ${e.term}`
        : `client → ${e.node} propose ${e.payload}: rejected (not leader, term ${e.term})`;
    case 'read':
      return describeRead(e);
    case 'kv':
      return describeKv(e);
    case 'crash':
      return `${e.node} crashed (lost ${e.lostEntries} unpersisted entries in ${e.lostWrites} writes; durable log ends at ${e.durableIndex})`;
    case 'restart':
      return `${e.node} restarted from disk: ${formatHardState(e.hardState)} log ends at ${e.lastIndex}`;
    case 'pause':
      return `${e.node} paused until ${formatTime(e.until)}`;
    case 'partition':
      return `partition ${e.groups.map((g) => `{${g.join(',')}}`).join(' | ')}`;
    case 'link':
      return `link ${e.from} → ${e.to} ${e.up ? 'up' : 'down'}`;
    case 'note':
      return e.text;
    case 'violation':
      return `VIOLATION ${e.property}: ${e.message}`;
  }
}

function describeRead(e: ReadEvent): string {
  const head = `read #${e.ctx} (${e.mode})`;
  switch (e.outcome) {
    case 'taken':
      return `client → ${e.node} ${head} (committed anywhere: ${e.index})`;
    case 'ok':
      return `${e.node} confirmed ${head} at index ${e.index}`;
    case 'refused':
      return `${e.node} refused ${head} (not leader)`;
    case 'served':
      return `${e.node} served ${head} from applied index ${e.index}`;
  }
}

function describeKv(e: KvEvent): string {
  const call = e.op > 0 ? ` #${e.op}` : '';
  switch (e.phase) {
    case 'invoke':
      return `${e.client}${call} invokes ${e.text}`;
    case 'send':
      return `${e.client} → ${e.node}${call} ${e.text}`;
    case 'serve':
      return `${e.node} takes ${e.text} from ${e.client}${call}`;
    case 'reply':
      return `${e.node} → ${e.client}${call} ${e.text}`;
    case 'ok':
    case 'fail':
    case 'unknown':
      return `${e.client}${call} ${e.phase}: ${e.text}`;
  }
}

/** formatEvent is one readable trace line: `  1.234567s  n3 became leader term 7`. */
export function formatEvent(e: SimEvent): string {
  return `${formatTime(e.time).padStart(11)}  ${describeEvent(e)}`;
}
