/**
 * Sending to actors from one thread: one-way posts and synchronous requests.
 * A worker blocks on its own reply slot (slot = tid); the main thread awaits a
 * slot drawn from the pool above the thread range. Fill `msg` from M_ARGS,
 * then call post/request with the op. How the message travels is the
 * thread's Transport (shared-memory mailboxes by default, or postMessage).
 */
import type { LockArena } from '../sync/arena.js';
import { activeSchedule } from '../sync/schedule.js';
import { ACTOR_DEAD, type ActorDirectory } from './directory.js';
import { M_FROM, M_OP, M_REPLY, NO_REPLY, REPLY_NO_ACTOR } from './protocol.js';
import { PAYLOAD_WORDS } from './mailbox.js';
import { SharedMemoryTransport } from './transport-shared-memory.js';
import { REPLY_VALUES } from './reply.js';
import type { Transport } from './transport.js';

export class ActorClient {
  /** Scratch message: fill arguments at M_ARGS.. before post()/request(). */
  readonly msg = new Int32Array(PAYLOAD_WORDS);
  private readonly poolFree: number[] = [];
  readonly transport: Transport;

  constructor(readonly dir: ActorDirectory, readonly arena: LockArena, readonly tid: number, transport?: Transport) {
    this.transport = transport ?? new SharedMemoryTransport(dir, arena, tid);
    // The main thread's pool: every slot above the thread range.
    for (let s = dir.replies.slots - 1; s > arena.maxThreads; s--) this.poolFree.push(s);
  }

  /** One-way message; blocks while the mailbox is full. False if the actor is dead (the message is dropped). */
  post(actor: number, op: number, len = PAYLOAD_WORDS): boolean {
    const { msg } = this;
    msg[M_OP] = op;
    msg[M_REPLY] = NO_REPLY;
    msg[M_FROM] = this.tid;
    return this.send(actor, len);
  }

  private send(actor: number, len: number): boolean {
    activeSchedule()?.point('send', actor);
    return this.transport.send(actor, this.msg, len);
  }

  /** Synchronous request from a worker; returns the actor's result (values via value()). */
  request(actor: number, op: number, len = PAYLOAD_WORDS, timeoutMs = Infinity): number {
    const { msg, tid } = this;
    const slot = tid;
    msg[M_OP] = op;
    msg[M_REPLY] = slot;
    msg[M_FROM] = tid;
    this.dir.replies.begin(slot);
    if (!this.send(actor, len)) return REPLY_NO_ACTOR;
    return this.transport.waitReply(slot, actor, timeoutMs) ?? REPLY_NO_ACTOR;
  }

  /** Value i of the last reply received by request(). */
  value(i: number): number {
    return this.transport.replyValue(this.tid, i);
  }

  /**
   * Main thread: send `msg` (a private copy) and await the reply. Returns the
   * result and the reply values.
   */
  async requestAsync(actor: number, op: number, args: ArrayLike<number>, timeoutMs = Infinity): Promise<{ result: number; values: Int32Array }> {
    const slot = this.poolFree.pop();
    if (slot === undefined) throw new RangeError('too many concurrent requests from the main thread');
    const m = new Int32Array(PAYLOAD_WORDS);
    m[M_OP] = op;
    m[M_REPLY] = slot;
    m[M_FROM] = this.tid;
    for (let i = 0; i < args.length; i++) m[3 + i] = args[i]!;
    const board = this.dir.replies;
    board.begin(slot);
    try {
      await activeSchedule()?.pointAsync('send', actor);
      if (!(await this.transport.sendAsync(actor, m, PAYLOAD_WORDS))) {
        board.complete(slot, REPLY_NO_ACTOR); // nobody will: leave the slot reusable
        return { result: REPLY_NO_ACTOR, values: new Int32Array(REPLY_VALUES) };
      }
      const reply = await this.transport.waitReplyAsync(slot, actor, timeoutMs);
      if (reply !== undefined) return reply;
      // A dead actor will never write the slot: give it back (a live one that timed out still may, so that one is kept).
      if (this.dir.state(actor) === ACTOR_DEAD) board.complete(slot, REPLY_NO_ACTOR);
      return { result: REPLY_NO_ACTOR, values: new Int32Array(REPLY_VALUES) };
    } finally {
      // A request that timed out may still be answered later: never reuse its slot.
      if (!board.pending(slot)) this.poolFree.push(slot);
    }
  }
}
