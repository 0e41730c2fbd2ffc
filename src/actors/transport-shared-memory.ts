/**
 * The shared-memory transport (the default): every actor's mailbox ring and
 * the reply board live in the actor directory's SharedArrayBuffer. A send is
 * a CAS and a few stores (mailbox.ts); a reply is stores plus one notify.
 * No postMessage anywhere on the path.
 */
import type { LockArena } from '../sync/arena.js';
import { ACTOR_DEAD, type ActorDirectory } from './directory.js';
import type { Mailbox } from './mailbox.js';
import { M_REPLY, NO_REPLY } from './protocol.js';
import { REPLY_VALUES } from './reply.js';
import type { Inbox, Transport } from './transport.js';

/** How long a sender waits on a full ring before checking that the actor still lives. */
const SEND_SLICE_MS = 50;

export class SharedMemoryTransport implements Transport {
  readonly kind = 'shared-memory' as const;

  constructor(private readonly dir: ActorDirectory, private readonly arena: LockArena, private readonly tid: number) {}

  /**
   * Blocks while the ring is full; gives up when the actor dies meanwhile
   * (nobody would ever drain it). Nothing is queued to an actor already
   * dead: its ring would fill with messages nobody takes, and every later
   * sender would wait a slice on it before learning why.
   */
  send(actor: number, msg: Int32Array, len: number): boolean {
    if (this.dir.state(actor) === ACTOR_DEAD) return false;
    const mailbox = this.dir.mailbox(actor);
    while (!mailbox.send(msg, len, SEND_SLICE_MS)) {
      if (this.dir.state(actor) === ACTOR_DEAD) return false;
    }
    return true;
  }

  sendAsync(actor: number, msg: Int32Array, len: number): Promise<boolean> {
    const dir = this.dir;
    if (dir.state(actor) === ACTOR_DEAD) return Promise.resolve(false);
    return dir.mailbox(actor).sendAsync(msg, len, () => dir.state(actor) === ACTOR_DEAD);
  }

  waitReply(slot: number, actor: number, timeoutMs: number): number | undefined {
    const dir = this.dir;
    return dir.replies.wait(slot, this.arena, this.tid, actor, timeoutMs, () => dir.state(actor) === ACTOR_DEAD);
  }

  replyValue(slot: number, i: number): number {
    return this.dir.replies.value(slot, i);
  }

  async waitReplyAsync(slot: number, actor: number, timeoutMs: number): Promise<{ result: number; values: Int32Array } | undefined> {
    const dir = this.dir, board = dir.replies;
    const result = await board.waitAsync(slot, timeoutMs, () => dir.state(actor) === ACTOR_DEAD, actor);
    if (result === undefined) return undefined;
    const values = new Int32Array(REPLY_VALUES);
    for (let i = 0; i < values.length; i++) values[i] = board.value(slot, i);
    return { result, values };
  }

  inbox(actor: number): Inbox {
    return new SharedMemoryInbox(this.dir, this.dir.mailbox(actor));
  }

  positions(actor: number): [number, number] {
    return this.dir.mailbox(actor).positions();
  }

  close(): void {}
}

class SharedMemoryInbox implements Inbox {
  constructor(private readonly dir: ActorDirectory, private readonly mailbox: Mailbox) {}

  drain(handler: (i32: Int32Array, base: number) => void, max: number): number {
    return this.mailbox.drain(handler, max);
  }

  pending(): boolean {
    return this.mailbox.pending();
  }

  reply(i32: Int32Array, base: number, result: number, values: ArrayLike<number>): void {
    const slot = i32[base + M_REPLY]!;
    if (slot === NO_REPLY) return;
    const board = this.dir.replies;
    for (let i = 0; i < values.length; i++) board.setValue(slot, i, values[i]!);
    board.complete(slot, result);
  }

  close(): void {}
}
