/**
 * How a message reaches an actor and how its reply comes back: the seam
 * between ActorClient / ActorHost (whose API does not change) and the
 * mechanism, chosen once per VmRuntime (VmOptions.actorTransport):
 *
 *  - 'shared-memory' (transport-shared-memory.ts): the actor's mailbox ring
 *    in the directory; replies in the reply board.
 *  - 'postmessage' (transport-postmessage.ts): a postMessage channel per
 *    (actor, sender thread); replies posted back on it.
 *
 * Both use the reply board's state word as the requester's notification
 * word (Atomics.wait / waitAsync; the deadlock detector's T_WAIT_ACTOR is
 * set around it) and the host's doorbell to wake a parked host, so waits,
 * deaths (-ENODEV), faults (-EFAULT) and the deadlock detector behave alike.
 */

/** Which transport a VM's threads use to reach actors. */
export type ActorTransportKind = 'shared-memory' | 'postmessage';

/** One thread's end of the transport: sending to any actor, and the inboxes of the actors it hosts. */
export interface Transport {
  readonly kind: ActorTransportKind;
  /**
   * Worker: deliver `msg` (its first `len` words are the message) to `actor`.
   * Blocks while it cannot be queued. False when the actor is dead (dropped).
   */
  send(actor: number, msg: Int32Array, len: number): boolean;
  /** Main thread: send(), awaiting instead of blocking. */
  sendAsync(actor: number, msg: Int32Array, len: number): Promise<boolean>;
  /**
   * Worker: wait for the reply to the request in reply slot `slot` (begun on
   * the reply board before sending). The result, or undefined when none came
   * (timed out, or the actor died).
   */
  waitReply(slot: number, actor: number, timeoutMs: number): number | undefined;
  /** Value `i` of the reply waitReply(slot, ...) last returned. */
  replyValue(slot: number, i: number): number;
  /** Main thread: waitReply() with the values. */
  waitReplyAsync(slot: number, actor: number, timeoutMs: number): Promise<{ result: number; values: Int32Array } | undefined>;
  /** Host side: the inbox of actor `actor`, hosted by this thread. */
  inbox(actor: number): Inbox;
  /** Messages sent to and taken by `actor` so far (both move whenever it is used): the stall detector's progress. */
  positions(actor: number): [sent: number, taken: number];
  /** Release what this thread opened (ports). */
  close(): void;
}

/** Where one hosted actor's messages arrive (host thread only). */
export interface Inbox {
  /** Hand every waiting message to `handler(i32, base)` (payload at i32[base..]), in order; at most `max`. Returns how many. */
  drain(handler: (i32: Int32Array, base: number) => void, max: number): number;
  /** True when a message (or anything drain() must handle) is waiting. */
  pending(): boolean;
  /** Answer the request at i32[base..] (a message drain() handed out) with `result` and `values`. No-op for a one-way message. */
  reply(i32: Int32Array, base: number, result: number, values: ArrayLike<number>): void;
  close(): void;
}
