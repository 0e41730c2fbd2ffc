/**
 * `vgic-lab demo` (npm start): a 4-vCPU VM with two ITSs. vCPU 0 runs a guest
 * ITS driver that maps two devices (one per ITS) to collections on every
 * vCPU; all vCPUs then handle LPIs. Injector threads fire an MSI burst; the
 * demo prints per-vCPU deliveries and shows the lock step of SAVE_TABLES
 * (lockAllVcpus) failing with -EBUSY while vCPUs run and succeeding paused,
 * then lock_stat.
 */
import { createVm } from '../create-vm.js';
import { SETUP_MAILBOX_GPA } from '../guest/alloc.js';
import { MAILBOX_LPIS_ENABLED, MAILBOX_STATE, SETUP_DONE } from '../guest/handshake.js';
import { waitForWord } from '../sync/wait.js';
import { errnoName } from '../uapi/errno.js';
import { runInjectors } from '../vgic/injectors.js';
import { defaultItsBase } from '../vgic/layout.js';
import { F_PENDING } from '../vgic/vgic-state.js';
import { ns, table } from './format.js';

const VCPUS = 4;
const EVENTS = 16;
const ROUNDS = 500;

export async function run(_argv: string[]): Promise<number> {
  const out = (s = '') => process.stdout.write(`${s}\n`);
  // Device 1 on ITS 0 -> LPIs 8192.., device 2 on ITS 1 -> LPIs 8192+16..; event e goes to collection (vCPU) e % 4.
  const devices = [0, 1].map((its) => ({
    its, deviceId: its + 1, eventIdBits: 4,
    events: Array.from({ length: EVENTS }, (_, e) => ({ eventId: e, intid: 8192 + its * EVENTS + e, icid: e % VCPUS })),
  }));
  const vm = await createVm({
    vcpus: VCPUS,
    gic: { its: 2 },
    guest: { module: 'its-setup', args: { its: [0, 1], devices, handle: true } },
  });
  try {
    out(`vgic-lab demo: ${VCPUS} vCPUs (worker threads), 2 ITS actors, a distributor actor`);
    await vm.start();
    const mailbox = vm.rt.mem.atomics32(SETUP_MAILBOX_GPA, 4)!;
    const ready = await waitForWord(mailbox, MAILBOX_STATE, (v) => v === SETUP_DONE || v < 0) &&
      await waitForWord(mailbox, MAILBOX_LPIS_ENABLED, (v) => v >= VCPUS);
    if (!ready || Atomics.load(mailbox, MAILBOX_STATE) !== SETUP_DONE) {
      out(`guest ITS setup failed (mailbox state ${Atomics.load(mailbox, MAILBOX_STATE)}); faults: ${JSON.stringify(vm.faults)}`);
      return 1;
    }
    out(`  guest driver on vCPU 0: tables programmed, both ITSs enabled, ${devices.length * EVENTS} events mapped, LPIs enabled on ${VCPUS} redistributors`);

    const busy = await vm.lockAllVcpus();
    out(`  lockAllVcpus() while vCPUs run -> ${busy === 0 ? '0' : errnoName(busy)}   (a vCPU in KVM_RUN, even in WFI, holds its vcpu.mutex)`);
    if (busy === 0) vm.unlockAllVcpus();

    const plans = devices.map((d) => ({
      rounds: ROUNDS,
      msis: d.events.map((e) => ({ address: defaultItsBase(d.its) + 0x1_0040, data: e.eventId, devid: d.deviceId })),
    }));
    const t0 = performance.now();
    const inj = await runInjectors(vm.gic.injectorHandle(), plans);
    const ms = performance.now() - t0;
    const sent = inj.reduce((a, r) => a + r.delivered, 0);
    out(`  MSI burst: ${inj.length} injector threads sent ${sent.toLocaleString('en-US')} MSIs in ${ms.toFixed(0)} ms ` +
      `(${Math.round(sent / (ms / 1000)).toLocaleString('en-US')}/s); every signalMsi returned 1: ${inj.every((r) => r.blocked === 0 && r.errors === 0)}`);

    // Wait until nothing is left pending: an LPI signalled while still pending coalesces (edge latch).
    const lpis = devices.flatMap((d) => d.events.map((e) => e.intid));
    const drained = await waitForWord(new Int32Array(1), 0, () => lpis.every((i) => (vm.gic.vgic.lpiFlags(i) & F_PENDING) === 0));
    const handled = Array.from({ length: VCPUS }, (_, v) => vm.results(v)[0]!);
    out(`  delivered to the guests: ${handled.reduce((a, b) => a + b, 0).toLocaleString('en-US')} LPIs (${drained ? 'all drained' : 'still pending!'}; ` +
      `the rest coalesced while pending)`);
    out(table(['vCPU', 'LPIs handled', 'wake-ups (WFI)', 'MMIO exits'], handled.map((h, v) => [v, h, vm.vcpuCounters(v).wfi, vm.vcpuCounters(v).mmioExits])));

    await vm.pause();
    const ok = await vm.lockAllVcpus();
    out(`  after pause(): lockAllVcpus() -> ${ok === 0 ? '0' : errnoName(ok)}   (kvm.lock + every vcpu.mutex held: SAVE_TABLES could run now)`);
    if (ok === 0) vm.unlockAllVcpus();
    out();
    out('lock statistics (lock_stat):');
    out(table(
      ['class', 'instances', 'acquisitions', 'contentions', 'trylock fails', 'wait max', 'hold max'],
      vm.lockStats().map((c) => [c.className, c.instances, c.acquisitions, c.contentions, c.trylockFailures, ns(c.waitMaxNs), ns(c.holdMaxNs)]),
    ));
    const faults = vm.faults.length;
    if (faults) out(`faults: ${JSON.stringify(vm.faults)}`);
    return busy !== 0 && ok === 0 && drained && faults === 0 ? 0 : 1;
  } finally {
    await vm.destroy();
  }
}
