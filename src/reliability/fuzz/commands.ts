/**
 * Fuzz target 'commands': random ITS command streams, valid and malformed
 * (commands-stream.ts), run by guest programs on a live VM
 * (commands-guest.ts): vCPU n drives ITS n (two ITSs, streams at the same
 * time, sharing LPIs), the other vCPUs handle LPIs, and the VMM signals MSIs
 * meanwhile. Per case:
 *
 *  1. each driver empties its ITS and maps the collections again (ITS 0 also
 *     the reserved device);
 *  2. the drivers run their streams, checking what a guest observes (CREADR
 *     == CWRITER after every store, spec 9.10-9.13; a disabled ITS runs
 *     nothing; CBASER/CWRITER read-back), while the VMM signals MSIs to the
 *     reserved events and random ones; some cases also run an injector
 *     thread (a ledger storm) on reserved events;
 *  3. the VMM pauses the VM and checks: no fault, no vCPU exited, no lock
 *     held, no lock-order finding (the VM runs with the validator); conservation (conservation.ts, over the VM's life): every reserved
 *     LPI an accepted MSI (it returned 1) made pending is still pending or was
 *     delivered since, and no reserved LPI was delivered more often than MSIs
 *     were accepted (no phantom); every LPI's reference count equals the ITEs
 *     naming it; SAVE_TABLES returns 0, or -EINVAL exactly when an ITE's
 *     collection was removed (the model's defined outcome, spec 5.2); an MSI
 *     to every mapping left, and to the case's other MSI targets, returns what
 *     the translation now says (spec 4.2: a stale translation-cache entry
 *     would answer 1 for a mapping that is gone, spec 4.4); then it resumes
 *     and waits until every LPI left pending, enabled and targeted has been
 *     delivered (nothing lost, nothing hangs).
 *
 * MSI results must be what spec 4 allows: the reserved events 1 (or
 * -EBUSY while the case had the ITS disabled), others 1, 0, -EBUSY or
 * -EINVAL; signalMsi never throws.
 *
 * Sabotage (self-test): the stream may touch the reserved range, which
 * breaks conservation or the reserved MSIs' results.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type fc from 'fast-check';
import { createVm, type GicVm } from '../../create-vm.js';
import { EBUSY, EINVAL, errnoName } from '../../uapi/errno.js';
import { KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_VGIC_GRP_CTRL } from '../../uapi/kvm.js';
import { GITS_TRANSLATER } from '../../uapi/gits.js';
import { defaultItsBase } from '../../vgic/layout.js';
import { F_ENABLED, F_PENDING, L_REFS } from '../../vgic/vgic-state.js';
import { waitUntil } from '../../sync/wait.js';
import type { ItsSnapshot } from '../../vgic/its/its.js';
import { ConservationLedger, formatConservation } from '../conservation.js';
import { startLedgerStorm } from '../storm.js';
import { GUEST_READY, VmmChannel } from './channel.js';
import type { CommandsGuestArgs, CommandsReply } from './commands-guest.js';
import { streamArbitraries, type CommandsCase, type FuzzMsi, type StreamLayout } from './commands-stream.js';
import { count, FuzzFailure, resultName, type FuzzSession, type FuzzTarget, type FuzzTargetOptions } from './types.js';
import { bounded, destroyVm, expectHealthy, expectNoLocksHeld } from './vm-checks.js';

const GUEST = new URL('./commands-guest.js', import.meta.url).href;
const MiB = 0x10_0000;
const RAM_BASE = 0x4000_0000;
const RAM_BYTES = 32 * MiB;
/** vCPU n < NR_ITS drives ITS n; the others only handle interrupts. */
const NR_ITS = 2;
const NR_VCPUS = 4;
const CHANNELS = Array.from({ length: NR_ITS }, (_, n) => RAM_BASE + (8 + n) * MiB);
const RESERVED = { deviceId: 0xbeef, icid: 0x55, vcpu: 2, ittAddr: RAM_BASE + 12 * MiB, eventIdBits: 2, firstIntid: 8192 + 512, intids: 4 };
export const COMMANDS_LAYOUT: StreamLayout = {
  ramBase: RAM_BASE,
  ramEnd: RAM_BASE + RAM_BYTES,
  protect: { base: RAM_BASE, size: 16 * MiB },
  pool: { base: RAM_BASE + 16 * MiB, size: 16 * MiB },
  nrVcpus: NR_VCPUS,
  nrIts: NR_ITS,
  reserved: RESERVED,
  lpis: { first: 8192, count: 512 },
};
const doorbell = (its: number): number => defaultItsBase(its) + GITS_TRANSLATER;
const DOORBELL = doorbell(0);
/** Each MSI loop sends at least this many MSIs per case, however fast the guest is. */
const MIN_MSIS = 8;
const HANG_MS = 30_000;
/** Threads a fuzz VM may register in its life (injector threads come and go), and when the session starts a fresh one. */
const MAX_THREADS = 1024;
const THREAD_BUDGET = MAX_THREADS - 16;

function guestArgs(): CommandsGuestArgs {
  return {
    channels: CHANNELS,
    region: { base: RAM_BASE + 0x1_0000, size: 8 * MiB - 0x1_0000 },
    queueBytes: 0x1000,
    lpis: { first: 8192, count: 1024, disabledEvery: 7, priority: 0xa0 },
    protect: COMMANDS_LAYOUT.protect,
    reserved: {
      deviceId: RESERVED.deviceId, ittAddr: RESERVED.ittAddr, eventIdBits: RESERVED.eventIdBits, icid: RESERVED.icid, vcpu: RESERVED.vcpu,
      events: Array.from({ length: RESERVED.intids }, (_, e) => ({ eventId: e, intid: RESERVED.firstIntid + e })),
    },
  };
}

function msiAddress(m: FuzzMsi): number {
  return m.at === 'doorbell' ? doorbell(m.its) : m.at === 'frame' ? defaultItsBase(m.its) + m.offset : 0x1000 + (m.offset & ~0xfff);
}

const RESERVED_INTIDS = Array.from({ length: RESERVED.intids }, (_, e) => RESERVED.firstIntid + e);

class CommandsSession implements FuzzSession<CommandsCase> {
  private vm: GicVm | undefined;
  private ch: VmmChannel[] | undefined;
  /** The reserved LPIs' ledger, one per VM (its delivery counters never reset within one). */
  private ledger: ConservationLedger | undefined;
  readonly stats: Record<string, number> = {};

  async run(c: CommandsCase): Promise<void> {
    try {
      const { vm, ch, ledger } = await this.ensure();
      await runCase(vm, ch, c, ledger, this.stats);
      // Every injector thread takes a slot of the lock arena's thread registry for the VM's life: recycle before it fills.
      if (vm.rt.arena.threadCount() > THREAD_BUDGET) await this.close();
    } catch (e) {
      // Whatever state the VM is in now, the next case starts on a fresh one.
      await this.close().catch(() => {});
      throw e;
    }
  }

  async close(): Promise<void> {
    const vm = this.vm;
    this.vm = undefined;
    this.ch = undefined;
    if (vm !== undefined) await destroyVm(vm);
  }

  private async ensure(): Promise<{ vm: GicVm; ch: VmmChannel[]; ledger: ConservationLedger }> {
    if (this.vm !== undefined && this.ch !== undefined && this.ledger !== undefined) return { vm: this.vm, ch: this.ch, ledger: this.ledger };
    const vm = await createVm({
      vcpus: NR_VCPUS, memory: RAM_BYTES, lockStat: 'counts', validator: true, maxThreads: MAX_THREADS, gic: { its: NR_ITS },
      guest: { module: GUEST, args: guestArgs() },
    });
    this.vm = vm;
    const ledger = (this.ledger = ConservationLedger.create(RESERVED_INTIDS));
    count(this.stats, 'VMs');
    if ((await vm.start()) !== 0) throw new FuzzFailure('VM start failed');
    const ch = CHANNELS.map((gpa) => new VmmChannel(vm.rt.mem, gpa));
    for (const [n, x] of ch.entries()) {
      const st = await x.ready(HANG_MS);
      if (st !== GUEST_READY) {
        throw new FuzzFailure(`ITS ${n}'s driver guest did not come up: ${st === undefined ? 'timeout' : errnoName(st)}; ${JSON.stringify(vm.vcpuExit(n) ?? vm.faults)}`);
      }
    }
    this.ch = ch;
    return { vm, ch, ledger };
  }
}

async function call(ch: VmmChannel, req: unknown, what: string): Promise<CommandsReply> {
  const r = await ch.call<CommandsReply>(req, HANG_MS);
  if (r === undefined) throw new FuzzFailure(`hang: the guest did not finish ${what} within ${HANG_MS} ms`);
  if (r.violations.length > 0) throw new FuzzFailure(`${what}: ${r.violations.join('; ')}`);
  return r;
}

async function runCase(vm: GicVm, ch: VmmChannel[], c: CommandsCase, ledger: ConservationLedger, stats: Record<string, number>): Promise<void> {
  await Promise.all(ch.map((x, n) => call(x, { op: 'reset' }, `ITS ${n}'s reset`)));
  const g = vm.gic.vgic;
  // Only ITS 0's stream can make the reserved MSIs -EBUSY (by disabling ITS 0).
  const disabling = c.actions[0]!.some((a) => a.a === 'disabled' || a.a === 'cbaser');
  // An injector thread on some reserved events, recording into the same ledger until the stream is done;
  // started first (a worker takes a while to come up) so that its MSIs overlap the stream.
  const storm = c.injector.length === 0 ? undefined : startLedgerStorm(vm.gic.injectorHandle(), ledger.buffer,
    [c.injector.map((e) => ({ msi: { address: DOORBELL, data: e, devid: RESERVED.deviceId }, intid: RESERVED.firstIntid + e }))]);
  if (storm !== undefined && !(await waitUntil(() => storm.figures().sent > 0, HANG_MS))) {
    await storm.stop().catch(() => {});
    throw new FuzzFailure('the injector thread sent no MSI');
  }
  let done = false;
  // Every ITS's stream at once, from its own driver vCPU.
  const run = Promise.all(ch.map((x, n) => call(x, { op: 'run', actions: c.actions[n] ?? [] }, `ITS ${n}'s stream`))).finally(() => (done = true));
  run.catch(() => {}); // awaited below; the MSI loops must not leave it unhandled meanwhile

  const reservedMsis = async (): Promise<void> => {
    for (let i = 0; !done || i < MIN_MSIS; i++) {
      const e = i % RESERVED.intids;
      const intid = RESERVED.firstIntid + e;
      const before = ledger.totalDelivered(intid, g);
      const r = await vm.signalMsi({ address: DOORBELL, data: e, devid: RESERVED.deviceId });
      count(stats, `reserved MSI ${resultName(r)}`);
      if (r === 1) ledger.accepted(intid, before);
      else if (!(r === -EBUSY && disabling)) {
        throw new FuzzFailure(`MSI to reserved event ${e} returned ${resultName(r)}${r === -EBUSY ? ' though the ITS stayed enabled' : ': its translation changed'} (spec 4.2)`);
      }
      await yieldToLoop(); // a cache hit never leaves the microtask queue: let the reply's wake-up in
    }
  };
  const randomMsis = async (): Promise<void> => {
    if (c.msis.length === 0) return;
    for (let i = 0; !done || i < MIN_MSIS; i++) {
      const m = c.msis[i % c.msis.length]!;
      const r = await vm.signalMsi({ address: msiAddress(m), data: m.data, devid: m.devid, flags: m.flags });
      count(stats, `other MSI ${resultName(r)}`);
      if (![1, 0, -EBUSY, -EINVAL].includes(r)) throw new FuzzFailure(`MSI ${JSON.stringify(m)} returned ${r} (spec 4.2 allows 1, 0, -EBUSY, -EINVAL)`);
      await yieldToLoop();
    }
  };
  const injected = async (): Promise<void> => {
    if (storm === undefined) return;
    await run.catch(() => {});
    const f = await storm.stop();
    count(stats, 'injector MSIs', f.sent);
    if (f.refused > 0 && !(disabling && f.firstError === -EBUSY)) {
      throw new FuzzFailure(`the injector's MSIs to reserved events were refused ${f.refused} times (first: ${resultName(f.firstError)}${f.firstError === 0 ? ': a translation changed' : ''})`);
    }
  };
  const msis = Promise.all([reservedMsis(), randomMsis(), injected()]);
  const [replies] = await Promise.all([run, msis]).finally(() => storm?.stop().catch(() => {}));
  for (const r of replies) {
    count(stats, 'commands written', r.commands);
    count(stats, 'CWRITER stores', r.publishes);
  }
  for (const a of c.actions.flat()) count(stats, `action ${a.a}`);

  if ((await bounded(vm.pause(), 'pause', HANG_MS)) !== 0) throw new FuzzFailure('pause after the stream failed');
  expectHealthy(vm, 'after the stream');
  expectNoLocksHeld(vm, 'paused after the stream');
  const cons = ledger.check(g);
  count(stats, 'conservation checks');
  if (cons.lost > 0 || cons.phantom > 0) throw new FuzzFailure(`conservation of the reserved LPIs: ${formatConservation(cons)}`);
  const snaps = await Promise.all(vm.gic.its.map((its) => its.snapshot()));
  checkRefcounts(vm, snaps);
  for (const [n, snap] of snaps.entries()) {
    const orphan = snap.devices.some((d) => d.ites.some((e) => e.icid === null));
    const saved = await bounded(vm.gic.its[n]!.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_SAVE_TABLES), 'SAVE_TABLES', HANG_MS);
    if (saved !== (orphan ? -EINVAL : 0)) {
      throw new FuzzFailure(`SAVE_TABLES of ITS ${n} returned ${errnoName(saved)}, expected ${orphan ? '-EINVAL (an ITE lost its collection)' : '0'}`);
    }
    count(stats, `SAVE_TABLES ${resultName(saved)}`);
    await checkTranslation(vm, n, snap, c, ledger, stats);
    count(stats, 'devices at the end', snap.devices.length);
    count(stats, 'ITEs at the end', snap.devices.reduce((k, d) => k + d.ites.length, 0));
  }
  expectNoLocksHeld(vm, 'after SAVE_TABLES');
  if ((await vm.resume()) !== 0) throw new FuzzFailure('resume failed');
  // Nothing lost: every LPI left pending, enabled and targeted reaches its vCPU (all run an interrupt handler).
  const stuck = () => g.lpis().filter((intid) => (g.lpiFlags(intid) & (F_PENDING | F_ENABLED)) === (F_PENDING | F_ENABLED) && g.lpiTarget(intid) >= 0);
  count(stats, 'pending LPIs to deliver after the stream', stuck().length);
  if (!(await waitUntil(() => stuck().length === 0, HANG_MS))) {
    throw new FuzzFailure(`LPIs ${stuck().join(', ')} stayed pending and enabled for ${HANG_MS} ms, their targets handling interrupts`);
  }
  expectHealthy(vm, 'after the case');
}

/** Every LPI is referenced exactly by the ITEs (of every ITS) naming it: no reference leaked or dropped by a command or its failure. */
function checkRefcounts(vm: GicVm, snaps: ItsSnapshot[]): void {
  const uses = new Map<number, number>();
  for (const snap of snaps) for (const d of snap.devices) for (const e of d.ites) uses.set(e.intid, (uses.get(e.intid) ?? 0) + 1);
  const st = vm.gic.st;
  for (const intid of new Set([...uses.keys(), ...vm.gic.vgic.lpis()])) {
    const refs = Atomics.load(st.i32, st.lpi(intid) + L_REFS);
    if (refs !== (uses.get(intid) ?? 0)) throw new FuzzFailure(`LPI ${intid} has ${refs} references for ${uses.get(intid) ?? 0} ITEs`);
  }
}

/**
 * With the VM paused and the stream done, an MSI must answer what the
 * translation says (spec 4.2): -EBUSY with the ITS disabled; 1 for an ITE
 * whose collection is mapped to a vCPU (all have LPIs enabled); 0 otherwise.
 * Probes every ITE left, the case's MSI targets and a few unmapped IDs.
 */
async function checkTranslation(vm: GicVm, its: number, snap: ItsSnapshot, c: CommandsCase, ledger: ConservationLedger,
  stats: Record<string, number>): Promise<void> {
  const target = new Map(snap.collections.map((x) => [x.icid, x.target]));
  const ites = new Map<string, number | null>(snap.devices.flatMap((d) => d.ites.map((e) => [`${d.deviceId}/${e.eventId}`, e.icid] as const)));
  const probes = new Map<string, [number, number]>();
  for (const d of snap.devices) for (const e of d.ites) probes.set(`${d.deviceId}/${e.eventId}`, [d.deviceId, e.eventId]);
  for (const m of c.msis) if (m.its === its) probes.set(`${m.devid >>> 0}/${m.data >>> 0}`, [m.devid >>> 0, m.data >>> 0]);
  for (let d = 0; d < 4; d++) for (let e = 0; e < 4; e++) probes.set(`${d}/${e}`, [d, e]);
  for (const [key, [devid, data]] of probes) {
    const icid = ites.get(key);
    const t = icid === undefined || icid === null ? undefined : target.get(icid);
    const want = !snap.enabled ? -EBUSY : t !== undefined && t < NR_VCPUS ? 1 : 0;
    const reserved = its === 0 && devid === RESERVED.deviceId && data < RESERVED.intids ? RESERVED.firstIntid + data : undefined;
    const before = reserved === undefined ? 0 : ledger.totalDelivered(reserved, vm.gic.vgic);
    const r = await vm.signalMsi({ address: doorbell(its), data, devid });
    if (reserved !== undefined && r === 1) ledger.accepted(reserved, before); // the ledger's LPIs: every accepted MSI counts
    count(stats, 'translation probes');
    if (r !== want) {
      throw new FuzzFailure(`after the streams, an MSI to ITS ${its} device ${devid} event ${data} returned ${resultName(r)}; the translation (${icid === undefined ? 'no ITE' : `ITE in collection ${icid}, target ${t}`}${snap.enabled ? '' : ', ITS disabled'}) says ${resultName(want)} (spec 4.2, 4.4)`);
    }
  }
}

export const commandsTarget: FuzzTarget<CommandsCase> = {
  name: 'commands',
  arbitrary: (o: FuzzTargetOptions): fc.Arbitrary<CommandsCase> =>
    streamArbitraries(COMMANDS_LAYOUT, { touchReserved: o.sabotage === true }).stream,
  open: (): FuzzSession<CommandsCase> => new CommandsSession(),
};
