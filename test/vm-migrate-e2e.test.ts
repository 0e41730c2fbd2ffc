/**
 * Migration end to end on real VMs (spec 5.6, 6.4, 8, 9.26, 9.29): a source
 * running its own ITS driver with interrupts left pending at pause (a vCPU
 * that never acknowledges, a masked LPI), saved in QEMU's order and restored
 * into a new VM whose guests handle interrupts and unmask the masked LPI with
 * INV. Then the documented order against wrong ones, each producing the
 * difference the spec predicts, and the 2017 map_resources blind spot.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  compareTranslation, createVmForSnapshot, loadRam, loadResults, restoreItsCtlr, restoreItsRegisters, restoreItsTables,
  restoreRedistributors, restoreVm, setItsBases, translationView, V7_2017, type GicVm, type VmSnapshot,
} from '../dist/src/index.js';
import * as u from '../dist/src/uapi/index.js';
import { handled, itsStats, lpi, pendBit, VM_GUEST, waitHandled } from './helpers/vm-boot.js';
import { DEST_ARGS, makeSource, msi, PENDING_AT_PAUSE, type Source } from './helpers/vm-migrate.js';

const GRP_CTRL = u.KVM_DEV_ARM_VGIC_GRP_CTRL;

let vms: GicVm[] = [];
const track = (vm: GicVm) => vms.push(vm);
afterEach(async () => {
  await Promise.all(vms.map((vm) => vm.destroy()));
  vms = [];
});

const DEST_GUEST = { module: VM_GUEST, args: DEST_ARGS };

describe('migration with running guests', () => {
  it('5.6/6.4/9.26 migration: LPIs pending at pause are delivered exactly once after resume on the destination; fresh MSIs keep working; source and destination are translation-equivalent', async () => {
    const src = await makeSource(track);
    // SAVE_PENDING_TABLES wrote the latches into the source's pending tables (carried in RAM).
    for (const p of PENDING_AT_PAUSE) expect(pendBit(src.vm, p.vcpu, p.intid), `source pending bit of ${p.intid}`).toBe(true);

    const dst = await restoreVm(src.snap, { guest: DEST_GUEST, start: false });
    track(dst);
    for (let v = 0; v < 2; v++) expect(dst.vcpuCounters(v).entries).toBe(0);
    // Source (paused) vs destination (restored, not started): same mappings, collections, LPI config and pending state.
    expect(compareTranslation(src.view, await translationView(dst.gic))).toEqual([]);
    expect(src.view.its.map((i) => i.mappings.length)).toEqual([4, 2]);
    // RESTORE_TABLES consumed the pending bits it turned into latches (9.26).
    for (const p of PENDING_AT_PAUSE) {
      expect(lpi(dst, p.intid)).toMatchObject({ pending: true, target: p.vcpu });
      expect(pendBit(dst, p.vcpu, p.intid), `destination pending bit of ${p.intid}`).toBe(false);
    }
    // The guests' counters came along: LPI 8194 was handled once, on the source.
    expect(handled(dst, 0, 8194)).toBe(1);

    expect(await dst.start()).toBe(0);
    await waitHandled(dst, 1, 8192, 1);
    await waitHandled(dst, 1, 8200, 1);
    await waitHandled(dst, 0, 8193, 1); // after the destination guest's unmask + INV

    // Fresh MSIs, through both ITSs, to both vCPUs; each after the migrated one was handled, so nothing coalesces.
    expect(await msi(dst, 0, 7, 0)).toBe(1);
    expect(await msi(dst, 0, 7, 2)).toBe(1);
    expect(await msi(dst, 0, 7, 3)).toBe(1);
    expect(await msi(dst, 1, 9, 0)).toBe(1);
    expect(await msi(dst, 1, 9, 1)).toBe(1);
    await waitHandled(dst, 1, 8192, 2);
    await waitHandled(dst, 0, 8194, 2);
    await waitHandled(dst, 1, 8195, 1);
    await waitHandled(dst, 1, 8200, 2);
    await waitHandled(dst, 0, 8201, 1);
    // A last round trip through each vCPU: anything still queued would have been acknowledged before it.
    expect(await msi(dst, 0, 7, 3)).toBe(1);
    expect(await msi(dst, 1, 9, 1)).toBe(1);
    await waitHandled(dst, 1, 8195, 2);
    await waitHandled(dst, 0, 8201, 2);

    const counts = (v: number, intids: number[]) => Object.fromEntries(intids.map((i) => [i, handled(dst, v, i)]));
    // Exactly once each: migrated (8192, 8193, 8200) once + fresh; 8194 once on the source + once fresh.
    expect(counts(0, [8193, 8194, 8201])).toEqual({ 8193: 1, 8194: 2, 8201: 2 });
    expect(counts(1, [8192, 8195, 8200])).toEqual({ 8192: 2, 8195: 2, 8200: 2 });
    expect([dst.results(0)[0], dst.results(1)[0]]).toEqual([5, 6]);
    for (const i of [8192, 8193, 8194, 8195, 8200, 8201]) expect(lpi(dst, i).pending, `LPI ${i} pending`).toBe(false);
    expect(dst.gic.vgic.delivered(8192)).toBe(2);
    expect(dst.gic.vgic.delivered(8193)).toBe(1);
    expect(dst.vcpuExit(0)).toBeUndefined(); // the unmask step succeeded and vCPU 0 is in its handler loop
    expect([...src.vm.faults, ...dst.faults]).toEqual([]);
  });
});

describe('restore order (the destination steps one by one)', () => {
  let src: Source;
  const sources: GicVm[] = [];
  beforeAll(async () => {
    src = await makeSource((vm) => sources.push(vm));
  });
  afterAll(async () => {
    await Promise.all(sources.map((vm) => vm.destroy()));
  });

  /** Destination up to the ITS registers: VM + vCPUs, RAM, results, redistributors, ITS bases. */
  async function destination(s: VmSnapshot = src.snap): Promise<GicVm> {
    const vm = await createVmForSnapshot(s, DEST_GUEST);
    track(vm);
    loadRam(vm, s);
    loadResults(vm, s);
    await restoreRedistributors(vm, s);
    await setItsBases(vm, s);
    return vm;
  }

  it('6.4 documented order: the ITS processes no command during restore and the view is equivalent', async () => {
    const vm = await destination();
    await restoreItsRegisters(vm, src.snap);
    expect(await msi(vm, 0, 7, 2), 'ITS still disabled: the MSI is refused, not lost').toBe(-u.EBUSY);
    expect(await restoreItsTables(vm)).toEqual([0, 0]);
    await restoreItsCtlr(vm, src.snap);
    for (const n of [0, 1]) {
      const st = await itsStats(vm, n);
      expect(st).toMatchObject({ processed: 0, enabled: true });
      expect(st.creadr).toBe(st.cwriter);
      expect(st.cwriter).toBe(Number(BigInt(src.snap.header.its[n]!.cwriter)));
    }
    expect(compareTranslation(src.view, await translationView(vm.gic))).toEqual([]);
  });

  it('6.4 wrong order, GITS_CTLR before RESTORE_TABLES: the ITS is live with no translations, so an MSI in between is accepted and lost (0, 9.7) instead of refused (-EBUSY, 9.6)', async () => {
    const vm = await destination();
    await restoreItsRegisters(vm, src.snap);
    await restoreItsCtlr(vm, src.snap);
    const early = await translationView(vm.gic);
    expect(early.its.map((i) => ({ enabled: i.enabled, mappings: i.mappings.length, collections: i.collections.length })))
      .toEqual([{ enabled: true, mappings: 0, collections: 0 }, { enabled: true, mappings: 0, collections: 0 }]);
    expect(compareTranslation(src.view, early).filter((d) => d.kind === 'mapping')).toHaveLength(6);
    expect(await msi(vm, 0, 7, 2)).toBe(0); // dropped: no ITE yet
    expect(await msi(vm, 1, 9, 1)).toBe(0);
    // The tables still restore (KVM does not refuse RESTORE_TABLES on an enabled ITS)...
    expect(await restoreItsTables(vm)).toEqual([0, 0]);
    expect(compareTranslation(src.view, await translationView(vm.gic))).toEqual([]);
    // ...but the two MSIs left no trace: nothing pending that the source did not have.
    expect(lpi(vm, 8194).pending).toBe(false);
    expect(lpi(vm, 8201).pending).toBe(false);
  });

  it('6.4/9.24 wrong order, GITS_CTLR before RESTORE_TABLES with CREADR not restored: the replayed MAPCs collide with the collection table (-EEXIST) and the ITS loses its collections', async () => {
    const vm = await destination();
    await restoreItsRegisters(vm, src.snap, ['creadr']);
    await restoreItsCtlr(vm, src.snap);
    const replayed = await itsStats(vm, 0);
    expect(replayed.processed).toBe(Number(BigInt(src.snap.header.its[0]!.cwriter)) / 32);
    expect(await restoreItsTables(vm)).toEqual([-u.EEXIST, -u.EEXIST]);
    const view = await translationView(vm.gic);
    expect(view.its.map((i) => i.collections)).toEqual([[], []]);
    expect(compareTranslation(src.view, view).filter((d) => d.kind === 'collection')).toHaveLength(4);
  });

  it('9.29 wrong order, CREADR not restored: enabling replays the whole queue; the replayed MAPDs drop the restored pending state, which is then never delivered', async () => {
    const vm = await destination();
    await restoreItsRegisters(vm, src.snap, ['creadr']);
    expect(await restoreItsTables(vm)).toEqual([0, 0]);
    const before = compareTranslation(src.view, await translationView(vm.gic));
    expect(before.map((d) => d.where), 'equivalent but for the enable bits until GITS_CTLR').toEqual(['ITS 0 enabled', 'ITS 1 enabled']);
    await restoreItsCtlr(vm, src.snap);
    for (const n of [0, 1]) {
      const cwriter = Number(BigInt(src.snap.header.its[n]!.cwriter));
      expect(cwriter).toBeGreaterThan(0);
      // GITS_CTLR.Enable drained [0, CWRITER): every command the source's guest ever issued ran again.
      expect(await itsStats(vm, n)).toMatchObject({ processed: cwriter / 32, creadr: cwriter, cwriter });
    }
    // MAPD on a mapped device drops its ITEs (9.20): the LPIs restored pending are freed, and the
    // replayed MAPTIs recreate them from pending tables whose bits RESTORE_TABLES already consumed.
    const diff = compareTranslation(src.view, await translationView(vm.gic));
    expect(diff.map((d) => d.where).sort()).toEqual(PENDING_AT_PAUSE.map((p) => `LPI ${p.intid}`).sort());
    for (const d of diff) expect([(d.a as { pending: boolean }).pending, (d.b as { pending: boolean }).pending]).toEqual([true, false]);
    // Resumed, vCPU 1 handles a fresh LPI 8195 but never the migrated 8192/8200 (same priority, lower
    // INTIDs: had they been pending they would have been acknowledged first).
    expect(await vm.start()).toBe(0);
    expect(await msi(vm, 0, 7, 3)).toBe(1);
    await waitHandled(vm, 1, 8195, 1);
    expect([handled(vm, 1, 8192), handled(vm, 1, 8200)]).toEqual([0, 0]);
  });

  for (const policy of ['first-run', 'base-address'] as const) {
    it(`8 ${policy} + v7-2017: RESTORE_TABLES on ITS 0 calls map_resources; ITS 1, whose base is set afterwards, ${policy === 'first-run' ? 'stays unreachable (-EINVAL)' : 'works'}`, async () => {
      const h = src.snap.header;
      const s: VmSnapshot = { ...src.snap, header: { ...h, vm: { ...h.vm, gic: { ...h.vm.gic, iodevRegistration: policy, lockProtocol: V7_2017 } } } };
      const only = (n: number): VmSnapshot => ({ ...s, header: { ...s.header, its: [s.header.its[n]!] } });
      const vm = await createVmForSnapshot(s, DEST_GUEST);
      track(vm);
      expect(vm.gic.shared).toMatchObject({ iodevRegistration: policy, lockProtocol: { name: 'v7-2017', restoreCallsMapResources: true } });
      loadRam(vm, s);
      loadResults(vm, s);
      await restoreRedistributors(vm, s);
      // ITS 0 first: base, registers, tables, CTLR.
      await setItsBases(vm, only(0));
      await restoreItsRegisters(vm, only(0));
      expect(vm.rt.bus.ready()).toBe(false);
      expect(await msi(vm, 0, 7, 2)).toBe(policy === 'first-run' ? -u.EINVAL : -u.EBUSY);
      expect(await vm.gic.its[0]!.setAttr(GRP_CTRL, u.KVM_DEV_ARM_ITS_RESTORE_TABLES)).toBe(0);
      expect(vm.rt.bus.ready(), 'the v7 restore ran map_resources').toBe(true);
      await restoreItsCtlr(vm, only(0));
      expect(await msi(vm, 0, 7, 2)).toBe(1); // before any vCPU has run
      // ITS 1 afterwards: everything succeeds...
      await setItsBases(vm, only(1));
      await restoreItsRegisters(vm, only(1));
      expect(await vm.gic.its[1]!.setAttr(GRP_CTRL, u.KVM_DEV_ARM_ITS_RESTORE_TABLES)).toBe(0);
      await restoreItsCtlr(vm, only(1));
      const view = await translationView(vm.gic);
      expect(compareTranslation(src.view, view).filter((d) => d.kind !== 'lpi')).toEqual([]);
      // ...but under 'first-run' its frame was registered deferred after the one map_resources call.
      const expected = policy === 'first-run' ? -u.EINVAL : 1;
      expect(await msi(vm, 1, 9, 1)).toBe(expected);
      expect(await vm.start()).toBe(0);
      await waitHandled(vm, 0, 8194, 2);
      expect(await msi(vm, 1, 9, 1), 'after the first vCPU run too').toBe(expected);
      if (policy === 'base-address') await waitHandled(vm, 0, 8201, 1);
      else expect(lpi(vm, 8201).pending).toBe(false);
    });
  }
});
