/**
 * The actor directory of a VM: one SharedArrayBuffer with every actor's
 * mailbox ring, every host's doorbell and the reply board, at fixed offsets.
 * Any thread that has the buffer can address any actor by id, including actors
 * spawned after the thread started (an ITS created while vCPUs run).
 */
import { Doorbell, DOORBELL_WORDS } from './doorbell.js';
import { Mailbox, mailboxWords } from './mailbox.js';
import { ReplyBoard, REPLY_WORDS } from './reply.js';
import { alignedSharedBuffer } from '../sync/shared-buffer.js';

const D_MAX_ACTORS = 0, D_CAPACITY = 1, D_ACTORS = 2, D_MAX_HOSTS = 3, D_REPLY_SLOTS = 4, D_HOSTS = 5;
const HEADER_WORDS = 16;
/** Words per actor record; the table is padded to whole cache lines so the rings start on one. */
const ACTOR_WORDS = 4;
const LINE_WORDS = 16;
const tableWords = (maxActors: number) => Math.ceil((maxActors * ACTOR_WORDS) / LINE_WORDS) * LINE_WORDS;
const A_STATE = 0, A_HOST = 1;
export const ACTOR_FREE = 0, ACTOR_LIVE = 1, ACTOR_DEAD = 2;

export interface DirectoryOptions {
  /** Maximum actors per VM (default 32). */
  maxActors?: number;
  /** Slots per mailbox, a power of two (default 1024). */
  mailboxCapacity?: number;
  /** Reply slots: one per thread plus a pool for the main thread's concurrent requests (default 512). */
  replySlots?: number;
}

export class ActorDirectory {
  readonly i32: Int32Array;
  readonly maxActors: number;
  readonly capacity: number;
  readonly maxHosts: number;
  readonly replies: ReplyBoard;
  private readonly tableBase: number;
  private readonly doorbellBase: number;
  private readonly ringBase: number;
  private readonly mailboxes = new Map<number, Mailbox>();
  private readonly doorbells = new Map<number, Doorbell>();

  static create(options: DirectoryOptions = {}): SharedArrayBuffer {
    const maxActors = options.maxActors ?? 32;
    const capacity = options.mailboxCapacity ?? 1024;
    const replySlots = options.replySlots ?? 512;
    const maxHosts = maxActors;
    const words = HEADER_WORDS + tableWords(maxActors) + maxHosts * DOORBELL_WORDS +
      replySlots * REPLY_WORDS + maxActors * mailboxWords(capacity);
    const buffer = alignedSharedBuffer(words * 4);
    const i32 = new Int32Array(buffer);
    i32[D_MAX_ACTORS] = maxActors;
    i32[D_CAPACITY] = capacity;
    i32[D_MAX_HOSTS] = maxHosts;
    i32[D_REPLY_SLOTS] = replySlots;
    const dir = new ActorDirectory(buffer);
    for (let a = 0; a < maxActors; a++) Mailbox.init(dir.ringView(a), capacity);
    return buffer;
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.i32 = new Int32Array(buffer);
    this.maxActors = this.i32[D_MAX_ACTORS]!;
    this.capacity = this.i32[D_CAPACITY]!;
    this.maxHosts = this.i32[D_MAX_HOSTS]!;
    const replySlots = this.i32[D_REPLY_SLOTS]!;
    this.tableBase = HEADER_WORDS;
    this.doorbellBase = this.tableBase + tableWords(this.maxActors);
    const replyBase = this.doorbellBase + this.maxHosts * DOORBELL_WORDS;
    this.replies = new ReplyBoard(this.i32.subarray(replyBase, replyBase + replySlots * REPLY_WORDS));
    this.ringBase = replyBase + replySlots * REPLY_WORDS;
  }

  private ringView(actor: number): Int32Array {
    const start = this.ringBase + actor * mailboxWords(this.capacity);
    return this.i32.subarray(start, start + mailboxWords(this.capacity));
  }

  /** Allocate a host index (a thread that runs actors and owns a doorbell). */
  allocHost(): number {
    const h = Atomics.add(this.i32, D_HOSTS, 1);
    if (h >= this.maxHosts) throw new RangeError(`more than ${this.maxHosts} actor hosts`);
    return h;
  }

  /** Allocate an actor id hosted by `host`. */
  allocActor(host: number): number {
    const id = Atomics.add(this.i32, D_ACTORS, 1);
    if (id >= this.maxActors) {
      Atomics.sub(this.i32, D_ACTORS, 1);
      throw new RangeError(`more than ${this.maxActors} actors (option actors.maxActors)`);
    }
    Atomics.store(this.i32, this.tableBase + id * ACTOR_WORDS + A_HOST, host);
    return id;
  }

  setState(actor: number, state: number): void {
    Atomics.store(this.i32, this.tableBase + actor * ACTOR_WORDS + A_STATE, state);
  }

  state(actor: number): number {
    return Atomics.load(this.i32, this.tableBase + actor * ACTOR_WORDS + A_STATE);
  }

  hostOf(actor: number): number {
    return Atomics.load(this.i32, this.tableBase + actor * ACTOR_WORDS + A_HOST);
  }

  actorCount(): number {
    return Math.min(Atomics.load(this.i32, D_ACTORS), this.maxActors);
  }

  doorbell(host: number): Doorbell {
    let d = this.doorbells.get(host);
    if (d === undefined) {
      const start = this.doorbellBase + host * DOORBELL_WORDS;
      d = new Doorbell(this.i32.subarray(start, start + DOORBELL_WORDS));
      this.doorbells.set(host, d);
    }
    return d;
  }

  /** This thread's handle on actor `id`'s mailbox. */
  mailbox(id: number): Mailbox {
    let m = this.mailboxes.get(id);
    if (m === undefined) {
      if (!(id >= 0 && id < this.maxActors)) throw new RangeError(`no actor ${id}`);
      m = new Mailbox(this.ringView(id), this.doorbell(this.hostOf(id)));
      this.mailboxes.set(id, m);
    }
    return m;
  }
}
