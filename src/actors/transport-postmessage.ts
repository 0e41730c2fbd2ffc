/**
 * The postMessage transport (VmOptions.actorTransport 'postmessage'): what a
 * careful user would build on Node's message channels, kept beside the
 * shared-memory mailboxes so the benchmarks can compare the two on the same
 * pipelines.
 *
 * Channels. One two-member channel per (actor, sender thread), opened lazily
 * on the sender's first message to that actor. The channel is a
 * BroadcastChannel named `<vm prefix>/<actor>/<sender tid>`: in Node a
 * BroadcastChannel is a MessagePort in a named sibling group, so with its
 * two members (the sender's and the host's) a post is exactly a
 * MessageChannel post (one structured clone, one enqueue, one wake-up of the
 * receiving loop), but each thread opens its end by name: no port has to be
 * transferred, so injector workers built by users from a plain handle and
 * actors spawned after the vCPUs started are reached like the others.
 *
 * Opening. A message posted before the host's end exists is lost, so the
 * sender opens its end, marks its connection word REQUESTED, bumps the
 * actor's request counter, rings the host's doorbell and waits (worker:
 * Atomics.wait; main thread: waitAsync) until the host has opened its end
 * and marked the word OPEN. Once per (actor, thread).
 *
 * Messages. The sender posts the same 15-word Int32Array a mailbox slot
 * holds (structured clone), then rings the host's doorbell (a load when the
 * host is busy, a notify when it is parked). The host drains its ends with
 * receiveMessageOnPort between its other work and parks on its doorbell as
 * with mailboxes. Replies: the host posts [slot, result, 14 values] back on
 * the same channel, then bumps and notifies the requester's reply-board state
 * word; the requester waits on that word (postMessage cannot wake a thread
 * blocked in Atomics.wait) and then takes the reply with receiveMessageOnPort.
 *
 * Node dispatches a channel's messages as events whenever the receiving
 * thread's event loop runs (the VMM always; a host while it imports an actor
 * module): every end keeps a listener that stashes them, and receivers look
 * in the stash before the port, so none is lost and per-channel order holds.
 */
import { BroadcastChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { T_WAIT_ACTOR, type LockArena } from '../sync/arena.js';
import { ACTOR_DEAD, type ActorDirectory } from './directory.js';
import type { Doorbell } from './doorbell.js';
import { M_FROM, M_REPLY, NO_REPLY } from './protocol.js';
import { REPLY_VALUES } from './reply.js';
import type { Inbox, Transport } from './transport.js';

/** What every thread of a VM needs to use the postMessage transport (in VmShared). */
export interface PostMessageShared {
  kind: 'postmessage';
  /** Channel name prefix, unique to the VM. */
  prefix: string;
  /** Per actor: request counter, sent / taken counters, and a connection word per thread (tid). */
  words: SharedArrayBuffer;
}

const LINE = 16;
/** Per-actor header words. */
const P_REQUESTS = 0, P_SENT = 1, P_TAKEN = 2;
const P_CONN = LINE;
/** Connection word states. */
const CONN_NONE = 0, CONN_REQUESTED = 1, CONN_OPEN = 2;
/** Reply message: [slot, result, values...]. */
const R_SLOT = 0, R_RESULT = 1, R_VALUES = 2;
const REPLY_MESSAGE_WORDS = R_VALUES + REPLY_VALUES;
/** Slice of a connection wait, to notice an actor that died meanwhile. */
const LIVENESS_SLICE_MS = 50;

const H_ACTORS = 0, H_THREADS = 1;
const HEADER = LINE;

function actorWords(threads: number): number {
  return P_CONN + Math.ceil((threads + 1) / LINE) * LINE;
}

/** The shared part of a VM's postMessage transport, for `maxActors` actors and tids 1..`maxThreads`. */
export function createPostMessageShared(maxActors: number, maxThreads: number): PostMessageShared {
  const words = new SharedArrayBuffer((HEADER + maxActors * actorWords(maxThreads)) * 4);
  const i32 = new Int32Array(words);
  i32[H_ACTORS] = maxActors;
  i32[H_THREADS] = maxThreads;
  return { kind: 'postmessage', prefix: `vgic-lab/${randomUUID()}`, words };
}

/** receiveMessageOnPort accepts a BroadcastChannel too (Node >= 15.12); the typings say MessagePort only. */
const receive = (bc: BroadcastChannel): Int32Array | undefined =>
  (receiveMessageOnPort(bc as unknown as MessagePort)?.message as Int32Array | undefined);

/** The sender's end of one (actor, thread) channel. */
class SenderEnd {
  /** Replies taken off the channel, by reply slot (the main thread has several requests in flight). */
  private readonly replies = new Map<number, Int32Array>();

  constructor(readonly bc: BroadcastChannel, readonly doorbell: Doorbell) {
    bc.onmessage = (e: unknown) => {
      const m = (e as { data: Int32Array }).data;
      this.replies.set(m[R_SLOT]!, m);
    };
    bc.unref();
  }

  /** The reply for `slot`: the host posted it before signalling, so it is in the stash or on the port. */
  take(slot: number): Int32Array | undefined {
    for (let m = receive(this.bc); m !== undefined; m = receive(this.bc)) this.replies.set(m[R_SLOT]!, m);
    const r = this.replies.get(slot);
    this.replies.delete(slot);
    return r;
  }
}

export class PostMessageTransport implements Transport {
  readonly kind = 'postmessage' as const;
  private readonly i32: Int32Array;
  private readonly perActor: number;
  private readonly ends: (SenderEnd | undefined)[] = [];
  private readonly opening = new Map<number, Promise<SenderEnd | null>>();
  private readonly inboxes = new Set<Inbox>();
  /** The reply waitReply() last took (its values). */
  private last: Int32Array = new Int32Array(REPLY_MESSAGE_WORDS);

  constructor(private readonly shared: PostMessageShared, private readonly dir: ActorDirectory,
    private readonly arena: LockArena, private readonly tid: number) {
    this.i32 = new Int32Array(shared.words);
    this.perActor = actorWords(this.i32[H_THREADS]!);
  }

  private base(actor: number): number {
    if (!(actor >= 0 && actor < this.i32[H_ACTORS]!)) throw new RangeError(`no actor ${actor}`);
    return HEADER + actor * this.perActor;
  }

  private name(actor: number, tid: number): string {
    return `${this.shared.prefix}/${actor}/${tid}`;
  }

  private dead(actor: number): boolean {
    return this.dir.state(actor) === ACTOR_DEAD;
  }

  /** Open our end and ask the host to open its own; returns the connection word. */
  private openEnd(actor: number): { end: SenderEnd; word: number } {
    const end = new SenderEnd(new BroadcastChannel(this.name(actor, this.tid)), this.dir.doorbell(this.dir.hostOf(actor)));
    const b = this.base(actor);
    const word = b + P_CONN + this.tid;
    Atomics.store(this.i32, word, CONN_REQUESTED);
    Atomics.add(this.i32, b + P_REQUESTS, 1);
    end.doorbell.ringAlways();
    return { end, word };
  }

  /** Worker: the open channel to `actor`, or null if it died first. */
  private connect(actor: number): SenderEnd | null {
    const { end, word } = this.openEnd(actor);
    const rec = this.arena.threadRecord(this.tid) + T_WAIT_ACTOR;
    Atomics.store(this.arena.i32, rec, actor + 1);
    try {
      while (Atomics.load(this.i32, word) !== CONN_OPEN) {
        if (this.dead(actor)) {
          end.bc.close();
          return null;
        }
        Atomics.wait(this.i32, word, CONN_REQUESTED, LIVENESS_SLICE_MS);
      }
    } finally {
      Atomics.store(this.arena.i32, rec, 0);
    }
    this.ends[actor] = end;
    return end;
  }

  /** Main thread: connect() without blocking; concurrent requests share one opening. */
  private connectAsync(actor: number): Promise<SenderEnd | null> {
    let p = this.opening.get(actor);
    if (p === undefined) {
      p = (async () => {
        const { end, word } = this.openEnd(actor);
        const keepAlive = setInterval(() => {}, 1 << 30);
        try {
          while (Atomics.load(this.i32, word) !== CONN_OPEN) {
            if (this.dead(actor)) {
              end.bc.close();
              return null;
            }
            const r = Atomics.waitAsync(this.i32, word, CONN_REQUESTED, LIVENESS_SLICE_MS);
            if (r.async) await r.value;
          }
        } finally {
          clearInterval(keepAlive);
          this.opening.delete(actor);
        }
        this.ends[actor] = end;
        return end;
      })();
      this.opening.set(actor, p);
    }
    return p;
  }

  private post(actor: number, end: SenderEnd, msg: Int32Array): void {
    end.bc.postMessage(msg);
    Atomics.add(this.i32, this.base(actor) + P_SENT, 1);
    end.doorbell.ring();
  }

  send(actor: number, msg: Int32Array, _len: number): boolean {
    if (this.dead(actor)) return false;
    const end = this.ends[actor] ?? this.connect(actor);
    if (end === null) return false;
    this.post(actor, end, msg);
    return true;
  }

  async sendAsync(actor: number, msg: Int32Array, _len: number): Promise<boolean> {
    if (this.dead(actor)) return false;
    const end = this.ends[actor] ?? (await this.connectAsync(actor));
    if (end === null) return false;
    this.post(actor, end, msg);
    return true;
  }

  waitReply(slot: number, actor: number, timeoutMs: number): number | undefined {
    if (this.dir.replies.wait(slot, this.arena, this.tid, actor, timeoutMs, () => this.dead(actor)) === undefined) return undefined;
    const reply = this.ends[actor]!.take(slot);
    if (reply === undefined) throw new Error(`postmessage transport: actor ${actor} signalled reply slot ${slot} without posting the reply`);
    this.last = reply;
    return reply[R_RESULT]!;
  }

  replyValue(_slot: number, i: number): number {
    return this.last[R_VALUES + i] ?? 0;
  }

  async waitReplyAsync(slot: number, actor: number, timeoutMs: number): Promise<{ result: number; values: Int32Array } | undefined> {
    if ((await this.dir.replies.waitAsync(slot, timeoutMs, () => this.dead(actor), actor)) === undefined) return undefined;
    const reply = this.ends[actor]!.take(slot);
    if (reply === undefined) throw new Error(`postmessage transport: actor ${actor} signalled reply slot ${slot} without posting the reply`);
    return { result: reply[R_RESULT]!, values: reply.slice(R_VALUES, R_VALUES + REPLY_VALUES) };
  }

  inbox(actor: number): Inbox {
    const inbox = new PostMessageInbox(this.i32, this.base(actor), this.dir, (tid) => this.name(actor, tid),
      () => this.inboxes.delete(inbox));
    this.inboxes.add(inbox);
    return inbox;
  }

  positions(actor: number): [number, number] {
    const b = this.base(actor);
    return [Atomics.load(this.i32, b + P_SENT), Atomics.load(this.i32, b + P_TAKEN)];
  }

  close(): void {
    for (const end of this.ends) end?.bc.close();
    this.ends.length = 0;
    for (const inbox of [...this.inboxes]) inbox.close();
  }
}

/** A host's ends of every channel to one actor. */
class PostMessageInbox implements Inbox {
  private readonly ends = new Map<number, BroadcastChannel>();
  private readonly list: BroadcastChannel[] = [];
  /** Messages taken off a port early (an event dispatch, or pending()'s look), in arrival order. */
  private readonly stash: Int32Array[] = [];
  private seenRequests = -1;
  private taken = 0;

  constructor(private readonly i32: Int32Array, private readonly b: number, private readonly dir: ActorDirectory,
    private readonly name: (tid: number) => string, private readonly onClose: () => void) {}

  /** Open our end of every channel a sender asked for. */
  private accept(): void {
    const { i32, b } = this;
    this.seenRequests = Atomics.load(i32, b + P_REQUESTS);
    const threads = i32[H_THREADS]!;
    for (let tid = 1; tid <= threads; tid++) {
      const w = b + P_CONN + tid;
      if (Atomics.load(i32, w) !== CONN_REQUESTED) continue;
      let bc = this.ends.get(tid);
      if (bc === undefined) {
        bc = new BroadcastChannel(this.name(tid));
        bc.onmessage = (e: unknown) => this.stash.push((e as { data: Int32Array }).data);
        bc.unref();
        this.ends.set(tid, bc);
        this.list.push(bc);
      }
      Atomics.store(i32, w, CONN_OPEN);
      Atomics.notify(i32, w);
    }
  }

  pending(): boolean {
    if (this.stash.length > 0 || Atomics.load(this.i32, this.b + P_REQUESTS) !== this.seenRequests) return true;
    for (const bc of this.list) {
      const m = receive(bc);
      if (m !== undefined) {
        this.stash.push(m);
        return true;
      }
    }
    return false;
  }

  drain(handler: (i32: Int32Array, base: number) => void, max: number): number {
    if (Atomics.load(this.i32, this.b + P_REQUESTS) !== this.seenRequests) this.accept();
    let n = 0;
    while (n < max && this.stash.length > 0) n += this.take(handler, this.stash.shift()!);
    for (const bc of this.list) {
      while (n < max) {
        const m = receive(bc);
        if (m === undefined) break;
        n += this.take(handler, m);
      }
    }
    return n;
  }

  private take(handler: (i32: Int32Array, base: number) => void, m: Int32Array): number {
    Atomics.store(this.i32, this.b + P_TAKEN, ++this.taken);
    handler(m, 0);
    return 1;
  }

  reply(i32: Int32Array, base: number, result: number, values: ArrayLike<number>): void {
    const slot = i32[base + M_REPLY]!;
    if (slot === NO_REPLY) return;
    const r = new Int32Array(REPLY_MESSAGE_WORDS);
    r[R_SLOT] = slot;
    r[R_RESULT] = result;
    for (let i = 0; i < values.length && i < REPLY_VALUES; i++) r[R_VALUES + i] = values[i]!;
    // Every message came over the channel of its sender (M_FROM); without one the requester is woken
    // anyway and reports the missing reply instead of waiting forever.
    this.ends.get(i32[base + M_FROM]!)?.postMessage(r);
    this.dir.replies.signal(slot);
  }

  close(): void {
    for (const bc of this.list) bc.close();
    this.list.length = 0;
    this.ends.clear();
    this.onClose();
  }
}
