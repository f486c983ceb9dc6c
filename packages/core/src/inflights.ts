/**
 * Inflights bounds the AppendEntries in flight to one follower, by count and
 * by bytes (flow control, like etcd-io/raft `tracker/inflights.go`). Each slot
 * records the last index a message carried and its payload bytes; an
 * acknowledgement of index i frees every slot with last index <= i.
 */
export class Inflights {
  private readonly lastIndexes: number[] = [];
  private readonly sizes: number[] = [];
  /** Position of the oldest slot in the arrays (a queue without shifting). */
  private head = 0;
  /** Bytes in flight. Invariant: the sum of sizes[head..]. */
  bytes = 0;

  constructor(
    readonly maxMessages: number,
    readonly maxBytes: number,
  ) {}

  /** count is the number of messages in flight. */
  count(): number {
    return this.lastIndexes.length - this.head;
  }

  /** full tells whether no more messages may be sent. */
  full(): boolean {
    return this.count() >= this.maxMessages || this.bytes >= this.maxBytes;
  }

  /** add records a message carrying entries up to `lastIndex` and `bytes` of payload. */
  add(lastIndex: number, bytes: number): void {
    this.lastIndexes.push(lastIndex);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** freeLE frees every message whose last index is <= `index`. */
  freeLE(index: number): void {
    while (this.head < this.lastIndexes.length && this.lastIndexes[this.head]! <= index) {
      this.bytes -= this.sizes[this.head]!;
      this.head++;
    }
    this.compact();
  }

  /** freeFirstOne frees the oldest message, so a stalled pipeline can probe again. */
  freeFirstOne(): void {
    if (this.head < this.lastIndexes.length) {
      this.bytes -= this.sizes[this.head]!;
      this.head++;
      this.compact();
    }
  }

  /** reset frees everything. */
  reset(): void {
    this.lastIndexes.length = 0;
    this.sizes.length = 0;
    this.head = 0;
    this.bytes = 0;
  }

  private compact(): void {
    if (this.head === this.lastIndexes.length) this.reset();
    else if (this.head > 1024 && this.head * 2 > this.lastIndexes.length) {
      this.lastIndexes.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
  }
}
