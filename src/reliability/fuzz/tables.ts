/**
 * Fuzz target 'tables': RESTORE_TABLES fed with generated and mutated table
 * images (tables-image.ts) through the device-attribute API, on a VM whose
 * vCPUs are paused (a real VM: ITS and distributor actors, the lock
 * protocol). ITS 1 keeps live mappings whose LPIs the images share, so a
 * restore must leave another ITS's state alone. Per case, on ITS 0:
 *
 *  1. CTRL_RESET, then the image in guest RAM, then the documented register
 *     sequence (spec 6.4: CBASER, CWRITER, CREADR, BASERs, IIDR);
 *  2. RESTORE_TABLES returns 0 or one of the errnos spec 5.4 lists for it
 *     (-EINVAL, -EEXIST, -EFAULT, -ENOMEM; -EBUSY only while a vCPU runs,
 *     spec 9.1), and exactly what the reference restore (tables-oracle.ts)
 *     returns; it never throws;
 *  3. all or nothing: after an error the translation (translationView) is
 *     the pre-restore one (ITS 0 empty, ITS 1 and every LPI as before);
 *     after 0 it is the pre-restore one plus what the reference read from
 *     the image; every LPI's reference count equals the ITEs naming it;
 *  4. an unmutated image restores to exactly what the configuration
 *     describes, and SAVE_TABLES + SAVE_PENDING_TABLES + CTRL_RESET +
 *     RESTORE_TABLES brings the same state back; once enabled, its MSIs
 *     translate (1, or 0 for an unmapped collection);
 *  5. no fault, no lock held, no lock-order finding (the validator is on).
 * Modes: restoring while the vCPUs run (-EBUSY, nothing changes), and
 * restoring twice (the second restore meets its own state).
 *
 * Sabotage (self-test): the reference takes an empty ITE slot for an error.
 */
import type fc from 'fast-check';
import { createVm, type GicVm } from '../../create-vm.js';
import { waitForItsSetup } from '../../guest/setup-wait.js';
import { waitUntil } from '../../sync/wait.js';
import { EBUSY, EEXIST, EFAULT, EINVAL, ENOMEM, errnoName } from '../../uapi/errno.js';
import { makeGitsCbaser } from '../../uapi/gic-fields.js';
import { GITS_CBASER, GITS_CREADR, GITS_CTLR, GITS_CWRITER, GITS_IIDR, GITS_TRANSLATER, gitsBaserOffset, gitsIidrValue } from '../../uapi/gits.js';
import {
  KVM_DEV_ARM_ITS_CTRL_RESET, KVM_DEV_ARM_ITS_RESTORE_TABLES, KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_VGIC_GRP_CTRL,
  KVM_DEV_ARM_VGIC_GRP_ITS_REGS, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES,
} from '../../uapi/kvm.js';
import { COLLECTION_NOT_MAPPED, compareTranslation, formatDifferences, translationView, type TranslationView } from '../../vgic/equivalence.js';
import type { ItsDevice } from '../../vgic/its-device.js';
import { defaultItsBase } from '../../vgic/layout.js';
import { L_REFS } from '../../vgic/vgic-state.js';
import { referenceRestore, type RamReader, type RefResult } from './tables-oracle.js';
import {
  imagePlaces, mutate, tablesCaseArbitrary, writeImage, type ImageConfig, type ImageLayout, type TablesCase, type WrittenImage,
} from './tables-image.js';
import { count, FuzzFailure, resultName, type FuzzSession, type FuzzTarget, type FuzzTargetOptions } from './types.js';
import { bounded, destroyVm, expectHealthy, expectNoLocksHeld } from './vm-checks.js';

const MiB = 0x10_0000;
const RAM_BASE = 0x4000_0000;
const RAM_BYTES = 32 * MiB;
const NR_VCPUS = 2;
const HANG_MS = 30_000;
export const TABLES_LAYOUT: ImageLayout = { ramEnd: RAM_BASE + RAM_BYTES, area: RAM_BASE + 16 * MiB, nrVcpus: NR_VCPUS };
/** ITS 1's live mappings: device 3, events 0..7 -> LPIs 8192..8199 (the range images use most), collection e % 2. */
const ITS1_DEVICE = { its: 1, deviceId: 3, events: Array.from({ length: 8 }, (_, e) => ({ eventId: e, intid: 8192 + e, icid: e % 2 })) };
/** Spec 5.4: what RESTORE_TABLES may return (besides 0) when it gets to run (-EBUSY: a vCPU was running). */
const RESTORE_ERRNOS = [-EINVAL, -EEXIST, -EFAULT, -ENOMEM];
const GRP_CTRL = KVM_DEV_ARM_VGIC_GRP_CTRL, GRP_REGS = KVM_DEV_ARM_VGIC_GRP_ITS_REGS;

function ramReader(vm: GicVm): RamReader {
  const mem = vm.rt.mem;
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  return {
    read64: (gpa) => (mem.readInto(gpa, b) === 0 ? dv.getBigUint64(0, true) : undefined),
    read8: (gpa) => { const v = mem.read8(gpa); return v < 0 ? undefined : v; },
  };
}

async function ok(p: Promise<number>, what: string, want = 0): Promise<void> {
  const r = await bounded(p, what, HANG_MS);
  if (r !== want) throw new FuzzFailure(`${what} returned ${errnoName(r)}, expected ${errnoName(want)}`);
}

/** The translation `pre` turns into after a restore the reference describes (all or nothing). */
function expectedView(pre: TranslationView, ref: RefResult): TranslationView {
  const [its0, ...others] = pre.its;
  if (ref.ret !== 0) {
    const kept = new Set(others.flatMap((i) => i.mappings.map((m) => m.intid)));
    return { its: [{ ...its0!, collections: [], mappings: [] }, ...others], lpis: pre.lpis.filter((l) => kept.has(l.intid)) };
  }
  const target = new Map([...its0!.collections, ...ref.collections].map((c) => [c.icid, c.target]));
  const mappings = [...its0!.mappings, ...ref.devices.flatMap((d) => d.ites.map((e) => {
    const t = target.get(e.icid);
    return { deviceId: d.deviceId, eventId: e.eventId, intid: e.intid, icid: e.icid, vcpu: t === undefined || t === COLLECTION_NOT_MAPPED ? null : t };
  }))];
  const lpis = [...pre.lpis, ...ref.newLpis].sort((a, b) => a.intid - b.intid);
  return { its: [{ ...its0!, collections: [...its0!.collections, ...ref.collections], mappings }, ...others], lpis };
}

/** What the unmutated image of `cfg` must restore to: collections in table order, ITEs per device. */
function described(cfg: ImageConfig, img: WrittenImage): Pick<RefResult, 'collections' | 'devices'> {
  return {
    collections: cfg.collections.map((c) => ({ icid: c.icid, target: c.target })),
    devices: cfg.devices.map((d, i) => ({
      deviceId: d.id, ittAddr: img.itts[i]!, eventIdBits: d.bits,
      ites: d.events.map((e) => ({ eventId: e.ev, intid: e.pintid, icid: cfg.collections[e.icidIdx]!.icid })),
    })),
  };
}

class TablesSession implements FuzzSession<TablesCase> {
  private vm: GicVm | undefined;
  readonly stats: Record<string, number> = {};

  constructor(private readonly o: FuzzTargetOptions) {}

  async run(c: TablesCase): Promise<void> {
    try {
      await this.runCase(await this.ensure(), c);
    } catch (e) {
      await this.close().catch(() => {});
      throw e;
    }
  }

  async close(): Promise<void> {
    const vm = this.vm;
    this.vm = undefined;
    if (vm !== undefined) await destroyVm(vm);
  }

  private async ensure(): Promise<GicVm> {
    if (this.vm !== undefined) return this.vm;
    const vm = await createVm({
      vcpus: NR_VCPUS, memory: RAM_BYTES, lockStat: 'counts', validator: true, gic: { its: 2 },
      guest: { module: 'its-setup', args: { its: [0, 1], devices: [ITS1_DEVICE], region: { base: RAM_BASE + 0x1_0000, size: 15 * MiB }, idBits: 16, handle: true } },
    });
    this.vm = vm;
    count(this.stats, 'VMs');
    if ((await vm.start()) !== 0) throw new FuzzFailure('VM start failed');
    const s = await waitForItsSetup(vm);
    if (s !== 0) throw new FuzzFailure(`guest ITS setup failed: ${errnoName(s)}`);
    await ok(vm.pause(), 'pause');
    return vm;
  }

  private async runCase(vm: GicVm, c: TablesCase): Promise<void> {
    const its = vm.gic.its[0]!;
    await ok(its.setAttr(GRP_CTRL, KVM_DEV_ARM_ITS_CTRL_RESET), 'CTRL_RESET');
    const empty = await its.snapshot();
    if (empty.devices.length + empty.collections.length > 0) throw new FuzzFailure('CTRL_RESET left devices or collections (spec 6.2)');
    // The image: a zeroed area, no stale pending bits for the LPI range.
    const mem = vm.rt.mem;
    mem.span(TABLES_LAYOUT.area, TABLES_LAYOUT.ramEnd - TABLES_LAYOUT.area)!.u8.fill(0);
    for (let v = 0; v < NR_VCPUS; v++) mem.write(vm.gic.st.pendbaserAddress(v) + 1024, new Uint8Array(8192 - 1024));
    const img = writeImage(mem, TABLES_LAYOUT, c.cfg);
    for (const p of c.cfg.pending) {
      const gpa = vm.gic.st.pendbaserAddress(p.vcpu) + (p.intid >> 3);
      mem.write8(gpa, mem.read8(gpa) | (1 << (p.intid & 7)));
    }
    const regs = mutate(mem, TABLES_LAYOUT, c.cfg, img, c.mutations);
    const baser = await this.writeRegisters(its, regs.baser0, regs.baser1);

    count(this.stats, `mode ${c.mode}${c.mutations.length === 0 ? ' (unmutated)' : ''}`);
    for (const m of c.mutations) count(this.stats, `mutation ${m.m}`);
    if (c.mode === 'running') {
      await ok(vm.resume(), 'resume');
      // A vCPU is Running once it holds its mutex again: from then on the trylock must fail.
      if (!(await waitUntil(() => Array.from({ length: NR_VCPUS }, (_, i) => vm.vcpuState(i)).every((s) => s === 'running'), HANG_MS))) {
        throw new FuzzFailure('vCPUs did not re-enter KVM_RUN after resume');
      }
      const pre = await translationView(vm.gic);
      await ok(its.setAttr(GRP_CTRL, KVM_DEV_ARM_ITS_RESTORE_TABLES), 'RESTORE_TABLES with vCPUs running (spec 9.1)', -EBUSY);
      const diff = compareTranslation(pre, await translationView(vm.gic));
      if (diff.length > 0) throw new FuzzFailure(`RESTORE_TABLES refused with -EBUSY changed the translation:\n${formatDifferences(diff)}`);
      await ok(vm.pause(), 'pause');
    } else {
      const first = await this.restore(vm, its, baser, 'RESTORE_TABLES');
      if (c.mode === 'twice') await this.restore(vm, its, baser, 'a second RESTORE_TABLES');
      else if (c.mutations.length === 0) await this.clean(vm, its, c.cfg, img, first, baser);
    }
    expectHealthy(vm, 'after the case');
    expectNoLocksHeld(vm, 'after the case');
  }

  /** The documented register sequence (spec 6.4); returns the BASERs as the ITS holds them. */
  private async writeRegisters(its: ItsDevice, baser0: bigint, baser1: bigint): Promise<{ baser0: bigint; baser1: bigint }> {
    const queue = makeGitsCbaser({ valid: true, address: imagePlaces(TABLES_LAYOUT).queue, size: 0 });
    for (const [off, v] of [[GITS_CBASER, queue], [GITS_CWRITER, 0n], [GITS_CREADR, 0n], [gitsBaserOffset(0), baser0], [gitsBaserOffset(1), baser1],
      [GITS_IIDR, BigInt(gitsIidrValue(0))]] as const) {
      await ok(its.setAttr(GRP_REGS, off, v), `GRP_ITS_REGS write 0x${off.toString(16)}`);
    }
    const read = async (off: number) => {
      const r = await bounded(its.getAttr(GRP_REGS, off), 'GRP_ITS_REGS read', HANG_MS);
      if (r.ret !== 0 || r.value === undefined) throw new FuzzFailure(`GRP_ITS_REGS read 0x${off.toString(16)} returned ${errnoName(r.ret)}`);
      return r.value;
    };
    return { baser0: await read(gitsBaserOffset(0)), baser1: await read(gitsBaserOffset(1)) };
  }

  /** One RESTORE_TABLES checked against the reference and for all-or-nothing. */
  private async restore(vm: GicVm, its: ItsDevice, baser: { baser0: bigint; baser1: bigint }, what: string): Promise<{ ref: RefResult; pre: TranslationView; post: TranslationView }> {
    const pre = await translationView(vm.gic);
    const snap = await its.snapshot();
    const sabotage = this.o.sabotage === true;
    const mem = ramReader(vm);
    const ref = referenceRestore({
      mem: sabotage ? { ...mem, read64: (g) => { const v = mem.read64(g); return v === 0n ? 1n << 16n : v; } } : mem,
      baser0: baser.baser0, baser1: baser.baser1, nrVcpus: NR_VCPUS,
      propAddr: vm.gic.st.propbaserAddress(), pendAddr: (v) => vm.gic.st.pendbaserAddress(v),
      existingLpis: new Set(pre.lpis.map((l) => l.intid)),
      collections: new Map(snap.collections.map((x) => [x.icid, x.target])),
      devices: new Set(snap.devices.map((d) => d.deviceId)),
    });
    let r: number;
    try {
      r = await bounded(its.setAttr(GRP_CTRL, KVM_DEV_ARM_ITS_RESTORE_TABLES), what, HANG_MS);
    } catch (e) {
      if (e instanceof FuzzFailure) throw e;
      throw new FuzzFailure(`${what} threw: ${(e as Error)?.message ?? e}`);
    }
    count(this.stats, `restore ${errnoName(r)}`);
    if (r !== 0 && !RESTORE_ERRNOS.includes(r)) throw new FuzzFailure(`${what} returned ${errnoName(r)}, not 0 or an errno of spec 5.4`);
    if (r !== ref.ret) throw new FuzzFailure(`${what} returned ${errnoName(r)}; the reference restore (spec 5.3) says ${errnoName(ref.ret)}`);
    const post = await translationView(vm.gic);
    const diff = compareTranslation(expectedView(pre, ref), post);
    if (diff.length > 0) {
      throw new FuzzFailure(`${what} returned ${errnoName(r)} but left ${r === 0 ? 'another state than the image describes' : 'a half-restored state'} (expected vs actual):\n${formatDifferences(diff).split('\n').slice(0, 12).join('\n')}`);
    }
    this.checkRefcounts(vm, post);
    expectNoLocksHeld(vm, `after ${what}`);
    return { ref, pre, post };
  }

  private checkRefcounts(vm: GicVm, v: TranslationView): void {
    const uses = new Map<number, number>();
    for (const i of v.its) for (const m of i.mappings) uses.set(m.intid, (uses.get(m.intid) ?? 0) + 1);
    const st = vm.gic.st;
    for (const l of v.lpis) {
      const refs = Atomics.load(st.i32, st.lpi(l.intid) + L_REFS);
      if (refs !== (uses.get(l.intid) ?? 0)) throw new FuzzFailure(`LPI ${l.intid} has ${refs} references for ${uses.get(l.intid) ?? 0} ITEs`);
    }
    for (const intid of uses.keys()) if (!vm.gic.vgic.lpiExists(intid)) throw new FuzzFailure(`an ITE names LPI ${intid}, which does not exist`);
  }

  /** An unmutated image: what the configuration describes; a save/restore round trip; live translations. */
  private async clean(vm: GicVm, its: ItsDevice, cfg: ImageConfig, img: WrittenImage, first: { ref: RefResult; pre: TranslationView; post: TranslationView },
    baser: { baser0: bigint; baser1: bigint }): Promise<void> {
    const { ref, pre, post } = first;
    if (ref.ret !== 0) throw new FuzzFailure(`an unmutated image did not restore: ${errnoName(ref.ret)}`);
    const want = JSON.stringify(described(cfg, img)), got = JSON.stringify({ collections: ref.collections, devices: ref.devices });
    if (want !== got) throw new FuzzFailure(`the restore of an unmutated image is not what it describes:\n  image    ${want}\n  restored ${got}`);
    await ok(its.setAttr(GRP_CTRL, KVM_DEV_ARM_ITS_SAVE_TABLES), 'SAVE_TABLES of the restored state');
    await ok(vm.gic.v3.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES), 'SAVE_PENDING_TABLES');
    await ok(its.setAttr(GRP_CTRL, KVM_DEV_ARM_ITS_CTRL_RESET), 'CTRL_RESET');
    await this.writeRegisters(its, baser.baser0, baser.baser1);
    await ok(its.setAttr(GRP_CTRL, KVM_DEV_ARM_ITS_RESTORE_TABLES), 'RESTORE_TABLES of what SAVE_TABLES wrote');
    const again = await translationView(vm.gic);
    count(this.stats, 'round trips');
    count(this.stats, 'mappings restored', again.its[0]!.mappings.length);
    const diff = compareTranslation(post, again);
    if (diff.length > 0) throw new FuzzFailure(`save -> reset -> restore did not bring the state back:\n${formatDifferences(diff).split('\n').slice(0, 12).join('\n')}`);
    // Live: enabled, the restored translations deliver (LPIs not shared with ITS 1, whose state later cases compare).
    await ok(its.setAttr(GRP_REGS, GITS_CTLR, 1n), 'GITS_CTLR enable');
    const shared = new Set(pre.lpis.map((l) => l.intid));
    for (const m of again.its[0]!.mappings.filter((x) => !shared.has(x.intid)).slice(0, 4)) {
      const r = await vm.signalMsi({ address: defaultItsBase(0) + GITS_TRANSLATER, data: m.eventId, devid: m.deviceId });
      if (r !== (m.vcpu === null ? 0 : 1)) throw new FuzzFailure(`MSI to restored mapping ${JSON.stringify(m)} returned ${resultName(r)} (spec 4.2)`);
    }
  }
}

export const tablesTarget: FuzzTarget<TablesCase> = {
  name: 'tables',
  arbitrary: (): fc.Arbitrary<TablesCase> => tablesCaseArbitrary(NR_VCPUS),
  open: (o: FuzzTargetOptions): FuzzSession<TablesCase> => new TablesSession(o),
};
