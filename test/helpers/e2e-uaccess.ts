/**
 * Userspace register access for the e2e tests, as a VMM restoring a VM does it
 * before any vCPU runs: KVM_DEV_ARM_VGIC_GRP_ITS_REGS on the ITS device
 * (ItsDevice.setAttr/getAttr), and GRP_REDIST_REGS / GRP_DIST_REGS on the
 * vgic-v3 device. The model has no device-attribute call for the latter two
 * yet, so those accesses go to the distributor actor the way a trapped access
 * does, from the VMM thread; only registers whose userspace and guest
 * semantics agree are touched that way (PROPBASER, PENDBASER, GICR_CTLR,
 * GICD_CTLR). On the ITS: a CWRITER store with the ITS still disabled only
 * records the offset, and enabling the ITS drains the queue (spec 9.13 / 9.29).
 */
import { expect } from 'vitest';
import { OP_MMIO_READ, OP_MMIO_WRITE } from '../../dist/src/actors/protocol.js';
import type { GicVm } from '../../dist/src/index.js';
import * as u from '../../dist/src/uapi/index.js';
import { KVM_DEV_ARM_VGIC_GRP_ITS_REGS } from '../../dist/src/uapi/kvm.js';
import { GICD_CTLR_ARE_NS, GICD_CTLR_ENABLE_GRP1A } from '../../dist/src/guest/gic-driver.js';

export interface RegFrame {
  read(off: number, size?: 4 | 8): Promise<bigint>;
  write(off: number, value: bigint | number, size?: 4 | 8): Promise<void>;
}

function frame(vm: GicVm, actor: () => number, region: number): RegFrame {
  return {
    async read(off, size = 8) {
      const r = await vm.rt.client.requestAsync(actor(), OP_MMIO_READ, [region, off, size]);
      expect(r.result).toBe(0);
      return (BigInt(r.values[1]! >>> 0) << 32n) | BigInt(r.values[0]! >>> 0);
    },
    async write(off, value, size = 8) {
      const v = BigInt.asUintN(size * 8, BigInt(value));
      const r = await vm.rt.client.requestAsync(actor(), OP_MMIO_WRITE,
        [region, off, size, Number(v & 0xffff_ffffn) | 0, Number(v >> 32n) | 0]);
      expect(r.result).toBe(0);
    },
  };
}

/** ITS n's registers through KVM_{SET,GET}_DEVICE_ATTR(GRP_ITS_REGS); every access must return 0. */
export function itsRegs(vm: GicVm, n: number): RegFrame {
  const dev = () => vm.gic.its[n]!;
  return {
    async read(off) {
      const r = await dev().getAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, off);
      expect(r.ret, `GRP_ITS_REGS get 0x${off.toString(16)}`).toBe(0);
      return r.value!;
    },
    async write(off, value) {
      expect(await dev().setAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, off, BigInt(value)), `GRP_ITS_REGS set 0x${off.toString(16)}`).toBe(0);
    },
  };
}
/** vCPU v's redistributor (GRP_REDIST_REGS). */
export function gicrRegs(vm: GicVm, v: number): RegFrame {
  return frame(vm, () => vm.gic.shared.distActor, 1 + v);
}
/** The distributor (GRP_DIST_REGS). */
export function gicdRegs(vm: GicVm): RegFrame {
  return frame(vm, () => vm.gic.shared.distActor, 0);
}

/** Where restoreIts puts its tables (guest RAM above the console's mailboxes and scratch). */
export const RESTORE_GPA = 0x4000_0000 + 0x300_0000;

export interface RestoreMapping {
  devid: number;
  eventId: number;
  intid: number;
  vcpu: number;
}

/**
 * What a VMM restoring a VM with one ITS mapping does before the first vCPU
 * run: LPI property table (intid enabled, priority 0xa0) and zeroed pending
 * tables in guest RAM, PROPBASER/PENDBASER and EnableLPIs on every
 * redistributor, GICD_CTLR enabled; ITS n's device and collection tables and a
 * command queue holding MAPC (icid = vcpu) / MAPD / MAPTI, CBASER, BASERs,
 * CWRITER, then GITS_CTLR.Enable (which drains the queue). Returns CREADR.
 */
export async function restoreIts(vm: GicVm, n: number, m: RestoreMapping): Promise<bigint> {
  const mem = vm.rt.mem;
  const SZ_64K = 0x1_0000;
  const prop = RESTORE_GPA, pend = (v: number) => RESTORE_GPA + SZ_64K * (1 + v);
  const area = RESTORE_GPA + 0x10_0000 * (1 + n);
  const devTable = area, collTable = area + SZ_64K, queue = area + 2 * SZ_64K, itt = area + 3 * SZ_64K;
  const zero = new Uint8Array(SZ_64K);
  for (const gpa of [prop, devTable, collTable, queue, itt, ...Array.from({ length: vm.nrVcpus }, (_, v) => pend(v))]) {
    expect(mem.write(gpa, zero)).toBe(0);
  }
  expect(mem.write8(prop + m.intid - 8192, u.makeLpiProp(0xa0, true))).toBe(0);
  for (let v = 0; v < vm.nrVcpus; v++) {
    const rd = gicrRegs(vm, v);
    if ((Number(await rd.read(u.GICR_CTLR, 4)) & u.GICR_CTLR_ENABLE_LPIS) === 0) {
      await rd.write(u.GICR_PROPBASER, u.makeGicrPropbaser({ address: prop, idBits: 15 }));
      await rd.write(u.GICR_PENDBASER, u.makeGicrPendbaser({ address: pend(v) }));
      await rd.write(u.GICR_CTLR, u.GICR_CTLR_ENABLE_LPIS, 4);
    }
  }
  await gicdRegs(vm).write(0, GICD_CTLR_ENABLE_GRP1A | GICD_CTLR_ARE_NS, 4);
  const cmds: u.ItsCommand[] = [
    { cmd: 'MAPC', icid: m.vcpu, rdbase: m.vcpu, valid: true },
    { cmd: 'MAPD', deviceId: m.devid, size: 4, ittAddr: itt, valid: true },
    { cmd: 'MAPTI', deviceId: m.devid, eventId: m.eventId, pintid: m.intid, icid: m.vcpu },
  ];
  cmds.forEach((c, i) => expect(mem.write(queue + 32 * i, u.encodeItsCommandBytes(c))).toBe(0));
  const its = itsRegs(vm, n);
  await its.write(u.GITS_BASER, u.makeGitsBaser({ valid: true, type: u.GITS_BASER_TYPE_DEVICE, entrySize: 8, address: devTable, size: 0 }));
  await its.write(u.GITS_BASER + 8, u.makeGitsBaser({ valid: true, type: u.GITS_BASER_TYPE_COLLECTION, entrySize: 8, address: collTable, size: 0 }));
  await its.write(u.GITS_CBASER, u.makeGitsCbaser({ valid: true, address: queue, size: 15 }));
  await its.write(u.GITS_CWRITER, BigInt(32 * cmds.length));
  await its.write(u.GITS_CTLR, u.GITS_CTLR_ENABLE);
  return its.read(u.GITS_CREADR);
}
