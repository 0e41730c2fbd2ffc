/**
 * One-way message cost between two workers (issue 2): our Mailbox (through
 * the ActorDirectory, sent with ActorClient.post, drained by a real ActorHost)
 * against a hand-written SPSC ring of the same geometry (publishing its
 * indices per message, and batched: once per 64 messages) and against
 * postMessage of the same payload. All three run the batch protocol of
 * agents/batch.ts: a producer worker, a consumer worker, the main thread idle.
 */
import { MessageChannel } from 'node:worker_threads';
import { once } from 'node:events';
import { ActorDirectory } from '../../actors/directory.js';
import type { HostControl, HostEvent } from '../../actors/host.js';
import { VM_DEFAULTS } from '../../kvm/options.js';
import { LockArena } from '../../sync/arena.js';
import { controlBlock } from '../agents/batch.js';
import { alignedShared, ringWords } from '../agents/ring.js';
import type { Benchmark, RunContext, Session } from '../types.js';
import { Agents, agentModule, batchSession } from '../xthread.js';

/** Slots per ring: the mailbox default, for the raw ring too. */
const CAPACITY = VM_DEFAULTS.mailboxCapacity;

function batchOpts(ctx: RunContext) {
  return {
    agents: 2,
    count: ctx.pick({ full: 100_000, quick: 40_000, smoke: 1_000 }),
    warmup: ctx.pick({ full: 2, quick: 1, smoke: 1 }),
  };
}

/** Run `f` with fresh agents; they are closed if it fails (the session closes them otherwise). */
async function withAgents(f: (agents: Agents) => Promise<Session>): Promise<Session> {
  const agents = new Agents();
  try {
    return await f(agents);
  } catch (e) {
    await agents.close();
    throw e;
  }
}

/** The raw ring between two agents of agents/ring.ts, per message or batched (the entry names say which). */
function rawRingSession(ctx: RunContext, consumer: string, producer: string): Promise<Session> {
  return withAgents(async (agents) => {
    const { buffer, i32, f64 } = controlBlock();
    const o = batchOpts(ctx);
    const data = { ring: alignedShared(ringWords(CAPACITY) * 4), capacity: CAPACITY, ctl: buffer, count: o.count };
    agents.spawn(agentModule('ring'), consumer, data);
    agents.spawn(agentModule('ring'), producer, data);
    return batchSession(agents, ctx, i32, f64, o);
  });
}

const rawRing: Benchmark = {
  name: 'mailbox.raw-ring',
  group: 'mailbox',
  title: 'hand-written SPSC ring in page-aligned shared memory, 16-word slots x 1024, tail/head published per message, consumer drains then parks',
  unit: 'ns/msg',
  open: (ctx) => rawRingSession(ctx, 'consumer', 'producer'),
};

const rawRingBatched: Benchmark = {
  name: 'mailbox.raw-ring-batched',
  group: 'mailbox',
  title: 'the same ring, the producer publishing its tail once per 64 messages (and after the last), the consumer its head once per drained batch of <= 64',
  unit: 'ns/msg',
  baseline: rawRing.name,
  open: (ctx) => rawRingSession(ctx, 'consumerBatched', 'producerBatched'),
};

const postMessage: Benchmark = {
  name: 'mailbox.postmessage',
  group: 'mailbox',
  title: 'port.postMessage(Int32Array(15)) worker -> worker over a MessageChannel (structured clone)',
  unit: 'ns/msg',
  open: (ctx) => withAgents(async (agents) => {
    const { buffer, i32, f64 } = controlBlock();
    const o = batchOpts(ctx);
    const { port1, port2 } = new MessageChannel();
    agents.spawn(agentModule('postmessage'), 'consumer', { port: port2, ctl: buffer, count: o.count }, [port2]);
    agents.spawn(agentModule('postmessage'), 'producer', { port: port1, ctl: buffer, count: o.count }, [port1]);
    return batchSession(agents, ctx, i32, f64, o);
  }),
};

const actorMailbox: Benchmark = {
  name: 'mailbox.actor',
  group: 'mailbox',
  title: 'Mailbox in an ActorDirectory built as createVm() does: ActorClient.post (15 words) -> ActorHost drain loop -> actor handle()',
  unit: 'ns/msg',
  baseline: rawRing.name,
  compare: [rawRingBatched.name],
  targets: [
    { maxRatio: 3, source: 'issue 2' },
    { against: postMessage.name, maxRatio: 1 / 5, source: 'issue 2' },
  ],
  open: (ctx) => withAgents(async (agents) => {
    const { buffer, i32, f64 } = controlBlock();
    const o = batchOpts(ctx);
    const arena = LockArena.create({ locks: 4, threads: 8 }, 'off');
    // The directory exactly as createVm() builds it (default options).
    const directory = ActorDirectory.create({ maxActors: VM_DEFAULTS.maxActors, mailboxCapacity: VM_DEFAULTS.mailboxCapacity });
    const dir = new ActorDirectory(directory);
    const host = dir.allocHost();
    const hostTid = arena.registerThread('actor', host, 'bench actor host');
    const producerTid = arena.registerThread('other', 0, 'bench producer');
    const actor = dir.allocActor(host);
    const { port1, port2 } = new MessageChannel();
    agents.spawn(agentModule('mailbox'), 'actorHost', { arena: arena.buffer, directory, tid: hostTid, host, port: port2 }, [port2]);
    agents.atClose(() => port1.close());
    port1.on('message', (ev: HostEvent) => {
      if (ev.type === 'fault') agents.error ??= new Error(`sink actor fault: ${ev.message}`);
    });
    const spawned = once(port1, 'message') as Promise<[HostEvent]>;
    port1.postMessage({
      type: 'spawn', id: actor, module: agentModule('sink-actor').href, init: { ctl: buffer, count: o.count },
    } satisfies HostControl);
    dir.doorbell(host).requestControl();
    const [ev] = await agents.guard(spawned, 'the sink actor to start');
    if (ev.type === 'spawned' && ev.error !== undefined) throw new Error(`sink actor: ${ev.error}`);
    agents.spawn(agentModule('mailbox'), 'producer', { arena: arena.buffer, directory, tid: producerTid, actor, ctl: buffer, count: o.count });
    const mb = dir.mailbox(actor).i32, bell = dir.doorbell(host).i32;
    // Raw words for a hang report: ring tail/head/space/space-waiters, head slot sequence, doorbell count/parked/control.
    const diagnose = () => `mailbox words tail ${mb[0]} head ${mb[16]} space ${mb[17]} waiters ${mb[18]} ` +
      `head-slot seq ${mb[32 + ((mb[16]! & (CAPACITY - 1)) * 16)]}; doorbell count ${bell[0]} parked ${bell[1]} control ${bell[2]}`;
    return batchSession(agents, ctx, i32, f64, { ...o, diagnose });
  }),
};

export const mailboxBenchmarks: Benchmark[] = [rawRing, rawRingBatched, postMessage, actorMailbox];
