import type { MessagePort } from 'node:worker_threads';
import type { Message, NodeId, Random } from '@xraft/core';
import { Link, type LinkSettings } from './link.js';
import type { Counters } from './status.js';
import { decodeEnvelope, type WireError, WireErrorCounter } from './wire.js';

/** Deliver receives the valid RPCs of one batch from `from`, in order. */
export type Deliver = (from: NodeId, messages: Message[]) => void;

/** MailboxOptions configures a {@link Mailbox}. */
export interface MailboxOptions {
  readonly self: NodeId;
  readonly peers: readonly NodeId[];
  /** Randomness for the links' drops and delays. */
  readonly random: Random;
  readonly counters: Counters;
  /** Called with the first dropped input of each kind (later ones are only counted). */
  readonly onWireError: (error: WireError, peer: NodeId) => void;
}

/**
 * Mailbox is a node worker's side of the full mesh: one port per peer (both
 * directions), a fault-injecting {@link Link} on the sending side of each, and
 * an outbox that groups the RPCs of one turn so that each peer gets at most one
 * `postMessage` per flush (DESIGN.md hot-path rule). Input is validated by the
 * wire codec; nothing reaches the node until {@link listen} is called (ports
 * buffer until then).
 */
export class Mailbox {
  readonly errors: WireErrorCounter;
  private readonly links = new Map<NodeId, Link>();
  private readonly ports = new Map<NodeId, MessagePort>();
  private readonly outbox = new Map<NodeId, Message[]>();
  private deliver: Deliver | null = null;
  private closed = false;

  constructor(private readonly options: MailboxOptions) {
    const { counters } = options;
    this.errors = new WireErrorCounter(options.onWireError);
    const linkCounters = {
      sent: (messages: number, bytes: number) => {
        counters.add('rpcs', messages);
        counters.add('bytes', bytes);
        counters.add('batches', 1);
      },
      dropped: (messages: number) => counters.add('dropped', messages),
    };
    for (const peer of options.peers) {
      this.links.set(peer, new Link(options.self, peer, options.random, linkCounters));
    }
  }

  /**
   * setPort installs the port to `peer`'s current incarnation, closing the one
   * to its previous incarnation; the link keeps its settings.
   */
  setPort(peer: NodeId, port: MessagePort): void {
    const link = this.link(peer);
    const old = this.ports.get(peer);
    if (old !== undefined) {
      old.removeAllListeners('message');
      old.close();
    }
    if (this.closed) {
      port.close();
      return;
    }
    this.ports.set(peer, port);
    link.setPort(port);
    if (this.deliver !== null) this.attach(peer, port);
  }

  /** configure sets the conditions of the link to `peer`. */
  configure(peer: NodeId, settings: LinkSettings): void {
    this.link(peer).configure(settings);
  }

  /** settings is the current conditions of the link to `peer`. */
  settings(peer: NodeId): LinkSettings {
    return this.link(peer).settings;
  }

  /** listen starts delivering input to `deliver`, beginning with what the ports buffered. */
  listen(deliver: Deliver): void {
    this.deliver = deliver;
    for (const [peer, port] of this.ports) this.attach(peer, port);
  }

  /** post queues outgoing RPCs; they leave on the next {@link flush}. */
  post(messages: readonly Message[]): void {
    for (const m of messages) {
      let list = this.outbox.get(m.to);
      if (list === undefined) {
        this.link(m.to);
        list = [];
        this.outbox.set(m.to, list);
      }
      list.push(m);
    }
  }

  /** flush sends what {@link post} queued: one batch per peer, through its link. */
  flush(): void {
    if (this.outbox.size === 0) return;
    for (const [peer, messages] of this.outbox) this.links.get(peer)!.send(messages);
    this.outbox.clear();
  }

  /** sendRaw posts `payload` to `peer` as is, bypassing codec and link (tests of the receiver's validation). */
  sendRaw(peer: NodeId, payload: unknown): void {
    this.link(peer);
    this.ports.get(peer)?.postMessage(payload);
  }

  /** close drops queued and delayed output and closes every port. */
  close(): void {
    this.closed = true;
    this.outbox.clear();
    for (const link of this.links.values()) link.close();
    for (const port of this.ports.values()) {
      port.removeAllListeners('message');
      port.close();
    }
    this.ports.clear();
  }

  private attach(peer: NodeId, port: MessagePort): void {
    const { self, counters } = this.options;
    port.on('message', (raw: unknown) => {
      if (this.ports.get(peer) !== port || this.deliver === null) return;
      const batch = decodeEnvelope(raw, self, peer);
      for (const error of batch.errors) {
        counters.add('malformed', 1);
        this.errors.add(error, peer);
      }
      if (batch.messages.length > 0) this.deliver(peer, batch.messages);
    });
  }

  private link(peer: NodeId): Link {
    const link = this.links.get(peer);
    if (link === undefined) throw new Error(`${this.options.self} has no link to ${JSON.stringify(peer)}`);
    return link;
  }
}
