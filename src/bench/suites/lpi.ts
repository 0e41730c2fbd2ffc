/**
 * LPI benchmarks (issue 3): lpi-stress throughput and inject -> acknowledge
 * latency, each beside a raw shared-memory baseline of the same run.
 *
 * Throughput: the workload of runLpiStress (src/vgic/lpi-stress.ts): a VM
 * whose boot vCPU runs the its-setup guest (maps `devices` devices x
 * `events` events, LPIs spread over every vCPU's collection, then every vCPU
 * handles interrupts), one injector thread per device calling signalMsi,
 * every call must return 1. Unlike runLpiStress (one VM per run), a session
 * keeps its VM and injector threads open and times repetitions: the wall
 * time from the first injector's first call to the last injector's last
 * call (cross-thread stamps), per LPI. After each repetition the session
 * waits until no LPI is pending any more (the guests drained them), so the
 * VM is quiet between samples. A repetition in which any signalMsi returned
 * something other than 1 fails the figure (and the run, exit 1), naming the
 * count: `failed` is 0 in every figure printed.
 *
 * The translation-cache hit path of signalMsi runs on the injector thread
 * and latches the pending bit in shared LPI state, so an LPI's hops are
 * injector thread -> shared LPI state -> vCPU thread. The baseline is the
 * cheapest pipeline of that shape: producer thread -> SPSC ring -> middle
 * thread -> SPSC ring -> consumer thread (agents/ring2.ts), same batch
 * protocol. Figures are ns per LPI (ns per message): lower is better, the
 * harness's ratio is figure / baseline, so "at least 0.3 of the ring's
 * messages/s" is "at most 3.3x its ns/msg", and "above 1M LPIs/s" is "at
 * most 1,000 ns/LPI".
 */
import { createVm, type GicVm } from '../../create-vm.js';
import { SETUP_MAILBOX_GPA } from '../../guest/alloc.js';
import { MAILBOX_LPIS_ENABLED, MAILBOX_STATE, SETUP_DONE } from '../../guest/handshake.js';
import type { ItsSetupDevice } from '../../guest/its-setup-args.js';
import { VM_DEFAULTS } from '../../kvm/options.js';
import type { ActorTransportKind } from '../../actors/transport.js';
import { waitForWord } from '../../sync/wait.js';
import { defaultItsBase } from '../../vgic/layout.js';
import type { KvmMsi } from '../../vgic/msi.js';
import { F_PENDING } from '../../vgic/vgic-state.js';
import { controlBlock } from '../agents/batch.js';
import { L_DONE, L_F64, L_FAILED, L_GO, L_READY, lpiControl, RX_BYTES, type InjectorData, type LatencyData, type MsiLatencyData } from '../agents/lpi.js';
import type { AckGuestArgs } from '../agents/ack-guest.js';
import { alignedShared, ringWords } from '../agents/ring.js';
import type { Benchmark, RunContext, Session } from '../types.js';
import { Agents, agentModule, batchSession, sleep } from '../xthread.js';

/** Ring slots of the two-hop baseline: the mailbox default, as the raw-ring baseline. */
const CAPACITY = VM_DEFAULTS.mailboxCapacity;
/** GITS_TRANSLATER of ITS `its`. */
const translater = (its: number) => defaultItsBase(its) + 0x1_0040;

export interface Shape {
  vcpus: number;
  devices: number;
  events: number;
  its?: number;
  cacheCapacity?: number;
  /** Run the lock-order validator on every thread of the VM (the validator suite's figures). */
  validator?: boolean;
  /**
   * Events per device mapped besides `events` and never injected by the
   * figure: the session signals each once before the first repetition, so
   * their translations fill the translation cache first. With cacheCapacity 2
   * and 2 fillers every injected MSI misses (a request to the ITS actor), which
   * the session checks on each repetition (the transport suite's figures).
   */
  cacheFillers?: number;
  /** options.actorTransport of the VM (the transport suite's figures). Default: shared-memory. */
  actorTransport?: ActorTransportKind;
}

/** The its-setup devices of runLpiStress: LPI 8192 + n, collection n % vcpus, devices spread over the ITSs. */
function setupDevices(s: Shape): ItsSetupDevice[] {
  const nrIts = s.its ?? 1;
  const perDevice = s.events + (s.cacheFillers ?? 0);
  const eventIdBits = Math.max(1, Math.ceil(Math.log2(perDevice)));
  return Array.from({ length: s.devices }, (_, d) => ({
    its: d % nrIts, deviceId: d, eventIdBits,
    events: Array.from({ length: perDevice }, (_, e) => {
      const n = d * perDevice + e;
      return { eventId: e, intid: 8192 + n, icid: n % s.vcpus };
    }),
  }));
}

/** Create the VM, start it and wait for the guest's ITS setup and LPI enables. The caller destroys it. */
async function openVm(s: Shape, guest: { module: string | URL; args: unknown }): Promise<GicVm> {
  const vm = await createVm({
    vcpus: s.vcpus,
    gic: { its: s.its ?? 1, ...(s.cacheCapacity !== undefined ? { cacheCapacity: s.cacheCapacity } : {}) },
    guest,
    ...(s.validator ? { validator: true } : {}),
    ...(s.actorTransport !== undefined ? { actorTransport: s.actorTransport } : {}),
  });
  try {
    const r = await vm.start();
    if (r !== 0) throw new Error(`vm.start(): ${r}`);
    const mailbox = vm.rt.mem.atomics32(SETUP_MAILBOX_GPA, 4)!;
    const ok = await waitForWord(mailbox, MAILBOX_STATE, (v) => v === SETUP_DONE || v < 0, 120_000) &&
      await waitForWord(mailbox, MAILBOX_LPIS_ENABLED, (v) => v >= s.vcpus, 120_000);
    if (!ok || Atomics.load(mailbox, MAILBOX_STATE) !== SETUP_DONE) {
      throw new Error(`guest ITS setup failed (mailbox state ${Atomics.load(mailbox, MAILBOX_STATE)}; faults: ${vm.faults.map((f) => f.message).join('; ')})`);
    }
    return vm;
  } catch (e) {
    await vm.destroy();
    throw e;
  }
}

function vmFault(vm: GicVm): void {
  if (vm.faults.length > 0) throw new Error(`VM fault: ${vm.faults[0]!.source}: ${vm.faults[0]!.message}`);
}

/** Until no LPI of `intids` is pending (the guests handled them all). */
async function drained(vm: GicVm, intids: number[]): Promise<void> {
  const t0 = performance.now();
  while (!intids.every((i) => (vm.gic.vgic.lpiFlags(i) & F_PENDING) === 0)) {
    vmFault(vm);
    if (performance.now() - t0 > 30_000) throw new Error('LPIs still pending 30 s after the injectors finished');
    await sleep(1);
  }
}

function shapeName(s: Shape): string {
  return `${s.vcpus}/${s.devices}/${s.events}`;
}

// ---- throughput --------------------------------------------------------------------------------------

export const rawTwoHop: Benchmark = {
  name: 'lpi.raw-two-hop',
  group: 'lpi',
  title: 'raw two-hop pipeline: producer thread -> SPSC ring -> middle thread -> SPSC ring -> consumer thread (each ring as mailbox.raw-ring: 16-word slots x 1024, published per message)',
  unit: 'ns/msg',
  async open(ctx) {
    const agents = new Agents();
    try {
      const { buffer, i32, f64 } = controlBlock();
      const count = ctx.pick({ full: 200_000, quick: 100_000, smoke: 1_000 });
      const bytes = ringWords(CAPACITY) * 4;
      const data = { a: alignedShared(bytes), b: alignedShared(bytes), capacity: CAPACITY, ctl: buffer, count };
      agents.spawn(agentModule('ring2'), 'consumer', data);
      agents.spawn(agentModule('ring2'), 'middle', data);
      agents.spawn(agentModule('ring2'), 'producer', data);
      return await batchSession(agents, ctx, i32, f64, { agents: 3, count, warmup: ctx.pick({ full: 2, quick: 1, smoke: 1 }) });
    } catch (e) {
      await agents.close();
      throw e;
    }
  },
};

export interface StressFigure {
  name: string;
  shape: Shape;
  /** LPIs per repetition, all injectors together. */
  lpis: Readonly<Record<'full' | 'quick' | 'smoke', number>>;
  title: string;
  baseline: string;
  targets?: Benchmark['targets'];
  compare?: string[];
}

/** An lpi-stress session: the VM and its injector threads stay up; a repetition is one burst of every injector. */
export async function openStress(ctx: RunContext, f: StressFigure): Promise<Session> {
  const s = f.shape;
  const devs = setupDevices(s);
  const rounds = Math.max(1, Math.round(ctx.pick(f.lpis) / (s.devices * s.events)));
  const total = rounds * s.devices * s.events;
  const intids = devs.flatMap((d) => d.events.map((e) => e.intid));
  const vm = await openVm(s, { module: 'its-setup', args: { its: Array.from({ length: s.its ?? 1 }, (_, i) => i), devices: devs, handle: true } });
  const agents = new Agents();
  const close = async () => {
    await agents.close();
    await vm.destroy();
  };
  try {
    const { buffer, i32, f64 } = lpiControl(2 * s.devices);
    const fillers = s.cacheFillers ?? 0;
    const msi = (d: ItsSetupDevice, eventId: number): KvmMsi => ({ address: translater(d.its ?? 0), data: eventId, devid: d.deviceId });
    for (const d of devs) {
      for (let e = s.events; e < s.events + fillers; e++) {
        const r = await vm.signalMsi(msi(d, e));
        if (r !== 1) throw new Error(`cache filler MSI (device ${d.deviceId}, event ${e}): ${r}`);
      }
    }
    // With fillers, every MSI of a repetition must be a request to an ITS actor: count the messages sent to them
    // (counted before the request is answered; the actor's taken count may trail its last reply).
    const itsActors = vm.gic.its.map((i) => i.actor);
    const sent = () => itsActors.reduce((sum, a) => sum + vm.rt.transport.positions(a)[0], 0);
    const handle = vm.gic.injectorHandle();
    for (const d of devs) {
      const msis: KvmMsi[] = d.events.filter((e) => e.eventId < s.events).map((e) => msi(d, e.eventId));
      agents.spawn(agentModule('lpi'), 'injector', { handle, slot: d.deviceId, msis, rounds, ctl: buffer } satisfies InjectorData);
    }
    await agents.waitWord(i32, L_READY, (v) => v >= s.devices, 'the injector threads');
    let rep = 0;
    const burst = async (): Promise<number> => {
      rep++;
      const failedBefore = Atomics.load(i32, L_FAILED);
      const sentBefore = sent();
      Atomics.store(i32, L_GO, rep);
      Atomics.notify(i32, L_GO);
      await agents.waitWord(i32, L_DONE, (v) => v >= rep * s.devices, `injector burst ${rep}`);
      const failed = Atomics.load(i32, L_FAILED) - failedBefore;
      if (failed !== 0) throw new Error(`lpi-stress ${shapeName(s)}: failed = ${failed} of ${total} signalMsi calls did not return 1`);
      const requests = sent() - sentBefore;
      if (fillers > 0 && requests < total) throw new Error(`lpi-stress ${shapeName(s)}: only ${requests} of ${total} MSIs were requests to the ITS actor (the cache was to miss every time)`);
      let t0 = Infinity, t1 = -Infinity;
      for (let d = 0; d < s.devices; d++) {
        t0 = Math.min(t0, f64[L_F64 + 2 * d]!);
        t1 = Math.max(t1, f64[L_F64 + 2 * d + 1]!);
      }
      await drained(vm, intids);
      vmFault(vm);
      return ((t1 - t0) * 1e6) / total;
    };
    const warm = ctx.pick({ full: 2, quick: 1, smoke: 1 });
    for (let i = 0; i < warm; i++) {
      ctx.progress(`warm-up ${i + 1}/${warm}`);
      await burst();
    }
    return {
      rep: `burst of ${total.toLocaleString('en-US')} signalMsi calls (${s.devices} injector thread${s.devices > 1 ? 's' : ''} x ${s.events} event${s.events > 1 ? 's' : ''} x ${rounds.toLocaleString('en-US')}), failed = 0 checked${fillers > 0 ? ', every one a request to the ITS actor (checked)' : ''}, wall time / count`,
      sample: async () => [await burst()],
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

function stressBench(f: StressFigure): Benchmark {
  return {
    name: f.name,
    group: 'lpi',
    title: f.title,
    unit: 'ns/LPI',
    baseline: f.baseline,
    ...(f.compare ? { compare: f.compare } : {}),
    ...(f.targets ? { targets: f.targets } : {}),
    open: (ctx) => openStress(ctx, f),
  };
}

const hops = 'hops: injector thread -> shared LPI state (translation-cache hit, pending latched on the injector thread) -> vCPU thread';

const stress111 = stressBench({
  name: 'lpi.stress-1-1-1',
  shape: { vcpus: 1, devices: 1, events: 1 },
  lpis: { full: 200_000, quick: 100_000, smoke: 1_000 },
  title: `lpi-stress 1 vCPU / 1 device / 1 event: signalMsi per LPI (1e9 / this = LPIs/s); ${hops}`,
  baseline: rawTwoHop.name,
  targets: [
    { maxRatio: 1 / 0.3, source: 'issue 3: >= 0.3 of the raw two-hop ring' },
    { maxMedian: 1000, source: 'issue 3: > 1M LPIs/s' },
  ],
});

const stress4416 = stressBench({
  name: 'lpi.stress-4-4-16',
  shape: { vcpus: 4, devices: 4, events: 16 },
  lpis: { full: 256_000, quick: 128_000, smoke: 2_048 },
  title: `lpi-stress 4 vCPUs / 4 devices / 16 events (4 injector threads): ${hops}`,
  baseline: rawTwoHop.name,
});

const stress161616 = stressBench({
  name: 'lpi.stress-16-16-16',
  shape: { vcpus: 16, devices: 16, events: 16 },
  lpis: { full: 256_000, quick: 128_000, smoke: 4_096 },
  title: `lpi-stress 16 vCPUs / 16 devices / 16 events (16 injector threads): ${hops}`,
  baseline: rawTwoHop.name,
});

/** Translation cache of 16 slots, filled to 3/4 = 12 entries. */
const SMALL_CACHE = 16;
const CACHE_FILL = (SMALL_CACHE * 3) / 4;

const cacheFits = stressBench({
  name: 'lpi.cache-fits',
  shape: { vcpus: 1, devices: 1, events: CACHE_FILL, cacheCapacity: SMALL_CACHE },
  lpis: { full: 120_000, quick: 60_000, smoke: 1_200 },
  title: `lpi-stress 1/1/${CACHE_FILL} with gic.cacheCapacity ${SMALL_CACHE} (filled to 3/4 = ${CACHE_FILL}): every event hits the translation cache`,
  baseline: rawTwoHop.name,
});

const cacheOverflow = stressBench({
  name: 'lpi.cache-overflow',
  shape: { vcpus: 1, devices: 1, events: CACHE_FILL + 1, cacheCapacity: SMALL_CACHE },
  lpis: { full: 52_000, quick: 26_000, smoke: 1_300 },
  title: `lpi-stress 1/1/${CACHE_FILL + 1} with gic.cacheCapacity ${SMALL_CACHE}: one event more than the cache holds (its MSIs take the slow path: a request to the ITS actor)`,
  baseline: cacheFits.name,
  compare: [rawTwoHop.name],
  targets: [{ maxRatio: 2, source: 'issue 3: throughput must not collapse (<= 2x the in-cache ns/LPI)' }],
});

// ---- latency ------------------------------------------------------------------------------------------

/** Sleep before each operation, so the receiver is parked when it arrives. */
const SETTLE_MS = 1;

function latencyPerRound(ctx: RunContext): number {
  return Math.max(1, Math.ceil(ctx.budget.latencySamples / ctx.budget.rounds));
}

/** A latency session: the sender agent runs `perRound` timed operations per sample. */
async function latencySession(ctx: RunContext, agents: Agents, i32: Int32Array, f64: Float64Array, senders: number,
  what: string, check: () => void): Promise<Session> {
  const n = latencyPerRound(ctx);
  await agents.waitWord(i32, L_READY, (v) => v >= senders, 'the latency agents');
  let rep = 0;
  const round = async (): Promise<number[]> => {
    rep++;
    const failedBefore = Atomics.load(i32, L_FAILED);
    Atomics.store(i32, L_GO, rep);
    Atomics.notify(i32, L_GO);
    await agents.waitWord(i32, L_DONE, (v) => v >= rep, `${what} round ${rep}`);
    const failed = Atomics.load(i32, L_FAILED) - failedBefore;
    if (failed !== 0) throw new Error(`${what}: ${failed} of ${n} operations failed (signalMsi did not return 1)`);
    check();
    return Array.from(f64.subarray(L_F64, L_F64 + n));
  };
  await round(); // warm-up
  return { rep: `one operation in flight (settle ${SETTLE_MS} ms before each), ${n} per round`, sample: round, close: () => agents.close() };
}

export const pingPong: Benchmark = {
  name: 'lpi.pingpong-oneway',
  group: 'lpi',
  title: 'one-way wake-up latency: worker A stamps, Atomics.store + notify; worker B, parked in Atomics.wait, stamps on return (stamps: performance.timeOrigin + now)',
  unit: 'µs',
  async open(ctx) {
    const agents = new Agents();
    try {
      const n = latencyPerRound(ctx);
      const { buffer, i32, f64 } = lpiControl(n);
      const data: LatencyData = { ctl: buffer, rx: new SharedArrayBuffer(RX_BYTES), perRep: n, settleMs: SETTLE_MS };
      agents.spawn(agentModule('lpi'), 'ponger', data);
      agents.spawn(agentModule('lpi'), 'pinger', data);
      return await latencySession(ctx, agents, i32, f64, 2, 'ping-pong', () => {});
    } catch (e) {
      await agents.close();
      throw e;
    }
  },
};

/**
 * An inject -> acknowledge session on a VM of `vcpus` vCPUs: one device with
 * `vcpus` events, event e -> an LPI of vCPU e's collection; the injector
 * signals them in turn, so every vCPU thread takes its share (1 vCPU: the
 * lpi.inject-ack figure). The curves command runs it for more vCPUs.
 */
export async function openAckLatency(ctx: RunContext, vcpus = 1): Promise<Session> {
  const shape: Shape = { vcpus, devices: 1, events: vcpus };
  const devices = setupDevices(shape);
  const rx = new SharedArrayBuffer(RX_BYTES);
  const args: AckGuestArgs = { setup: { its: [0], devices }, rx };
  const vm = await openVm(shape, { module: agentModule('ack-guest'), args });
  const agents = new Agents();
  try {
    const n = latencyPerRound(ctx);
    const { buffer, i32, f64 } = lpiControl(n);
    const msis = devices[0]!.events.map((e) => ({ address: translater(0), data: e.eventId, devid: 0 }));
    agents.spawn(agentModule('lpi'), 'msiLatency', {
      ctl: buffer, rx, perRep: n, settleMs: SETTLE_MS, handle: vm.gic.injectorHandle(),
      msi: msis[0]!, ...(msis.length > 1 ? { msis } : {}),
    } satisfies MsiLatencyData);
    const s = await latencySession(ctx, agents, i32, f64, 1, 'inject -> ack', () => vmFault(vm));
    return { ...s, close: async () => { await agents.close(); await vm.destroy(); } };
  } catch (e) {
    await agents.close();
    await vm.destroy();
    throw e;
  }
}

const ackLatency: Benchmark = {
  name: 'lpi.inject-ack',
  group: 'lpi',
  title: 'inject -> guest acknowledge, 1 vCPU / 1 device / 1 event: signalMsi() on an injector thread to the guest\'s IAR read (gic.ack()) on its vCPU thread, which was in WFI (stamps: performance.timeOrigin + now on both threads)',
  unit: 'µs',
  baseline: pingPong.name,
  targets: [{ maxRatio: 2, source: 'issue 3/6: p50 within 2x of the Atomics ping-pong' }],
  open: (ctx) => openAckLatency(ctx, 1),
};

/** The 16/16/16 figure runs only with the full budget (16 vCPU + 16 injector threads take long to start on 2 cores). */
export const lpiBenchmarks: Benchmark[] = [
  rawTwoHop, stress111, stress4416, stress161616, cacheFits, cacheOverflow, pingPong, ackLatency,
];
