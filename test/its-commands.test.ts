/**
 * ITS commands (spec 2.2-2.4, 3): every E_ITS_* check in the kernel's order,
 * check_id on flat and two-level tables, the queue mechanics (wrap,
 * unreadable commands), and malformed input. Items 9.11 and 9.17-9.22.
 * Unit level: Its instances on the test's thread over real shared structures.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  HARNESS_PROP_TABLE, HARNESS_RAM, HARNESS_RAM_SIZE, harnessDeviceTable, harnessItt, harnessPendTable,
  ItsHarness, itsCmd as C,
} from './helpers/its-harness.js';
import type { Its } from '../dist/src/vgic/its/its.js';
import * as u from '../dist/src/uapi/index.js';
import { C_AP_COUNT, F_ENABLED, F_PENDING, L_QUEUED_ON, L_REFS } from '../dist/src/vgic/vgic-state.js';

const EFAULT = -u.EFAULT, EBUSY = -u.EBUSY, ENODEV = -u.ENODEV;
const NOT_MAPPED = u.COLLECTION_NOT_MAPPED;
const RAM_END = HARNESS_RAM + HARNESS_RAM_SIZE;
/** A free 1 MiB area for large ITTs and level-2 pages. */
const SPARE = HARNESS_RAM + 0x80_0000;

function refs(h: ItsHarness, intid: number): number {
  return Atomics.load(h.st.i32, h.st.lpi(intid) + L_REFS);
}
function queuedOn(h: ItsHarness, intid: number): number {
  return Atomics.load(h.st.i32, h.st.lpi(intid) + L_QUEUED_ON);
}
function apCount(h: ItsHarness, vcpu: number): number {
  return Atomics.load(h.st.i32, h.st.cpu(vcpu) + C_AP_COUNT);
}
function pending(h: ItsHarness, intid: number): boolean {
  return (h.vgic.lpiFlags(intid) & F_PENDING) !== 0;
}

describe('ITS commands', () => {
  let h: ItsHarness;
  let its: Its;
  const mapd = (dev: number, bits = 5, valid = true) => C.mapd(dev, bits, harnessItt(0, dev), valid);
  beforeEach(() => {
    h = new ItsHarness();
    its = h.enable(0);
  });

  describe('MAPD', () => {
    it('9.20 MAPD with Size+1 > 16 and V=1 is rejected; 16 EventID bits are accepted', () => {
      expect(h.run1(0, mapd(1, 17))).toBe(u.E_ITS_MAPD_ITTSIZE_OOR);
      expect(h.run1(0, mapd(1, 32))).toBe(u.E_ITS_MAPD_ITTSIZE_OOR);
      expect(its.tr.devices.size).toBe(0);
      expect(h.run1(0, mapd(1, 16))).toBe(0);
      expect(its.tr.devices.get(1)?.eventIdBits).toBe(16);
      expect(h.run1(0, mapd(2, 1))).toBe(0);
      expect(its.tr.devices.get(2)?.eventIdBits).toBe(1);
    });

    it('a DeviceID the device table cannot hold is E_ITS_MAPD_DEVICE_OOR, checked first, for V=0 too', () => {
      // 64 KiB flat table: 8192 DTEs.
      expect(h.run1(0, mapd(8191))).toBe(0);
      expect(h.run1(0, mapd(8192))).toBe(u.E_ITS_MAPD_DEVICE_OOR);
      expect(h.run1(0, mapd(8192, 32))).toBe(u.E_ITS_MAPD_DEVICE_OOR);
      expect(h.run1(0, mapd(8192, 5, false))).toBe(u.E_ITS_MAPD_DEVICE_OOR);
      expect(h.run1(0, mapd(0xffff_ffff))).toBe(u.E_ITS_MAPD_DEVICE_OOR);
      // V=0 skips the size check.
      expect(h.run1(0, mapd(8191, 32, false))).toBe(0);
    });

    it('a DeviceID whose DTE lies outside every memslot is E_ITS_MAPD_DEVICE_OOR (visibility check)', () => {
      its.mmioWrite(u.GITS_CTLR, 4, 0n);
      // 128 KiB table whose second half is beyond RAM.
      its.mmioWrite(u.GITS_BASER, 8, u.makeGitsBaser({
        valid: true, type: u.GITS_BASER_TYPE_DEVICE, entrySize: 8, address: RAM_END - 0x1_0000, size: 1,
      }));
      its.mmioWrite(u.GITS_CTLR, 4, 1n);
      expect(h.run1(0, mapd(8191))).toBe(0);
      expect(h.run1(0, mapd(8192))).toBe(u.E_ITS_MAPD_DEVICE_OOR);
      expect(h.run1(0, mapd(16383))).toBe(u.E_ITS_MAPD_DEVICE_OOR);
      expect(h.run1(0, mapd(16384))).toBe(u.E_ITS_MAPD_DEVICE_OOR);
    });

    it('the DeviceID space is 16 bits whatever the table size', () => {
      its.mmioWrite(u.GITS_CTLR, 4, 0n);
      its.mmioWrite(u.GITS_BASER, 8, u.makeGitsBaser({
        valid: true, type: u.GITS_BASER_TYPE_DEVICE, entrySize: 8, address: SPARE, size: 8, // 576 KiB
      }));
      its.mmioWrite(u.GITS_CTLR, 4, 1n);
      expect(h.run1(0, C.mapd(0xffff, 5, SPARE))).toBe(0);
      expect(h.run1(0, C.mapd(0x1_0000, 5, SPARE))).toBe(u.E_ITS_MAPD_DEVICE_OOR);
    });

    it('9.20 MAPD on a mapped device drops all its ITEs (LPI references, cache) before remapping', () => {
      expect(h.run(0, mapd(1), C.mapc(0, 0), C.mapti(1, 0, 8192, 0), C.mapti(1, 1, 8193, 0),
        mapd(2), C.mapti(2, 0, 8193, 0))).toEqual([0, 0, 0, 0, 0, 0]);
      expect(refs(h, 8193)).toBe(2);
      expect(its.injectMsi(1, 0)).toBe(1);
      expect(h.cache.size(0)).toBe(1);
      expect(h.run1(0, C.mapd(1, 8, harnessItt(0, 7)))).toBe(0);
      const dev = its.tr.devices.get(1)!;
      expect(dev.ites.size).toBe(0);
      expect(dev.eventIdBits).toBe(8);
      expect(dev.ittAddr).toBe(harnessItt(0, 7));
      expect(h.vgic.lpiExists(8192)).toBe(false);
      expect(refs(h, 8193)).toBe(1); // still referenced by device 2
      expect(h.cache.size(0)).toBe(0);
      expect(its.injectMsi(1, 0)).toBe(0);
    });

    it('9.20 MAPD with V=0 removes the device and writes a zero DTE at its slot (mapped or not)', () => {
      const dte = (id: number) => h.mem.read64(harnessDeviceTable(0) + id * 8);
      h.mem.write64(harnessDeviceTable(0) + 5 * 8, 0xdead_beef_dead_beefn);
      h.mem.write64(harnessDeviceTable(0) + 6 * 8, 0xdead_beef_dead_beefn);
      expect(h.run(0, mapd(5), C.mapc(0, 0), C.mapti(5, 3, 8200, 0))).toEqual([0, 0, 0]);
      expect(h.run1(0, mapd(5, 5, false))).toBe(0);
      expect(its.tr.devices.has(5)).toBe(false);
      expect(h.vgic.lpiExists(8200)).toBe(false);
      expect(dte(5)).toBe(0n);
      expect(h.run1(0, mapd(6, 5, false))).toBe(0);
      expect(dte(6)).toBe(0n);
      expect(h.run1(0, C.mapti(5, 3, 8200, 0))).toBe(u.E_ITS_MAPTI_UNMAPPED_DEVICE);
    });

    it('the ITT address is not validated at MAPD time (an ITT outside RAM makes every MAPTI fail)', () => {
      expect(h.run1(0, C.mapd(3, 5, 0x1000_0000))).toBe(0);
      expect(h.run1(0, C.mapti(3, 0, 8192, 0))).toBe(u.E_ITS_MAPTI_ID_OOR);
    });
  });

  describe('two-level (indirect) device tables', () => {
    const L1 = harnessDeviceTable(0);
    beforeEach(() => {
      its.mmioWrite(u.GITS_CTLR, 4, 0n);
      its.mmioWrite(u.GITS_BASER, 8, u.makeGitsBaser({
        valid: true, indirect: true, type: u.GITS_BASER_TYPE_DEVICE, entrySize: 8, address: L1, size: 0,
      }));
      its.mmioWrite(u.GITS_CTLR, 4, 1n);
    });

    it('an invalid level-1 entry makes its DeviceIDs OOR; a valid one places DTEs in its level-2 page', () => {
      expect(h.run1(0, mapd(5))).toBe(u.E_ITS_MAPD_DEVICE_OOR); // L1[0] is zero
      h.mem.write64(L1 + 8, u.packL1e({ valid: true, l2Addr: SPARE })); // L1[1]: DeviceIDs 8192..16383
      expect(h.run1(0, mapd(5))).toBe(u.E_ITS_MAPD_DEVICE_OOR);
      expect(h.run1(0, C.mapd(8192 + 7, 5, harnessItt(0, 7)))).toBe(0);
      expect(h.run1(0, C.mapd(16383, 5, harnessItt(0, 8)))).toBe(0);
      expect(h.run1(0, C.mapd(16384, 5, harnessItt(0, 9)))).toBe(u.E_ITS_MAPD_DEVICE_OOR); // L1[2] invalid
      // The unmap writes the zero DTE into the level-2 page.
      h.mem.write64(SPARE + 7 * 8, 0x1234n);
      expect(h.run1(0, C.mapd(8192 + 7, 5, 0, false))).toBe(0);
      expect(h.mem.read64(SPARE + 7 * 8)).toBe(0n);
      expect(h.mem.read64(L1 + 8)).toBe(u.packL1e({ valid: true, l2Addr: SPARE }));
      expect([...its.tr.devices.keys()]).toEqual([16383]);
      // The 16-bit DeviceID limit applies here too.
      expect(h.run1(0, mapd(0x1_0000))).toBe(u.E_ITS_MAPD_DEVICE_OOR);
    });

    it('a level-1 entry pointing outside RAM, or a level-1 table outside RAM, gives DEVICE_OOR', () => {
      h.mem.write64(L1, u.packL1e({ valid: true, l2Addr: 0x2000_0000 }));
      expect(h.run1(0, mapd(5))).toBe(u.E_ITS_MAPD_DEVICE_OOR);
      // Level-2 page straddling the end of RAM: the slot decides.
      h.mem.write64(L1, u.packL1e({ valid: true, l2Addr: RAM_END - 0x1_0000 }));
      expect(h.run1(0, mapd(8191))).toBe(0);
      its.mmioWrite(u.GITS_CTLR, 4, 0n);
      its.mmioWrite(u.GITS_BASER, 8, u.makeGitsBaser({
        valid: true, indirect: true, type: u.GITS_BASER_TYPE_DEVICE, entrySize: 8, address: 0x2000_0000, size: 0,
      }));
      its.mmioWrite(u.GITS_CTLR, 4, 1n);
      expect(h.run1(0, mapd(5))).toBe(u.E_ITS_MAPD_DEVICE_OOR);
    });

    it('bits of the level-1 entry outside 51:16 are ignored', () => {
      h.mem.write64(L1, u.packL1e({ valid: true, l2Addr: SPARE }) | 0x7ff0_0000_0000_ffffn);
      expect(h.run1(0, mapd(4))).toBe(0);
      h.mem.write64(SPARE + 4 * 8, 0x55n);
      expect(h.run1(0, mapd(4, 5, false))).toBe(0);
      expect(h.mem.read64(SPARE + 4 * 8)).toBe(0n);
    });
  });

  describe('MAPC', () => {
    it('V=1 with a nonexistent vcpu_id is E_ITS_MAPC_PROCNUM_OOR, checked before the ICID', () => {
      expect(h.run1(0, C.mapc(1, 4))).toBe(u.E_ITS_MAPC_PROCNUM_OOR);
      expect(h.run1(0, C.mapc(1, 0xffff_ffff))).toBe(u.E_ITS_MAPC_PROCNUM_OOR);
      expect(h.run1(0, C.mapc(9000, 7))).toBe(u.E_ITS_MAPC_PROCNUM_OOR);
      expect(its.tr.collections.size).toBe(0);
    });

    it('V=1 with an ICID the collection table cannot hold is E_ITS_MAPC_COLLECTION_OOR', () => {
      expect(h.run1(0, C.mapc(8191, 3))).toBe(0);
      expect(h.run1(0, C.mapc(8192, 3))).toBe(u.E_ITS_MAPC_COLLECTION_OOR);
      expect([...its.tr.collections]).toEqual([[8191, 3]]);
    });

    it('V=0 removes the collection whatever RDbase says; removing an absent one is fine', () => {
      expect(h.run1(0, C.mapc(2, 1))).toBe(0);
      expect(h.run1(0, C.mapc(2, 0xffff_ffff, false))).toBe(0);
      expect(its.tr.collections.size).toBe(0);
      expect(h.run1(0, C.mapc(9999, 77, false))).toBe(0);
    });

    it('V=0 detaches ITEs from the collection for good and empties the cache', () => {
      expect(h.run(0, mapd(1), C.mapc(2, 1), C.mapti(1, 0, 8192, 2), C.mapti(1, 1, 8193, 2))).toEqual([0, 0, 0, 0]);
      expect(its.injectMsi(1, 0)).toBe(1);
      expect(h.run1(0, C.mapc(2, 1, false))).toBe(0);
      expect(h.cache.size(0)).toBe(0);
      expect(its.snapshot().devices[0]!.ites.map((i) => i.icid)).toEqual([null, null]);
      expect(h.run1(0, C.mapc(2, 1))).toBe(0); // a new collection 2
      expect(its.injectMsi(1, 0)).toBe(0);
      expect(h.run1(0, C.int(1, 0))).toBe(u.E_ITS_INT_UNMAPPED_INTERRUPT);
      expect(h.run1(0, C.movi(1, 0, 2))).toBe(u.E_ITS_MOVI_UNMAPPED_COLLECTION);
      expect(h.run1(0, C.discard(1, 0))).toBe(u.E_ITS_DISCARD_UNMAPPED_INTERRUPT);
      expect(h.run1(0, C.inv(1, 0))).toBe(0); // INV and CLEAR need only the ITE
      expect(h.run1(0, C.clear(1, 0))).toBe(0);
      // The LPIs keep their old target: MAPC V=0 does not retarget.
      expect(h.vgic.lpiTarget(8192)).toBe(1);
    });

    it('a remap retargets every LPI of this ITS whose ITE names the collection, without invalidating the cache', () => {
      expect(h.run(0, mapd(1), mapd(2), C.mapc(1, 0), C.mapc(2, 1),
        C.mapti(1, 0, 8192, 1), C.mapti(2, 0, 8193, 1), C.mapti(1, 1, 8194, 2))).toEqual([0, 0, 0, 0, 0, 0, 0]);
      expect(its.injectMsi(1, 0)).toBe(1);
      expect(its.injectMsi(2, 0)).toBe(1);
      expect(h.cache.size(0)).toBe(2);
      expect(h.run1(0, C.mapc(1, 3))).toBe(0);
      expect(h.vgic.lpiTarget(8192)).toBe(3);
      expect(h.vgic.lpiTarget(8193)).toBe(3);
      expect(h.vgic.lpiTarget(8194)).toBe(1);
      expect(h.cache.size(0)).toBe(2);
      expect(h.cache.lookup(0, 2, 0)).toBe(8193);
      // Pending LPIs move to the new target's ap_list.
      expect(queuedOn(h, 8192)).toBe(3);
      expect(its.snapshot().collections).toEqual([{ icid: 1, target: 3 }, { icid: 2, target: 1 }]);
    });
  });

  describe('MAPTI / MAPI', () => {
    beforeEach(() => {
      expect(h.run(0, mapd(1), C.mapc(1, 1), C.mapc(2, 2))).toEqual([0, 0, 0]);
    });

    it('9.17 MAPTI on an already-mapped (DeviceID, EventID) is a silent no-op', () => {
      expect(h.run1(0, C.mapti(1, 5, 8200, 1))).toBe(0);
      expect(h.run1(0, C.mapti(1, 5, 8300, 2))).toBe(0);
      expect(h.run1(0, C.mapti(1, 5, 8300, 77))).toBe(0);
      expect(its.tr.findIte(1, 5)).toEqual({ icid: 1, intid: 8200 });
      expect(refs(h, 8200)).toBe(1);
      expect(h.vgic.lpiExists(8300)).toBe(false);
      expect(its.tr.collections.has(77)).toBe(false);
      expect(h.vgic.lpiTarget(8200)).toBe(1);
    });

    it('9.18 MAPTI with a never-MAPC\'d collection creates it unmapped; a later MAPC makes its LPIs deliverable and retargets them', () => {
      expect(h.run1(0, C.mapti(1, 0, 8192, 7))).toBe(0);
      expect(its.tr.collections.get(7)).toBe(NOT_MAPPED);
      expect(its.snapshot().collections.at(-1)).toEqual({ icid: 7, target: 0xffff_ffff });
      expect(h.vgic.lpiTarget(8192)).toBe(-1);
      expect(its.injectMsi(1, 0)).toBe(0);
      expect(h.run1(0, C.int(1, 0))).toBe(u.E_ITS_INT_UNMAPPED_INTERRUPT);
      expect(pending(h, 8192)).toBe(false);
      expect(h.run1(0, C.mapc(7, 2))).toBe(0);
      expect(h.vgic.lpiTarget(8192)).toBe(2);
      expect(its.injectMsi(1, 0)).toBe(1);
      expect(queuedOn(h, 8192)).toBe(2);
      expect(apCount(h, 2)).toBe(1);
    });

    it('9.19 pINTIDs below 8192 or at/above 2^min(PROPBASER.IDbits+1, 16) are rejected', () => {
      const setIdBits = (idBits: number) => h.st.setPropbaser(u.makeGicrPropbaser({ address: HARNESS_PROP_TABLE, idBits }));
      expect(h.run1(0, C.mapti(1, 0, 8191, 1))).toBe(u.E_ITS_MAPTI_PHYSICALID_OOR);
      expect(h.run1(0, C.mapti(1, 0, 0, 1))).toBe(u.E_ITS_MAPTI_PHYSICALID_OOR);
      expect(h.run1(0, C.mapti(1, 0, 8192, 1))).toBe(0);
      expect(h.run1(0, C.mapti(1, 1, 65535, 1))).toBe(0);
      expect(h.run1(0, C.mapti(1, 2, 65536, 1))).toBe(u.E_ITS_MAPTI_PHYSICALID_OOR);
      expect(h.run1(0, C.mapti(1, 2, 0xffff_ffff, 1))).toBe(u.E_ITS_MAPTI_PHYSICALID_OOR);
      setIdBits(13); // 14 bits: INTIDs below 16384
      expect(h.run1(0, C.mapti(1, 3, 16383, 1))).toBe(0);
      expect(h.run1(0, C.mapti(1, 4, 16384, 1))).toBe(u.E_ITS_MAPTI_PHYSICALID_OOR);
      setIdBits(31); // capped at 16 bits
      expect(h.run1(0, C.mapti(1, 4, 65535, 1))).toBe(0);
      expect(h.run1(0, C.mapti(1, 5, 65536, 1))).toBe(u.E_ITS_MAPTI_PHYSICALID_OOR);
      setIdBits(12); // 13 bits: no LPI is mappable
      expect(h.run1(0, C.mapti(1, 6, 8192, 1))).toBe(u.E_ITS_MAPTI_PHYSICALID_OOR);
      expect([...its.tr.devices.get(1)!.ites.keys()]).toEqual([0, 1, 3, 4]);
    });

    it('MAPI uses the EventID as the pINTID', () => {
      expect(h.run1(0, C.mapd(2, 14, SPARE))).toBe(0);
      expect(h.run1(0, C.mapi(2, 8200, 2))).toBe(0);
      expect(its.tr.findIte(2, 8200)).toEqual({ icid: 2, intid: 8200 });
      expect(h.vgic.lpiTarget(8200)).toBe(2);
      expect(h.run1(0, C.mapi(2, 5, 2))).toBe(u.E_ITS_MAPTI_PHYSICALID_OOR);
      expect(h.run1(0, C.mapi(3, 8201, 2))).toBe(u.E_ITS_MAPTI_UNMAPPED_DEVICE);
    });

    it('checks run in order: device, EventID, pINTID, existing ITE, collection', () => {
      expect(h.run1(0, C.mapti(9, 99, 5, 9000))).toBe(u.E_ITS_MAPTI_UNMAPPED_DEVICE);
      expect(h.run1(0, C.mapti(1, 32, 5, 9000))).toBe(u.E_ITS_MAPTI_ID_OOR); // 5 EventID bits
      expect(h.run1(0, C.mapti(1, 0xffff_ffff, 8192, 1))).toBe(u.E_ITS_MAPTI_ID_OOR);
      expect(h.run1(0, C.mapti(1, 31, 5, 9000))).toBe(u.E_ITS_MAPTI_PHYSICALID_OOR);
      expect(h.run1(0, C.mapti(1, 31, 8192, 1))).toBe(0);
      expect(h.run1(0, C.mapti(1, 31, 5, 1))).toBe(u.E_ITS_MAPTI_PHYSICALID_OOR); // before the existing-ITE test
      expect(h.run1(0, C.mapti(1, 31, 8193, 9000))).toBe(0); // existing ITE: before the collection test
      expect(h.run1(0, C.mapti(1, 30, 8193, 8192))).toBe(u.E_ITS_MAPC_COLLECTION_OOR);
      expect(its.tr.findIte(1, 30)).toBeUndefined();
      expect(its.tr.collections.has(8192)).toBe(false);
      expect(h.vgic.lpiExists(8193)).toBe(false);
    });

    it('an ITT slot outside every memslot is E_ITS_MAPTI_ID_OOR (today\'s check_event_id)', () => {
      expect(h.run1(0, C.mapd(4, 8, RAM_END - 0x100))).toBe(0);
      expect(h.run1(0, C.mapti(4, 31, 8192, 1))).toBe(0);
      expect(h.run1(0, C.mapti(4, 32, 8193, 1))).toBe(u.E_ITS_MAPTI_ID_OOR);
    });

    it('a failing LPI creation (-EFAULT reading the property table) undoes the ITE and a new collection', () => {
      h.st.setPropbaser(u.makeGicrPropbaser({ address: 0x1000_0000, idBits: 15 }));
      expect(h.run1(0, C.mapti(1, 0, 8192, 40))).toBe(EFAULT);
      expect(its.tr.findIte(1, 0)).toBeUndefined();
      expect(its.tr.collections.has(40)).toBe(false);
      expect(h.run1(0, C.mapti(1, 0, 8192, 1))).toBe(EFAULT);
      expect(its.tr.collections.get(1)).toBe(1); // an existing collection stays
      expect(h.vgic.lpiExists(8192)).toBe(false);
      expect(its.stats.byCommand.MAPTI!.results['-EFAULT']).toBe(2);
    });

    it('a new LPI takes priority/enable from the property table and consumes its pending bit', () => {
      h.setLpiProp(8201, 0x40, false);
      const byte = harnessPendTable(2) + (8201 >> 3);
      h.mem.write8(byte, 0xff);
      expect(h.run1(0, C.mapti(1, 1, 8201, 2))).toBe(0);
      expect(h.vgic.lpiPriority(8201)).toBe(0x40);
      expect(h.vgic.lpiFlags(8201)).toBe(F_PENDING);
      expect(h.mem.read8(byte)).toBe(0xff & ~(1 << (8201 & 7)));
      // An unmapped collection: no target, so no pending table to consume from.
      const b2 = harnessPendTable(0) + (8210 >> 3);
      h.mem.write8(b2, 0xff);
      expect(h.run1(0, C.mapti(1, 2, 8210, 33))).toBe(0);
      expect(h.vgic.lpiTarget(8210)).toBe(-1);
      expect(pending(h, 8210)).toBe(false);
    });

    it('LPIs are VM-global: a second ITE for the same pINTID shares the object and keeps its target', () => {
      expect(h.run(0, mapd(2), C.mapti(1, 0, 8192, 1), C.mapti(2, 0, 8192, 2))).toEqual([0, 0, 0]);
      expect(refs(h, 8192)).toBe(2);
      expect(h.vgic.lpiTarget(8192)).toBe(1);
      expect(h.run1(0, C.discard(1, 0))).toBe(0);
      expect(refs(h, 8192)).toBe(1);
      expect(h.vgic.lpiExists(8192)).toBe(true);
    });
  });

  describe('MOVI', () => {
    beforeEach(() => {
      expect(h.run(0, mapd(1), C.mapc(1, 1), C.mapc(2, 2), C.mapti(1, 0, 8192, 1), C.mapti(1, 1, 8193, 50)))
        .toEqual([0, 0, 0, 0, 0]);
    });

    it('checks: no ITE, ITE collection unmapped, new collection absent or unmapped', () => {
      expect(h.run1(0, C.movi(1, 9, 2))).toBe(u.E_ITS_MOVI_UNMAPPED_INTERRUPT);
      expect(h.run1(0, C.movi(7, 0, 2))).toBe(u.E_ITS_MOVI_UNMAPPED_INTERRUPT);
      expect(h.run1(0, C.movi(1, 1, 2))).toBe(u.E_ITS_MOVI_UNMAPPED_COLLECTION); // ITE on unmapped 50
      expect(h.run1(0, C.movi(1, 0, 3))).toBe(u.E_ITS_MOVI_UNMAPPED_COLLECTION); // 3 absent
      expect(h.run1(0, C.movi(1, 0, 50))).toBe(u.E_ITS_MOVI_UNMAPPED_COLLECTION); // 50 unmapped
      expect(its.tr.findIte(1, 0)).toEqual({ icid: 1, intid: 8192 });
      expect(its.tr.collections.has(3)).toBe(false);
    });

    it('moves the ITE, retargets the LPI with its pending state, empties the cache', () => {
      h.setLpiProp(8192, 0xa0, false); // keep it pending and unqueued
      expect(h.run1(0, C.inv(1, 0))).toBe(0);
      expect(its.injectMsi(1, 0)).toBe(1);
      expect(h.cache.size(0)).toBe(1);
      expect(h.run1(0, C.movi(1, 0, 2))).toBe(0);
      expect(its.tr.findIte(1, 0)).toEqual({ icid: 2, intid: 8192 });
      expect(h.vgic.lpiTarget(8192)).toBe(2);
      expect(pending(h, 8192)).toBe(true);
      expect(h.cache.size(0)).toBe(0);
    });
  });

  describe('DISCARD, CLEAR, INT, INV, INVALL', () => {
    beforeEach(() => {
      expect(h.run(0, mapd(1), C.mapc(1, 1), C.mapti(1, 0, 8192, 1), C.mapti(1, 1, 8193, 60))).toEqual([0, 0, 0, 0]);
    });

    it('9.21 DISCARD of an ITE whose collection is unmapped (or of no ITE) is rejected and changes nothing', () => {
      expect(h.run1(0, C.discard(1, 1))).toBe(u.E_ITS_DISCARD_UNMAPPED_INTERRUPT);
      expect(h.run1(0, C.discard(1, 2))).toBe(u.E_ITS_DISCARD_UNMAPPED_INTERRUPT);
      expect(h.run1(0, C.discard(2, 0))).toBe(u.E_ITS_DISCARD_UNMAPPED_INTERRUPT);
      expect(its.tr.findIte(1, 1)).toEqual({ icid: 60, intid: 8193 });
      expect(h.vgic.lpiExists(8193)).toBe(true);
    });

    it('DISCARD frees the ITE and the LPI (pending state too), zeroes the ITT slot, empties the cache', () => {
      const slot = harnessItt(0, 1);
      h.mem.write64(slot, 0xffff_ffff_ffff_ffffn);
      h.mem.write64(slot + 8, 0x1111n);
      h.setLpiProp(8192, 0xa0, false);
      expect(h.run1(0, C.inv(1, 0))).toBe(0);
      expect(its.injectMsi(1, 0)).toBe(1);
      expect(pending(h, 8192)).toBe(true);
      expect(h.run1(0, C.discard(1, 0))).toBe(0);
      expect(its.tr.findIte(1, 0)).toBeUndefined();
      expect(h.vgic.lpiExists(8192)).toBe(false);
      expect(h.vgic.lpiFlags(8192)).toBe(0);
      expect(h.mem.read64(slot)).toBe(0n);
      expect(h.mem.read64(slot + 8)).toBe(0x1111n);
      expect(h.cache.size(0)).toBe(0);
      expect(its.injectMsi(1, 0)).toBe(0);
    });

    it('9.21 CLEAR drops the pending latch without requeueing; it needs an ITE but not a mapped collection', () => {
      expect(h.run1(0, C.clear(1, 9))).toBe(u.E_ITS_CLEAR_UNMAPPED_INTERRUPT);
      expect(h.run1(0, C.clear(3, 0))).toBe(u.E_ITS_CLEAR_UNMAPPED_INTERRUPT);
      expect(h.run1(0, C.int(1, 0))).toBe(0);
      expect(pending(h, 8192)).toBe(true);
      expect(queuedOn(h, 8192)).toBe(1);
      expect(h.run1(0, C.clear(1, 0))).toBe(0);
      expect(pending(h, 8192)).toBe(false);
      expect(queuedOn(h, 8192)).toBe(1); // still on the ap_list: queueing is not re-evaluated
      expect(apCount(h, 1)).toBe(1);
      expect(h.run1(0, C.clear(1, 1))).toBe(0); // collection 60 is unmapped
    });

    it('INT: E_ITS_INT_UNMAPPED_INTERRUPT without a mapped ITE, -EBUSY with the target\'s LPIs off, else pending + cached', () => {
      expect(h.run1(0, C.int(1, 5))).toBe(u.E_ITS_INT_UNMAPPED_INTERRUPT);
      expect(h.run1(0, C.int(9, 0))).toBe(u.E_ITS_INT_UNMAPPED_INTERRUPT);
      expect(h.run1(0, C.int(1, 1))).toBe(u.E_ITS_INT_UNMAPPED_INTERRUPT);
      h.setLpisEnabled(1, false);
      expect(h.run1(0, C.int(1, 0))).toBe(EBUSY);
      expect(pending(h, 8192)).toBe(false);
      expect(h.cache.size(0)).toBe(0);
      h.setLpisEnabled(1, true);
      expect(h.run1(0, C.int(1, 0))).toBe(0);
      expect(pending(h, 8192)).toBe(true);
      expect(queuedOn(h, 8192)).toBe(1);
      expect(h.cache.lookup(0, 1, 0)).toBe(8192);
    });

    it('INV: E_ITS_INV_UNMAPPED_INTERRUPT without an ITE; else the config byte is re-read (-EFAULT if unreadable)', () => {
      expect(h.run1(0, C.inv(1, 7))).toBe(u.E_ITS_INV_UNMAPPED_INTERRUPT);
      h.setLpiProp(8192, 0x30, false);
      expect(h.vgic.lpiPriority(8192)).toBe(0xa0);
      expect(h.run1(0, C.inv(1, 0))).toBe(0);
      expect(h.vgic.lpiPriority(8192)).toBe(0x30);
      expect(h.vgic.lpiFlags(8192) & F_ENABLED).toBe(0);
      h.st.setPropbaser(u.makeGicrPropbaser({ address: 0x1000_0000, idBits: 15 }));
      expect(h.run1(0, C.inv(1, 0))).toBe(EFAULT);
    });

    it('INVALL: E_ITS_INVALL_UNMAPPED_COLLECTION for an absent or unmapped collection', () => {
      expect(h.run1(0, C.invall(3))).toBe(u.E_ITS_INVALL_UNMAPPED_COLLECTION);
      expect(h.run1(0, C.invall(60))).toBe(u.E_ITS_INVALL_UNMAPPED_COLLECTION);
      expect(h.run1(0, C.invall(1))).toBe(0);
    });
  });

  describe('MOVALL', () => {
    beforeEach(() => {
      expect(h.run(0, mapd(1), C.mapc(1, 1), C.mapc(2, 2), C.mapti(1, 0, 8192, 1), C.mapti(1, 1, 8193, 1),
        C.mapti(1, 2, 8194, 2), C.mapti(1, 3, 8195, 77))).toEqual([0, 0, 0, 0, 0, 0, 0]);
      expect(its.injectMsi(1, 0)).toBe(1);
    });

    it('9.22 MOVALL with identical RDbases is a no-op; a nonexistent vcpu_id is E_ITS_MOVALL_PROCNUM_OOR', () => {
      expect(h.run1(0, C.movall(1, 1))).toBe(0);
      expect(h.run1(0, C.movall(1, 4))).toBe(u.E_ITS_MOVALL_PROCNUM_OOR);
      expect(h.run1(0, C.movall(4, 1))).toBe(u.E_ITS_MOVALL_PROCNUM_OOR);
      expect(h.run1(0, C.movall(0xffff_ffff, 0xffff_ffff))).toBe(u.E_ITS_MOVALL_PROCNUM_OOR);
      expect([8192, 8193, 8194, 8195].map((i) => h.vgic.lpiTarget(i))).toEqual([1, 1, 2, -1]);
      expect(h.cache.size(0)).toBe(1);
    });

    it('moves the LPIs targeting RDbase1 (collections keep their targets) and empties the cache', () => {
      expect(h.run1(0, C.movall(1, 3))).toBe(0);
      expect([8192, 8193, 8194, 8195].map((i) => h.vgic.lpiTarget(i))).toEqual([3, 3, 2, -1]);
      expect(its.tr.collections.get(1)).toBe(1);
      expect(h.cache.size(0)).toBe(0);
      expect(queuedOn(h, 8192)).toBe(3);
    });

    it('with movallAllLpis every LPI of the VM moves (the [ITS-new] snapshot quirk)', () => {
      const q = new ItsHarness({ movallAllLpis: true });
      const i0 = q.enable(0);
      expect(q.run(0, C.mapd(1, 5, harnessItt(0, 1)), C.mapc(1, 1), C.mapc(2, 2), C.mapti(1, 0, 8192, 1),
        C.mapti(1, 2, 8194, 2), C.mapti(1, 3, 8195, 77))).toEqual([0, 0, 0, 0, 0, 0]);
      expect(q.run1(0, C.movall(1, 3))).toBe(0);
      expect([8192, 8194, 8195].map((i) => q.vgic.lpiTarget(i))).toEqual([3, 3, 3]);
      expect(q.run1(0, C.movall(0, 0))).toBe(0);
      expect(i0.enabled).toBe(true);
    });
  });

  describe('the queue processor (9.11)', () => {
    it('9.11 a failing command has no effect and CREADR advances by 32; SYNC and unknown opcodes (GICv4 too) likewise', () => {
      expect(h.run(0, mapd(1), C.mapc(1, 1), C.mapti(1, 0, 8192, 1))).toEqual([0, 0, 0]);
      const before = its.snapshot();
      const failing = [
        C.mapd(8192, 5, 0), mapd(2, 17), C.mapc(1, 9), C.mapc(9000, 0), C.mapti(5, 0, 8192, 1), C.mapti(1, 99, 8192, 1),
        C.mapti(1, 1, 100, 1), C.mapti(1, 1, 8200, 9000), C.movi(1, 5, 1), C.movi(1, 0, 44), C.discard(1, 5),
        C.clear(1, 5), C.int(1, 5), C.inv(1, 5), C.invall(44), C.movall(0, 9),
        C.sync(), ...u.GITS_CMD_GICV4_OPCODES.map((op) => C.unknown(op)), C.unknown(0), C.unknown(0xff), C.unknown(0x02),
      ];
      let creadr = its.creadr;
      for (const c of failing) {
        h.run(0, c);
        creadr += 32;
        expect(its.creadr).toBe(creadr);
        expect(its.cwriter).toBe(creadr);
      }
      expect(h.lastResults).toEqual([ENODEV]);
      const after = its.snapshot();
      expect({ ...after, creadr: 0, cwriter: 0 }).toEqual({ ...before, creadr: 0, cwriter: 0 });
      expect(its.stats.byCommand.VMAPP!.results['-ENODEV']).toBe(1);
      expect(its.stats.byCommand.SYNC!.results.OK).toBe(1);
      expect(its.stats.byResult['-ENODEV']).toBe(u.GITS_CMD_GICV4_OPCODES.length + 3);
      expect(its.stats.failed).toBe(failing.length - 1);
      expect(h.vgic.lpiFlags(8192) & F_PENDING).toBe(0);
    });

    it('9.11 CREADR wraps to 0 at the queue size; commands straddling the end run in order', () => {
      h.enable(0, { cbaserSize: 0 }); // 4 KiB: 128 slots
      const syncs = Array.from({ length: 126 }, () => C.sync());
      expect(h.run(0, ...syncs)).toHaveLength(126);
      expect(its.creadr).toBe(126 * 32);
      expect(h.run(0, mapd(1), C.mapc(1, 2), C.mapti(1, 0, 8192, 1), C.int(1, 0))).toEqual([0, 0, 0, 0]);
      expect(its.creadr).toBe(64);
      expect(its.cwriter).toBe(64);
      expect(pending(h, 8192)).toBe(true);
      // Exactly a full lap minus one slot.
      expect(h.run(0, ...Array.from({ length: 127 }, () => C.sync()))).toHaveLength(127);
      expect(its.creadr).toBe(32);
    });

    it('9.11 an unreadable command (queue outside RAM) is skipped, CREADR still advances', () => {
      h.enable(0, { cmdQueue: 0x2000_0000, cbaserSize: 0 });
      expect(its.enabled).toBe(true);
      expect(h.advance(0, 96)).toEqual([]);
      expect(its.creadr).toBe(96);
      expect(its.stats.unreadable).toBe(3);
      expect(its.stats.processed).toBe(0);
      // A queue whose second half is beyond the end of RAM.
      h.enable(0, { cmdQueue: RAM_END - 0x1_0000, cbaserSize: 31 });
      expect(h.advance(0, 0x1_0000 - 32)).toHaveLength(2047);
      expect(h.advance(0, 0x1_0040)).toHaveLength(1); // the last readable slot
      expect(its.stats.unreadable).toBe(3 + 2);
      expect(its.creadr).toBe(0x1_0040);
    });

    it('9.11 random command bytes never throw and keep the translation state consistent', () => {
      let seed = 42;
      const next = (): number => { // mulberry32
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
      };
      const rnd = (n: number) => Math.floor(next() * n);
      const opcodes = [1, 3, 3, 4, 5, 8, 9, 9, 10, 10, 10, 11, 12, 13, 14, 15, 0x22, 0x29, 0, 0x80];
      const small = () => (rnd(8) === 0 ? rnd(2 ** 32) >>> 0 : rnd(6));
      h.enable(0, { cbaserSize: 0 });
      for (let round = 0; round < 40; round++) {
        const raw = new Uint8Array(32 * 64);
        const dv = new DataView(raw.buffer);
        for (let i = 0; i < 64; i++) {
          const o = i * 32;
          if (rnd(10) === 0) {
            for (let k = 0; k < 32; k++) raw[o + k] = rnd(256);
            continue;
          }
          const op = opcodes[rnd(opcodes.length)]!;
          raw[o] = op;
          dv.setUint32(o + 4, small(), true); // DeviceID
          // MAPD: Size (EventID bits - 1, up to 20 bits asked); others: EventID (MAPI: also the pINTID).
          dv.setUint32(o + 8, op === u.GITS_CMD_MAPD ? rnd(20) : rnd(3) === 0 ? 8192 + rnd(16) : small(), true);
          dv.setUint32(o + 12, rnd(4) === 0 ? small() : 8192 + rnd(16), true); // pINTID
          const valid = rnd(4) === 0 ? 0 : 0x8000_0000;
          if (op === u.GITS_CMD_MAPD) {
            dv.setUint32(o + 16, harnessItt(0, rnd(6)) >>> 0, true);
            dv.setUint32(o + 20, valid, true);
          } else {
            // ICID (mostly small), RDbase 0..4 (4 does not exist), rarely huge.
            dv.setUint32(o + 16, ((rnd(8) === 0 ? rnd(2 ** 16) : rnd(4)) | (rnd(5) << 16)) >>> 0, true);
            dv.setUint32(o + 20, (valid | (rnd(8) === 0 ? rnd(2 ** 16) : 0)) >>> 0, true);
          }
          dv.setUint32(o + 24, (rnd(5) << 16) >>> 0, true); // RDbase2
          dv.setUint32(o + 28, rnd(8) === 0 ? rnd(2 ** 32) : 0, true);
        }
        expect(() => h.runRaw(0, raw)).not.toThrow();
        expect(its.creadr).toBe(its.cwriter);
        expect(h.locksFree()).toBe(true);
        if (rnd(4) === 0) its.injectMsi(rnd(6), rnd(6));
        // Invariants: ITEs name existing collections or null; every ITE holds one reference.
        const expected = new Map<number, number>();
        for (const dev of its.tr.devices.values()) {
          for (const [eventId, ite] of dev.ites) {
            expect(eventId).toBeLessThan(2 ** dev.eventIdBits);
            if (ite.icid !== null) expect(its.tr.collections.has(ite.icid)).toBe(true);
            expected.set(ite.intid, (expected.get(ite.intid) ?? 0) + 1);
          }
        }
        for (const intid of h.vgic.lpis()) expect(refs(h, intid)).toBe(expected.get(intid) ?? -1);
        expect(h.vgic.lpis().length).toBe(expected.size);
      }
      expect(its.stats.processed).toBe(40 * 64);
      expect(Object.keys(its.stats.byResult).length).toBeGreaterThan(8);
      expect(its.stats.byResult.OK ?? 0).toBeGreaterThan(100);
    });
  });

  describe('stats and snapshot', () => {
    it('count per command and per result', () => {
      h.run(0, mapd(1), mapd(1, 17), C.mapc(1, 1), C.mapc(1, 7), C.mapti(1, 0, 8192, 1), C.int(1, 0), C.int(1, 1));
      const s = its.stats;
      expect(s.processed).toBe(7);
      expect(s.failed).toBe(3);
      expect(s.byCommand.MAPD).toEqual({ count: 2, results: { OK: 1, E_ITS_MAPD_ITTSIZE_OOR: 1 } });
      expect(s.byCommand.MAPC).toEqual({ count: 2, results: { OK: 1, E_ITS_MAPC_PROCNUM_OOR: 1 } });
      expect(s.byCommand.INT).toEqual({ count: 2, results: { OK: 1, E_ITS_INT_UNMAPPED_INTERRUPT: 1 } });
      expect(s.byResult).toEqual({ OK: 4, E_ITS_MAPD_ITTSIZE_OOR: 1, E_ITS_MAPC_PROCNUM_OOR: 1, E_ITS_INT_UNMAPPED_INTERRUPT: 1 });
      expect(s.last).toEqual({ opcode: u.GITS_CMD_INT, command: 'INT', result: u.E_ITS_INT_UNMAPPED_INTERRUPT });
    });

    it('the snapshot is a sorted deep copy: devices by DeviceID, ITEs by EventID, collections in creation order', () => {
      h.run(0, mapd(9), mapd(3), C.mapc(5, 0), C.mapc(2, 1), C.mapti(9, 4, 8300, 2), C.mapti(9, 1, 8301, 5),
        C.mapti(3, 0, 8302, 11), C.mapc(5, 3));
      const snap = its.snapshot();
      expect(snap.devices.map((d) => d.deviceId)).toEqual([3, 9]);
      expect(snap.devices[1]).toEqual({
        deviceId: 9, ittAddr: harnessItt(0, 9), eventIdBits: 5,
        ites: [{ eventId: 1, intid: 8301, icid: 5 }, { eventId: 4, intid: 8300, icid: 2 }],
      });
      expect(snap.collections).toEqual([{ icid: 5, target: 3 }, { icid: 2, target: 1 }, { icid: 11, target: NOT_MAPPED }]);
      expect(snap.enabled).toBe(true);
      expect(snap.baser).toEqual([its.baserDevice, its.baserCollection]);
      snap.devices[0]!.ites.length = 0;
      snap.collections.length = 0;
      expect(its.snapshot().collections).toHaveLength(3);
      expect(its.tr.devices.get(3)!.ites.size).toBe(1);
    });
  });
});

describe('several ITSs', () => {
  it('9.21 INVALL re-reads every LPI of the VM targeting the collection\'s vCPU, whichever ITS mapped it', () => {
    const h = new ItsHarness({ nrIts: 2 });
    h.enable(0);
    h.enable(1);
    expect(h.run(1, C.mapd(1, 5, harnessItt(1, 1)), C.mapc(0, 1), C.mapti(1, 0, 8300, 0))).toEqual([0, 0, 0]);
    expect(h.run(0, C.mapd(1, 5, harnessItt(0, 1)), C.mapc(1, 1), C.mapc(2, 2), C.mapti(1, 0, 8200, 1),
      C.mapti(1, 1, 8201, 2))).toEqual([0, 0, 0, 0, 0]);
    for (const intid of [8200, 8201, 8300]) h.setLpiProp(intid, 0x20, true);
    expect(h.run1(0, C.invall(1))).toBe(0);
    expect([8200, 8201, 8300].map((i) => h.vgic.lpiPriority(i))).toEqual([0x20, 0xa0, 0x20]);
  });

  it('MOVALL moves LPIs of other ITSs too but only empties its own cache; state and caches are per ITS', () => {
    const h = new ItsHarness({ nrIts: 2 });
    const [a, b] = [h.enable(0), h.enable(1)];
    expect(h.run(1, C.mapd(1, 5, harnessItt(1, 1)), C.mapc(0, 1), C.mapti(1, 0, 8300, 0))).toEqual([0, 0, 0]);
    expect(h.run(0, C.mapd(1, 5, harnessItt(0, 1)), C.mapc(0, 1), C.mapti(1, 0, 8200, 0))).toEqual([0, 0, 0]);
    expect(a.injectMsi(1, 0)).toBe(1);
    expect(b.injectMsi(1, 0)).toBe(1);
    expect(h.cache.lookup(0, 1, 0)).toBe(8200);
    expect(h.cache.lookup(1, 1, 0)).toBe(8300);
    expect(h.run1(0, C.movall(1, 2))).toBe(0);
    expect([h.vgic.lpiTarget(8200), h.vgic.lpiTarget(8300)]).toEqual([2, 2]);
    expect(h.cache.size(0)).toBe(0);
    expect(h.cache.size(1)).toBe(1);
    expect(b.tr.collections.get(0)).toBe(1);
    // The same pINTID from both ITSs is one LPI.
    expect(h.run1(1, C.mapti(1, 1, 8200, 0))).toBe(0);
    expect(refs(h, 8200)).toBe(2);
    expect(h.run1(0, C.mapd(1, 5, 0, false))).toBe(0);
    expect(refs(h, 8200)).toBe(1);
    expect(h.locksFree()).toBe(true);
  });
});

describe('guest-table writes from commands', () => {
  it('are dirty-logged like KVM\'s table writes', () => {
    const h = new ItsHarness();
    const its = h.enable(0);
    h.mem.getDirtyLog(0);
    expect(h.run1(0, C.mapd(300, 5, harnessItt(0, 300), false))).toBe(0);
    const log = h.mem.getDirtyLog(0);
    const page = (harnessDeviceTable(0) + 300 * 8 - HARNESS_RAM) >> 12;
    expect((log[page >> 3]! >> (page & 7)) & 1).toBe(1);
    expect(its.stats.processed).toBe(1);
  });
});
