/**
 * Migration, step by step, in QEMU's order. Every step is exported on its
 * own so users can run them in a wrong order (CTLR before the tables,
 * CREADR not restored) and see what breaks; saveVm()/restoreVm() run them
 * in the right one.
 *
 * Source:      pause -> SAVE_TABLES per ITS -> SAVE_PENDING_TABLES -> read ITS
 *              registers -> read redistributors -> copy RAM
 * Destination: create VM + vCPUs -> load RAM -> restore redistributors (PROPBASER,
 *              PENDBASER, then GICR_CTLR) -> set each ITS base -> IIDR, CBASER,
 *              CREADR, CWRITER, BASERs -> RESTORE_TABLES -> GITS_CTLR -> start
 */
import { OP_MMIO_WRITE } from '../actors/protocol.js';
import { createVm, type CreateVmOptions, type GicVm } from '../create-vm.js';
import { Gic, type GicOptions } from '../vgic/gic.js';
import type { GuestSpec } from '../kvm/options.js';
import {
  KVM_DEV_ARM_ITS_RESTORE_TABLES, KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_DEV_ARM_VGIC_GRP_CTRL,
  KVM_DEV_ARM_VGIC_GRP_ITS_REGS, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES, KVM_VGIC_ITS_ADDR_TYPE,
} from '../uapi/kvm.js';
import { GITS_CBASER, GITS_CREADR, GITS_CTLR, GITS_CWRITER, GITS_IIDR, gitsBaserOffset } from '../uapi/gits.js';
import { GICR_CTLR, GICR_PENDBASER, GICR_PROPBASER } from '../uapi/gic-fields.js';
import { errnoName } from '../uapi/errno.js';
import { GICD_CTLR, REGION_GICD } from '../vgic/dist-actor.js';
import { C_GICR_CTLR, D_GICD_CTLR } from '../vgic/vgic-state.js';
import { checkSnapshot, hex, type ItsRegisterState, type RedistState, type VmSnapshot, SNAPSHOT_VERSION } from './snapshot.js';

/** A failed step: which one, and the errno it returned. */
export class MigrationError extends Error {
  constructor(
    /** The step, e.g. 'SAVE_TABLES on ITS 0' or 'write ITS 0 CTLR'. */
    readonly step: string,
    /** What it returned (-errno). */
    readonly errno: number,
  ) {
    super(`${step} failed: ${errnoName(errno)}`);
  }
}

/** Migration works on VMs with a vGIC: TypeError naming the argument otherwise. */
function checkGicVm(vm: GicVm, name = 'vm'): void {
  if (vm === null || typeof vm !== 'object' || !((vm as Partial<GicVm>).gic instanceof Gic)) {
    throw new TypeError(`${name} must be a VM with a vGIC (createVm() without gic: false)`);
  }
}

function check(step: string, ret: number): void {
  if (ret !== 0) throw new MigrationError(step, ret);
}

// ---- source ----------------------------------------------------------------

/** KVM_DEV_ARM_ITS_SAVE_TABLES on every ITS: the results, in ITS order. */
export async function saveItsTables(vm: GicVm): Promise<number[]> {
  checkGicVm(vm);
  const out: number[] = [];
  for (const its of vm.gic.its) out.push(await its.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_SAVE_TABLES));
  return out;
}

/** KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES on the vgic-v3 device. */
export async function savePendingTables(vm: GicVm): Promise<number> {
  checkGicVm(vm);
  return vm.gic.v3.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES);
}

/** GRP_ITS_REGS reads of every register migration carries, per ITS. */
export async function readItsRegisters(vm: GicVm): Promise<ItsRegisterState[]> {
  checkGicVm(vm);
  const out: ItsRegisterState[] = [];
  for (const its of vm.gic.its) {
    const get = async (offset: number) => {
      const r = await its.getAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, offset);
      check(`read ITS ${its.index} register 0x${offset.toString(16)}`, r.ret);
      return hex(r.value ?? 0n);
    };
    const baser: string[] = [];
    for (let n = 0; n < 8; n++) baser.push(await get(gitsBaserOffset(n)));
    out.push({
      index: its.index,
      ...(its.baseAddress !== undefined ? { base: hex(its.baseAddress) } : {}),
      baser, ctlr: await get(GITS_CTLR), cbaser: await get(GITS_CBASER), creadr: await get(GITS_CREADR),
      cwriter: await get(GITS_CWRITER), iidr: await get(GITS_IIDR),
    });
  }
  return out;
}

/** Redistributor state (what GRP_REDIST_REGS would read), from the vGIC's shared state. */
export function readRedistributors(vm: GicVm): RedistState[] {
  checkGicVm(vm);
  const st = vm.gic.st;
  return Array.from({ length: vm.nrVcpus }, (_, vcpu) => ({
    vcpu, ctlr: Atomics.load(st.i32, st.cpu(vcpu) + C_GICR_CTLR), pendbaser: hex(st.pendbaser(vcpu)),
  }));
}

/** Copies of guest RAM, one per memslot. */
export function readRam(vm: GicVm): Uint8Array[] {
  checkGicVm(vm);
  return vm.shared.memslots.map((s) => new Uint8Array(s.data).slice());
}

/**
 * The whole source side: pause (if running), SAVE_TABLES per ITS,
 * SAVE_PENDING_TABLES, registers, RAM. Throws MigrationError on a failed step.
 */
export async function saveVm(vm: GicVm): Promise<VmSnapshot> {
  checkGicVm(vm);
  if (vm.vmState === 'running') check('pause', await vm.pause());
  (await saveItsTables(vm)).forEach((r, i) => check(`SAVE_TABLES on ITS ${i}`, r));
  check('SAVE_PENDING_TABLES', await savePendingTables(vm));
  const its = await readItsRegisters(vm);
  const st = vm.gic.st;
  return {
    header: {
      format: 'vgic-lab-vm-snapshot',
      version: SNAPSHOT_VERSION,
      createdAt: new Date().toISOString(),
      vm: {
        vcpus: vm.nrVcpus,
        memory: vm.options.memory.map((m) => ({ gpa: m.gpa, size: m.size })),
        resultWords: vm.options.resultWords,
        gic: {
          its: vm.gic.its.length, iodevRegistration: vm.gic.shared.iodevRegistration,
          lockProtocol: vm.gic.shared.lockProtocol, cacheCapacity: st.cacheCapacity,
        },
      },
      propbaser: hex(st.propbaser()),
      gicdCtlr: Atomics.load(st.i32, D_GICD_CTLR),
      redists: readRedistributors(vm),
      its,
      results: Array.from({ length: vm.nrVcpus }, (_, i) => Array.from(vm.results(i))),
    },
    ram: readRam(vm),
  };
}

// ---- destination -------------------------------------------------------------

/**
 * createVm options shaped like the snapshot's VM (vCPUs, memory, result
 * words, GIC with ITS bases not yet set), with `gic` overrides.
 */
export function vmOptionsForSnapshot(s: VmSnapshot, guest?: GuestSpec | string, gic: GicOptions = {}): CreateVmOptions {
  const h = s.header;
  return {
    vcpus: h.vm.vcpus, memory: h.vm.memory, resultWords: h.vm.resultWords,
    gic: { ...h.vm.gic, ...gic, setItsBases: false },
    ...(guest !== undefined ? { guest } : {}),
  };
}

/** A VM shaped like the snapshot's (vCPUs, memory, ITS count), ITS bases not yet set, not started. */
export async function createVmForSnapshot(s: VmSnapshot, guest?: GuestSpec | string): Promise<GicVm> {
  checkSnapshot(s);
  return createVm(vmOptionsForSnapshot(s, guest));
}

/** Copy the snapshot's RAM into the destination's memslots. */
export function loadRam(vm: GicVm, s: VmSnapshot): void {
  checkGicVm(vm);
  checkSnapshot(s);
  vm.shared.memslots.forEach((slot, i) => new Uint8Array(slot.data).set(s.ram[i]!));
}

/** Restore each vCPU's results area, so guest counters carry on. */
export function loadResults(vm: GicVm, s: VmSnapshot): void {
  checkGicVm(vm);
  checkSnapshot(s);
  s.header.results.forEach((r, i) => vm.results(i).set(r.slice(0, vm.results(i).length)));
}

/** A userspace redistributor/distributor register write (the same handlers a guest reaches). */
async function distWrite(vm: GicVm, region: number, offset: number, size: number, value: bigint): Promise<void> {
  await vm.rt.client.requestAsync(vm.gic.shared.distActor, OP_MMIO_WRITE, [
    region, offset, size, Number(value & 0xffffffffn) | 0, Number(value >> 32n) | 0,
  ]);
}

/** PROPBASER and PENDBASER first (they freeze once LPIs are enabled), then GICR_CTLR, then GICD_CTLR. */
export async function restoreRedistributors(vm: GicVm, s: VmSnapshot): Promise<void> {
  checkGicVm(vm);
  checkSnapshot(s);
  const h = s.header;
  for (const r of h.redists) {
    await distWrite(vm, 1 + r.vcpu, GICR_PROPBASER, 8, BigInt(h.propbaser));
    await distWrite(vm, 1 + r.vcpu, GICR_PENDBASER, 8, BigInt(r.pendbaser));
  }
  for (const r of h.redists) if (r.ctlr & 1) await distWrite(vm, 1 + r.vcpu, GICR_CTLR, 4, 1n);
  await distWrite(vm, REGION_GICD, GICD_CTLR, 4, BigInt(h.gicdCtlr));
}

/** GRP_ADDR for every ITS that had a base. */
export async function setItsBases(vm: GicVm, s: VmSnapshot): Promise<void> {
  checkGicVm(vm);
  checkSnapshot(s);
  for (const r of s.header.its) {
    if (r.base === undefined) continue;
    check(`set ITS ${r.index} base`, await vm.gic.its[r.index]!.setAttr(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, BigInt(r.base)));
  }
}

/** An ITS register restoreItsRegisters() writes ('baser' stands for all eight GITS_BASER<n>). */
export type ItsRegisterName = 'iidr' | 'cbaser' | 'creadr' | 'cwriter' | 'baser';

/**
 * The documented order: IIDR, CBASER (resets CREADR/CWRITER), CREADR, CWRITER, BASERs; not CTLR.
 * `skip` leaves registers out, to see what a VMM that forgets one gets.
 */
export async function restoreItsRegisters(vm: GicVm, s: VmSnapshot, skip: readonly ItsRegisterName[] = []): Promise<void> {
  checkGicVm(vm);
  checkSnapshot(s);
  const names: readonly ItsRegisterName[] = ['iidr', 'cbaser', 'creadr', 'cwriter', 'baser'];
  if (!Array.isArray(skip) || !skip.every((r) => names.includes(r))) throw new TypeError(`skip must be an array of ${names.join(', ')}`);
  for (const r of s.header.its) {
    const its = vm.gic.its[r.index]!;
    const put = async (name: string, offset: number, v: string) =>
      check(`write ITS ${r.index} ${name}`, await its.setAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, offset, BigInt(v)));
    if (!skip.includes('iidr')) await put('IIDR', GITS_IIDR, r.iidr);
    if (!skip.includes('cbaser')) await put('CBASER', GITS_CBASER, r.cbaser);
    if (!skip.includes('creadr')) await put('CREADR', GITS_CREADR, r.creadr);
    if (!skip.includes('cwriter')) await put('CWRITER', GITS_CWRITER, r.cwriter);
    if (!skip.includes('baser')) for (let n = 0; n < 8; n++) await put(`BASER${n}`, gitsBaserOffset(n), r.baser[n]!);
  }
}

/** KVM_DEV_ARM_ITS_RESTORE_TABLES on every ITS: the results, in ITS order. */
export async function restoreItsTables(vm: GicVm): Promise<number[]> {
  checkGicVm(vm);
  const out: number[] = [];
  for (const its of vm.gic.its) out.push(await its.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_RESTORE_TABLES));
  return out;
}

/** GITS_CTLR last: enabling drains whatever lies between CREADR and CWRITER. */
export async function restoreItsCtlr(vm: GicVm, s: VmSnapshot): Promise<void> {
  checkGicVm(vm);
  checkSnapshot(s);
  for (const r of s.header.its) {
    check(`write ITS ${r.index} CTLR`, await vm.gic.its[r.index]!.setAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, GITS_CTLR, BigInt(r.ctlr)));
  }
}

/** Options of restoreVm and migrate. */
export interface RestoreOptions {
  /** The guest program the destination's vCPUs run. Default: the VM default, 'idle'. */
  guest?: GuestSpec | string;
  /** Start the vCPUs at the end. Default true. */
  start?: boolean;
}

function checkRestoreOptions(o: RestoreOptions): void {
  if (o === null || typeof o !== 'object') throw new TypeError('options must be an object');
  if (o.start !== undefined && typeof o.start !== 'boolean') throw new TypeError('options.start must be a boolean');
}

/**
 * Every restore step, in QEMU's order, into a VM created for the snapshot (not
 * started): RAM, results, redistributors, ITS bases, ITS registers,
 * RESTORE_TABLES, GITS_CTLR. Throws MigrationError on a failed step.
 */
export async function restoreInto(vm: GicVm, s: VmSnapshot): Promise<void> {
  checkGicVm(vm);
  checkSnapshot(s);
  loadRam(vm, s);
  loadResults(vm, s);
  await restoreRedistributors(vm, s);
  await setItsBases(vm, s);
  await restoreItsRegisters(vm, s);
  (await restoreItsTables(vm)).forEach((r, i) => check(`RESTORE_TABLES on ITS ${i}`, r));
  await restoreItsCtlr(vm, s);
}

/** The whole destination side. Throws MigrationError on a failed step (the VM is destroyed then). */
export async function restoreVm(s: VmSnapshot, o: RestoreOptions = {}): Promise<GicVm> {
  checkSnapshot(s);
  checkRestoreOptions(o);
  const vm = await createVmForSnapshot(s, o.guest);
  try {
    await restoreInto(vm, s);
    if (o.start ?? true) check('start', await vm.start());
    return vm;
  } catch (e) {
    await vm.destroy();
    throw e;
  }
}

/** Save `src` (pausing it) and restore into a new VM in this process; `src` stays paused, for comparison. */
export async function migrate(src: GicVm, o: RestoreOptions = {}): Promise<GicVm> {
  checkGicVm(src, 'src');
  checkRestoreOptions(o);
  return restoreVm(await saveVm(src), o);
}
