/**
 * `vgic-lab demo` (npm start): a 4-vCPU VM with two ITSs. vCPU 0 runs a guest
 * ITS driver that maps two devices (one per ITS) to collections on every
 * vCPU; all vCPUs then handle LPIs. Injector threads fire an MSI burst; the
 * demo prints per-vCPU deliveries, shows SAVE_TABLES failing with -EBUSY
 * while vCPUs run, pauses, migrates into a new VM (checking translation
 * equivalence), sends MSIs there, and prints lock_stat.
 */
import { createVm } from '../create-vm.js';
import { encodeSnapshot } from '../migrate/snapshot.js';
import { restoreVm, saveVm } from '../migrate/steps.js';
import { KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_VGIC_GRP_CTRL } from '../uapi/kvm.js';
import { compareTranslation, formatDifferences, translationView } from '../vgic/equivalence.js';
import { waitForItsSetup } from '../guest/setup-wait.js';
import { waitUntil } from '../sync/wait.js';
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
    const setup = await waitForItsSetup(vm);
    if (setup !== 0) {
      out(`guest ITS setup failed (${errnoName(setup)}); faults: ${JSON.stringify(vm.faults)}`);
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
    const drained = await waitUntil(() => lpis.every((i) => (vm.gic.vgic.lpiFlags(i) & F_PENDING) === 0));
    const handled = Array.from({ length: VCPUS }, (_, v) => vm.results(v)[0]!);
    out(`  delivered to the guests: ${handled.reduce((a, b) => a + b, 0).toLocaleString('en-US')} LPIs (${drained ? 'all drained' : 'still pending!'}; ` +
      `the rest coalesced while pending)`);
    out(table(['vCPU', 'LPIs handled', 'wake-ups (WFI)', 'MMIO exits'], handled.map((h, v) => [v, h, vm.vcpuCounters(v).wfi, vm.vcpuCounters(v).mmioExits])));

    const early = await vm.gic.its[0]!.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_SAVE_TABLES);
    out(`  SAVE_TABLES while vCPUs run -> ${errnoName(early)}   (upstream lock order: kvm.lock, then trylock of every vcpu.mutex fails)`);

    await vm.pause();
    const ok = await vm.lockAllVcpus();
    out(`  after pause(): lockAllVcpus() -> ${ok === 0 ? '0' : errnoName(ok)}   (kvm.lock + every vcpu.mutex held)`);
    if (ok === 0) vm.unlockAllVcpus();

    // Migration in QEMU's order: SAVE_TABLES per ITS, SAVE_PENDING_TABLES, registers, RAM.
    const t1 = performance.now();
    const snap = await saveVm(vm);
    const bytes = encodeSnapshot(snap).length;
    const before = await translationView(vm.gic);
    const dst = await restoreVm(snap, { guest: { module: 'lpi-handler', args: { waitForSetup: false } }, start: false });
    let verdict = '';
    let delivered = 0;
    try {
      const after = await translationView(dst.gic);
      const diff = compareTranslation(before, after);
      verdict = formatDifferences(diff);
      out(`  migrate: saved ${before.its.reduce((a, i) => a + i.mappings.length, 0)} mappings on ${before.its.length} ITSs, ` +
        `snapshot ${(bytes / 2 ** 20).toFixed(1)} MiB, restored into a new VM in ${(performance.now() - t1).toFixed(0)} ms`);
      out(`  equivalence check (source paused vs destination before start): ${verdict}`);
      await dst.start();
      const results = await Promise.all(devices.flatMap((d) => d.events.map((e) =>
        dst.signalMsi({ address: defaultItsBase(d.its) + 0x1_0040, data: e.eventId, devid: d.deviceId }))));
      delivered = results.filter((r) => r === 1).length;
      const base = snap.header.results.reduce((a, r) => a + r[0]!, 0);
      await waitUntil(() => Array.from({ length: VCPUS }, (_, v) => dst.results(v)[0]!).reduce((a, b) => a + b, 0) >= base + delivered);
      out(`  on the destination: ${delivered}/${results.length} MSIs delivered (signalMsi -> 1), ` +
        `handled by vCPUs ${Array.from({ length: VCPUS }, (_, v) => dst.results(v)[0]! - snap.header.results[v]![0]!).join('/')}`);
    } finally {
      await dst.destroy();
    }
    out();
    out('lock statistics of the source VM (lock_stat):');
    out(table(
      ['class', 'instances', 'acquisitions', 'contentions', 'trylock fails', 'wait max', 'hold max'],
      vm.lockStats().map((c) => [c.className, c.instances, c.acquisitions, c.contentions, c.trylockFailures, ns(c.waitMaxNs), ns(c.holdMaxNs)]),
    ));
    const faults = vm.faults.length;
    if (faults) out(`faults: ${JSON.stringify(vm.faults)}`);
    return busy !== 0 && early !== 0 && ok === 0 && drained && faults === 0 && verdict === 'equivalent' && delivered === lpis.length ? 0 : 1;
  } finally {
    await vm.destroy();
  }
}
