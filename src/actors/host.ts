/**
 * An actor host: the loop of a worker thread that runs one or more actors.
 * It drains every actor's inbox in batches, parks on its doorbell when all
 * are empty, and takes control requests (spawn an actor, stop) from a
 * MessagePort between batches. A handler that throws is a fault reported to
 * the VMM, never a dead worker: the requester gets -EFAULT.
 *
 * While serving a synchronous request the host records whose request it is
 * (T_PROXY_FOR): locks it takes then belong, for ordering, to the requester.
 * Where messages arrive and how replies leave is the thread's Transport
 * (an Inbox per hosted actor): the loop is the same for both transports.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { T_OP, T_PROXY_FOR, type LockArena } from '../sync/arena.js';
import { activeSchedule } from '../sync/schedule.js';
import { EV_MESSAGE } from '../trace/events.js';
import type { TimelineWriter } from '../trace/timeline.js';
import { EFAULT } from '../uapi/errno.js';
import { ACTOR_DEAD, ACTOR_LIVE, type ActorDirectory } from './directory.js';
import { M_FROM, M_REPLY, NO_REPLY } from './protocol.js';
import { SharedMemoryTransport } from './transport-shared-memory.js';
import type { Inbox, Transport } from './transport.js';

/** What an actor implements: a synchronous handler per message. */
export interface Actor {
  /** Handle the message at i32[base..]; reply with ctx.reply() if it is a request. */
  handle(i32: Int32Array, base: number): void;
  /** Called when the host stops (VM destroy). */
  destroy?(): void;
}

/** What every actor gets, whatever the host's embedding adds. */
export interface ActorBase {
  readonly id: number;
  /** Answer the request at i32[base..] with `result` and up to 14 values. */
  reply(i32: Int32Array, base: number, result: number, ...values: number[]): void;
  /**
   * Send bulk data (structured-cloned) to the VMM for query `id` (a VMM
   * query's first argument). Call before reply(): the VMM waits for both.
   */
  sendBulk(id: number, data: unknown): void;
}

/** What an actor is given: its id, reply(), and the host's environment (e.g. the VM runtime). */
export interface ActorContext<E> extends ActorBase {
  readonly env: E;
}

/** An actor module's default export. */
export type ActorFactory<E> = (ctx: ActorContext<E>, init: any) => Actor | Promise<Actor>;

export type HostControl =
  | { type: 'spawn'; id: number; module: string; init: unknown }
  | { type: 'stop' };

export type HostEvent =
  | { type: 'spawned'; id: number; error?: string }
  | { type: 'fault'; actor: number; message: string; stack?: string }
  | { type: 'bulk'; actor: number; id: number; data: unknown }
  | { type: 'stopped' };

interface Hosted {
  id: number;
  actor: Actor;
  inbox: Inbox;
  dispatch: (i32: Int32Array, base: number) => void;
}

const BATCH = 64;
/**
 * How long an idle host polls before parking. A parked host costs its next
 * requester a futex wake (~30 µs across cores here); a request stream with
 * gaps shorter than this never pays it. Bounded so an idle actor sleeps soon.
 */
const SPIN_BUDGET_MS = 0.05;

export class ActorHost<C> {
  private readonly hosted: Hosted[] = [];
  private replied = false;
  private readonly proxyWord: number;
  private readonly opWord: number;
  private readonly transport: Transport;

  constructor(
    private readonly dir: ActorDirectory,
    private readonly arena: LockArena,
    private readonly tid: number,
    private readonly host: number,
    private readonly ctl: MessagePort,
    private readonly context: C,
    /** This thread's timeline ring: a span per message handled. */
    private readonly timeline: TimelineWriter | null = null,
    /** How messages arrive (default: the shared-memory mailboxes). */
    transport?: Transport,
  ) {
    this.transport = transport ?? new SharedMemoryTransport(dir, arena, tid);
    this.proxyWord = arena.threadRecord(tid) + T_PROXY_FOR;
    this.opWord = arena.threadRecord(tid) + T_OP;
  }

  /** Run until a stop request. */
  async run(): Promise<void> {
    const doorbell = this.dir.doorbell(this.host);
    const anyPending = (): boolean => {
      for (const h of this.hosted) if (h.inbox.pending()) return true;
      return false;
    };
    // A control request (spawn, stop) is work too: parking without checking it loses its wake-up.
    const hasWork = (): boolean => doorbell.controlRequested() || anyPending();
    for (;;) {
      if (doorbell.takeControl() && (await this.control())) return;
      let n = 0;
      for (const h of this.hosted) n += h.inbox.drain(h.dispatch, BATCH);
      if (n > 0) continue;
      // Polling would keep a controlled schedule's turn: park at once there.
      if (activeSchedule() !== null || !this.poll(hasWork)) doorbell.park(hasWork);
    }
  }

  /** Poll for work for up to SPIN_BUDGET_MS (reading the clock every 64 polls). */
  private poll(hasWork: () => boolean): boolean {
    const until = performance.now() + SPIN_BUDGET_MS;
    for (;;) {
      for (let i = 0; i < 64; i++) if (hasWork()) return true;
      if (performance.now() >= until) return false;
    }
  }

  /** Drain the control port; true when asked to stop. */
  private async control(): Promise<boolean> {
    for (let m = receiveMessageOnPort(this.ctl); m !== undefined; m = receiveMessageOnPort(this.ctl)) {
      const req = m.message as HostControl;
      if (req.type === 'stop') {
        for (const h of this.hosted) {
          try { h.actor.destroy?.(); } catch { /* destroying anyway */ }
          this.dir.setState(h.id, ACTOR_DEAD);
          h.inbox.close();
        }
        this.transport.close();
        this.ctl.postMessage({ type: 'stopped' } satisfies HostEvent);
        return true;
      }
      try {
        await this.spawn(req.id, req.module, req.init);
        this.ctl.postMessage({ type: 'spawned', id: req.id } satisfies HostEvent);
      } catch (e) {
        this.ctl.postMessage({ type: 'spawned', id: req.id, error: String((e as Error)?.stack ?? e) } satisfies HostEvent);
      }
    }
    return false;
  }

  private async spawn(id: number, module: string, init: unknown): Promise<void> {
    const mod = (await import(module)) as { default: ActorFactory<C> };
    const inbox = this.transport.inbox(id);
    const self = this;
    const ctx: ActorContext<C> = {
      id,
      env: this.context,
      reply(i32, b, result, ...values) {
        if (i32[b + M_REPLY] === NO_REPLY) return;
        self.replied = true;
        inbox.reply(i32, b, result, values);
      },
      sendBulk: (qid, data) => this.ctl.postMessage({ type: 'bulk', actor: id, id: qid, data } satisfies HostEvent),
    };
    let actor: Actor;
    try {
      actor = await mod.default(ctx, init);
    } catch (e) {
      inbox.close();
      throw e;
    }
    const hosted: Hosted = {
      id, actor, inbox,
      dispatch: (i32, b) => this.dispatch(hosted, i32, b),
    };
    this.hosted.push(hosted);
    this.dir.setState(id, ACTOR_LIVE);
  }

  private dispatch(h: Hosted, i32: Int32Array, b: number): void {
    activeSchedule()?.point('recv', i32[b]!);
    const slot = i32[b + M_REPLY]!;
    this.replied = false;
    if (slot !== NO_REPLY) Atomics.store(this.arena.i32, this.proxyWord, i32[b + M_FROM]!);
    this.timeline?.begin(EV_MESSAGE, i32[b]!, h.id);
    try {
      h.actor.handle(i32, b);
    } catch (e) {
      const err = e as Error;
      this.ctl.postMessage({ type: 'fault', actor: h.id, message: String(err?.message ?? e), stack: err?.stack } satisfies HostEvent);
      if (slot !== NO_REPLY && !this.replied) h.inbox.reply(i32, b, -EFAULT, []);
    } finally {
      if (slot !== NO_REPLY) Atomics.store(this.arena.i32, this.proxyWord, 0);
      this.timeline?.end(EV_MESSAGE, i32[b]!, h.id);
      this.arena.i32[this.opWord] = 0; // the operation a handler named (setOperation) ends with its message
    }
  }
}
