// FakeCluster: an in-memory stand-in for a 3-node cluster behind a
// KvTransport, for testing KvClient. One replicated log (a commit applies the
// entry to every replica at once) and the real node-side handler
// (handleKvRequest); Raft itself is out of scope. A fault hook decides the
// fate of every send: delivered, reply lost after the request was applied,
// request lost, refused as undeliverable, hung until the timeout, or answered
// with garbage.
import { decodeEntry, decodeRequest } from '../src/codec.js';
import type { KvApplyResult, KvEntry, Value } from '../src/commands.js';
import { UndeliveredError } from '../src/errors.js';
import type { KvRequest } from '../src/protocol.js';
import { handleKvRequest, type KvNode } from '../src/server.js';
import { KvStateMachine, type KvStateMachineOptions } from '../src/state-machine.js';
import type { KvTransport } from '../src/transport.js';

/** Fault is what happens to one send. */
export type Fault =
  /** Delivered and answered. */
  | 'deliver'
  /** Delivered and handled (a write is applied), but the reply is lost. */
  | 'dropReply'
  /** Lost on the way: never handled; the client cannot tell it from dropReply. */
  | 'lose'
  /** Refused before sending (the node is down): UndeliveredError. */
  | 'undelivered'
  /** No answer until the transport's timeout. */
  | 'hang'
  /** Delivered and handled, but the reply arrives garbled. */
  | 'garble';

/** Send is one request the client sent. */
export interface Send {
  readonly node: string;
  readonly request: KvRequest;
}

const tick = (ms = 0) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class FakeCluster {
  readonly nodes = ['n1', 'n2', 'n3'];
  /** Who leads now (null: nobody, every node answers notLeader without a hint). */
  leader: string | null = 'n1';
  readonly replicas = new Map<string, KvStateMachine>();
  /** Last log index used. */
  index = 0;
  /** Every committed entry, in log order. */
  readonly log: Array<{ readonly index: number; readonly entry: KvEntry }> = [];
  /** Every send, in order. */
  readonly sends: Send[] = [];
  /** Decides the fate of each send. */
  fault: (send: Send) => Fault = () => 'deliver';
  /** The lease check handed to nodes (absent: nodes have no leases). */
  leaseRead: ((clockDriftMs: number) => Promise<boolean>) | undefined;
  /** How many times a transport was closed. */
  closed = 0;

  constructor(options: KvStateMachineOptions = {}) {
    for (const id of this.nodes) this.replicas.set(id, new KvStateMachine(options));
  }

  /** transport is a KvTransport into this cluster. */
  transport(): KvTransport {
    return {
      nodes: this.nodes,
      send: (node, request, timeoutMs) => this.send(node, request, timeoutMs),
      close: () => {
        this.closed++;
      },
    };
  }

  /** dispatchTransport is {@link transport} with `dispatch`, which a KvClient uses instead of `send`. */
  dispatchTransport(): KvTransport {
    return {
      nodes: this.nodes,
      send: () => {
        throw new Error('send: a KvClient should dispatch when the transport can');
      },
      dispatch: (node, request, timeoutMs, target) => {
        this.send(node, request, timeoutMs).then(
          (response) => target.answered(response),
          (error: unknown) => target.failed(error),
        );
      },
      close: () => {
        this.closed++;
      },
    };
  }

  /** skip advances the log index without entries for the state machine (no-ops, elections). */
  skip(n: number): void {
    this.index += n;
  }

  /** value is `key` on the leader's replica (or n1's). */
  value(key: string): Value | undefined {
    const r = this.replicas.get(this.leader ?? 'n1')!.query({ type: 'get', key });
    return r.type === 'value' ? r.value : undefined;
  }

  /** batches is how many committed entries carried each (clientId, seq): more than 1 means a retry reached the log. */
  copies(): Map<string, number> {
    const copies = new Map<string, number>();
    for (const { entry } of this.log) {
      if (entry.type !== 'batch') continue;
      for (const c of entry.commands) {
        const id = `${entry.clientId}:${c.seq}`;
        copies.set(id, (copies.get(id) ?? 0) + 1);
      }
    }
    return copies;
  }

  private async send(node: string, bytes: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const send: Send = { node, request: decodeRequest(bytes) };
    this.sends.push(send);
    const fault = this.fault(send);
    await tick();
    switch (fault) {
      case 'deliver':
        return handleKvRequest(bytes, this.node(node));
      case 'dropReply':
        await handleKvRequest(bytes, this.node(node));
        throw new Error(`${node}: connection lost before the reply`);
      case 'lose':
        throw new Error(`${node}: connection lost`);
      case 'undelivered':
        throw new UndeliveredError(node, 'the node is down');
      case 'hang':
        await tick(timeoutMs);
        throw new Error(`${node}: no answer within ${timeoutMs} ms`);
      case 'garble':
        await handleKvRequest(bytes, this.node(node));
        return new Uint8Array([1, 99, 0xff]);
    }
  }

  private node(id: string): KvNode {
    return {
      stateMachine: this.replicas.get(id)!,
      isLeader: () => this.leader === id,
      leaderHint: () => this.leader,
      propose: async (entry) => this.commit(entry, id),
      readIndex: async () => {
        if (this.leader !== id) throw new Error(`${id} was deposed`);
      },
      leaseRead: this.leaseRead,
    };
  }

  /** commit appends `entry` to the log and applies it on every replica; the result is the proposer's. */
  private commit(entry: Uint8Array, proposer: string): KvApplyResult {
    if (this.leader !== proposer) throw new Error(`${proposer} is no longer the leader`);
    const index = ++this.index;
    this.log.push({ index, entry: decodeEntry(entry) });
    let result: KvApplyResult | undefined;
    for (const [id, sm] of this.replicas) {
      const r = sm.apply(entry, index);
      if (id === proposer) result = r;
    }
    return result!;
  }
}
