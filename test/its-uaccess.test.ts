/**
 * Userspace access to the ITS registers, KVM_DEV_ARM_VGIC_GRP_ITS_REGS
 * (spec 6.3): has_attr, reads, writes with and without a userspace handler,
 * and the restore-order hazard of spec 9.29. Items 9.27 and 9.29.
 * Unit level: harness ITSs; the methods run as its-ioctl.ts calls them
 * (kvm.lock / vCPU / config_lock are the caller's; no ITS lock is held).
 */
import { describe, expect, it } from 'vitest';
import {
  harnessCmdQueue, harnessItt, ItsHarness, itsCmd as C, readItsRegisters, restoreIts, roundTrip,
} from './helpers/its-harness.js';
import * as u from '../dist/src/uapi/index.js';

const EINVAL = -u.EINVAL, ENXIO = -u.ENXIO, EBUSY = -u.EBUSY;
const CTLR = u.GITS_CTLR, IIDR = u.GITS_IIDR, TYPER = u.GITS_TYPER, CBASER = u.GITS_CBASER;
const CWRITER = u.GITS_CWRITER, CREADR = u.GITS_CREADR, BASER0 = u.GITS_BASER, BASER1 = u.GITS_BASER + 8;

describe('GRP_ITS_REGS has_attr', () => {
  it('alignment (-EINVAL: 4 bytes below 0x8 and from 0xFFD0, else 8), then -ENXIO where no register is', () => {
    const its = new ItsHarness().its[0]!;
    const cases: [number, number][] = [
      [0x0, 0], [0x4, 0], [0x2, EINVAL], [0x8, 0], [0xc, EINVAL], [0x10, ENXIO], [0x18, ENXIO],
      [0x80, 0], [0x84, EINVAL], [0x88, 0], [0x90, 0], [0x98, ENXIO],
      [0x100, 0], [0x138, 0], [0x13c, EINVAL], [0x140, ENXIO],
      [0xffc8, ENXIO], [0xffcc, EINVAL], [0xffd0, 0], [0xffd4, 0], [0xffd2, EINVAL], [0xfffc, 0],
      [0x1_0000, ENXIO], [0x1_0040, ENXIO], [-8, EINVAL], [0.5, EINVAL],
    ];
    for (const [off, want] of cases) expect([off, its.uaccessHas(off)]).toEqual([off, want]);
  });
});

describe('GRP_ITS_REGS reads', () => {
  it('return what a guest read of the full width returns; -ENXIO where no register is', () => {
    const h = new ItsHarness();
    const its = h.enable(0);
    expect(h.run(0, C.sync())).toEqual([0]);
    const full = (off: number, len: number) => ({ ret: 0, value: its.mmioRead(off, len) });
    expect(its.uaccessRead(CTLR)).toEqual({ ret: 0, value: 0x8000_0001n });
    expect(its.uaccessRead(IIDR)).toEqual({ ret: 0, value: 0x4b00_043bn });
    expect(its.uaccessRead(TYPER)).toEqual({ ret: 0, value: 0x1ef71n });
    for (const [off, len] of [[CBASER, 8], [CWRITER, 8], [CREADR, 8], [BASER0, 8], [BASER1, 8], [0xffe8, 4], [0xffd4, 4]] as const) {
      expect(its.uaccessRead(off)).toEqual(full(off, len));
    }
    expect(its.uaccessRead(CWRITER).value).toBe(32n);
    expect(its.uaccessRead(BASER0).value >> 63n).toBe(1n); // the whole 64 bits at once
    for (let n = 2; n < 8; n++) expect(its.uaccessRead(u.gitsBaserOffset(n))).toEqual({ ret: 0, value: 0n });
    for (const off of [0x18, 0x98, 0x1_0040]) expect(its.uaccessRead(off).ret).toBe(ENXIO);
    expect(h.locksFree()).toBe(true);
  });
});

describe('GRP_ITS_REGS writes', () => {
  it('9.27 GITS_CREADR: -EBUSY while enabled, -EINVAL beyond the queue, else CREADR := bits 19:5', () => {
    const h = new ItsHarness();
    const its = h.enable(0, { cbaserSize: 0 }); // 4 KiB queue
    expect(its.uaccessWrite(CREADR, 0x40n)).toBe(EBUSY);
    expect(its.creadr).toBe(0);
    its.mmioWrite(CTLR, 4, 0n);
    expect(its.uaccessWrite(CREADR, 4096n)).toBe(EINVAL);
    expect(its.uaccessWrite(CREADR, 0x1_0000n)).toBe(EINVAL);
    expect(its.creadr).toBe(0);
    expect(its.uaccessWrite(CREADR, 0x10_0020n)).toBe(0); // bit 20 is outside the offset field: offset 0x20
    expect(its.creadr).toBe(0x20);
    expect(its.uaccessWrite(CREADR, 4064n)).toBe(0);
    expect(its.uaccessRead(CREADR).value).toBe(4064n);
    // Stalled (bit 0), RES0 bits and the upper half are dropped.
    expect(its.uaccessWrite(CREADR, 0xffff_ffff_fff0_0041n)).toBe(0);
    expect(its.creadr).toBe(0x40);
    expect(its.uaccessRead(CTLR).value).toBe(0n); // CREADR != CWRITER: not quiescent
    expect(h.locksFree()).toBe(true);
  });

  it('9.27 GITS_IIDR: Revision >= 1 is -EINVAL; Revision 0 selects ABI 0 (other bits unchecked), BASER entry sizes stay 8', () => {
    const h = new ItsHarness();
    const its = h.enable(0);
    for (const rev of [1, 2, 15]) expect(its.uaccessWrite(IIDR, BigInt(0x4b00_043b | (rev << 12)))).toBe(EINVAL);
    expect(its.uaccessWrite(IIDR, 0xffff_0fffn)).toBe(0); // enabled or not, other fields ignored
    expect(its.uaccessWrite(IIDR, 0x1_0000_0000n)).toBe(0); // upper half dropped: a 32-bit register
    expect(its.abiRev).toBe(0);
    expect(its.uaccessRead(IIDR).value).toBe(0x4b00_043bn);
    expect(u.gitsBaserEntrySize(its.baserDevice)).toBe(8);
    expect(u.gitsBaserEntrySize(its.baserCollection)).toBe(8);
    expect(its.setAbi(1)).toBe(EINVAL);
  });

  it('9.27 TYPER and ID register writes are accepted and ignored; no register: -ENXIO; misaligned: -EINVAL', () => {
    const its = new ItsHarness().its[0]!;
    expect(its.uaccessWrite(TYPER, 0n)).toBe(0);
    expect(its.uaccessWrite(TYPER, 0xffff_ffff_ffff_ffffn)).toBe(0);
    expect(its.uaccessRead(TYPER).value).toBe(0x1ef71n);
    expect(its.uaccessWrite(0xffe8, 0n)).toBe(0);
    expect(its.uaccessRead(0xffe8).value).toBe(0x3bn);
    expect(its.uaccessWrite(0x18, 1n)).toBe(ENXIO);
    expect(its.uaccessWrite(0x1_0040, 1n)).toBe(ENXIO);
    expect(its.uaccessWrite(0x84, 1n)).toBe(EINVAL);
  });

  it('registers without a userspace handler behave as guest writes: CBASER, CWRITER, BASER, CTLR', () => {
    const h = new ItsHarness();
    const its = h.its[0]!;
    const cbaser = u.makeGitsCbaser({ valid: true, address: harnessCmdQueue(0), size: 0 });
    expect(its.uaccessWrite(CBASER, cbaser)).toBe(0);
    expect(its.cbaser).toBe(cbaser);
    // CTLR enable is refused while BASER0/BASER1 are not valid (still 0 returned).
    expect(its.uaccessWrite(CTLR, 1n)).toBe(0);
    expect(its.enabled).toBe(false);
    h.enable(0, { enable: false, cbaserSize: 0 });
    // CWRITER while disabled: stored, not processed; beyond the queue: dropped.
    h.mem.write(harnessCmdQueue(0), new Uint8Array(64));
    const cmds = new Uint8Array(64);
    u.encodeItsCommand({ cmd: 'MAPC', icid: 1, rdbase: 0, valid: true }, cmds.subarray(0, 32));
    u.encodeItsCommand({ cmd: 'MAPD', deviceId: 2, size: 3, ittAddr: harnessItt(0, 2), valid: true }, cmds.subarray(32));
    h.mem.write(harnessCmdQueue(0), cmds);
    expect(its.uaccessWrite(CWRITER, 64n)).toBe(0);
    expect(its.uaccessWrite(CWRITER, 4096n)).toBe(0);
    expect([its.creadr, its.cwriter, its.tr.collections.size]).toEqual([0, 64, 0]);
    // Enabling drains.
    expect(its.uaccessWrite(CTLR, 1n)).toBe(0);
    expect([its.enabled, its.creadr, its.tr.collections.size, its.tr.devices.size]).toEqual([true, 64, 1, 1]);
    // CBASER and BASER writes are ignored while enabled.
    expect(its.uaccessWrite(CBASER, 0n)).toBe(0);
    expect(its.uaccessWrite(BASER0, 0n)).toBe(0);
    expect([its.cbaser, its.creadr, its.tr.devices.size]).toEqual([cbaser, 64, 1]);
    // Disabled: a CBASER write resets CREADR/CWRITER; BASER0 with Valid = 0 frees the devices.
    expect(its.uaccessWrite(CTLR, 0n)).toBe(0);
    expect(its.uaccessWrite(CBASER, cbaser)).toBe(0);
    expect([its.creadr, its.cwriter]).toEqual([0, 0]);
    expect(its.uaccessWrite(BASER0, its.baserDevice & ~u.GITS_BASER_VALID)).toBe(0);
    expect(its.tr.devices.size).toBe(0);
    expect(its.tr.collections.size).toBe(1);
    expect(its.uaccessWrite(BASER1, its.baserCollection & ~u.GITS_BASER_VALID)).toBe(0);
    expect(its.tr.collections.size).toBe(0);
    // BASER1 never keeps Indirect; Type/Entry_Size are immutable (guest-write semantics).
    expect(its.uaccessWrite(BASER1, u.GITS_BASER_INDIRECT | u.GITS_BASER_VALID)).toBe(0);
    expect(u.gitsBaserIndirect(its.baserCollection)).toBe(false);
    expect(u.gitsBaserType(its.baserCollection)).toBe(u.GITS_BASER_TYPE_COLLECTION);
    expect(h.locksFree()).toBe(true);
  });
});

describe('restore order through GRP_ITS_REGS', () => {
  /** Source history with an INT: its LPI is acknowledged by the guest before the pause. */
  function source(): ItsHarness {
    const h = new ItsHarness();
    h.enable(0);
    expect(h.run(0, C.mapc(1, 1), C.mapd(3, 4, harnessItt(0, 3)), C.mapti(3, 5, 8300, 1), C.int(3, 5))).toEqual([0, 0, 0, 0]);
    expect(h.vgic.ack(1)).toBe(8300);
    expect(h.lpiState(8300)!.pending).toBe(false);
    return h;
  }

  it('9.29 CREADR restored before CTLR: enabling replays nothing', () => {
    const rt = roundTrip(source());
    expect(rt.restoreRet).toBe(0);
    expect(rt.after).toEqual(rt.before);
    expect(rt.dst.its[0]!.stats.processed).toBe(0);
    expect(rt.dst.lpiState(8300)!.pending).toBe(false);
  });

  it('9.29 CREADR not restored: writing CTLR.Enable=1 drains 0..CWRITER and replays the INT (delivered twice)', () => {
    const rt = roundTrip(source(), 0, { skipCreadr: true });
    expect(rt.restoreRet).toBe(0);
    const its = rt.dst.its[0]!;
    expect(its.stats.processed).toBe(4);
    expect([its.creadr, its.cwriter]).toEqual([128, 128]);
    expect(rt.dst.lpiState(8300)!.pending).toBe(true);
    expect(rt.dst.vgic.ack(1)).toBe(8300);
  });

  it('a disabled source with queued commands: CREADR/CWRITER restored, CTLR left disabled, commands run on enable', () => {
    const h = new ItsHarness();
    h.enable(0);
    expect(h.run(0, C.mapc(1, 0), C.mapd(3, 4, harnessItt(0, 3)))).toEqual([0, 0]);
    h.its[0]!.mmioWrite(CTLR, 4, 0n);
    expect(h.run(0, C.mapti(3, 1, 8400, 1))).toEqual([]); // queued, not run
    const rt = roundTrip(h);
    expect(rt.restoreRet).toBe(0);
    expect(rt.after).toEqual(rt.before);
    expect(rt.after).toMatchObject({ enabled: false, creadr: 64, cwriter: 96 });
    const its = rt.dst.its[0]!;
    expect(its.uaccessWrite(CTLR, 1n)).toBe(0);
    expect(its.tr.findIte(3, 1)).toEqual({ icid: 1, intid: 8400 });
  });

  it('restoreIts writes registers in the documented order and returns RESTORE_TABLES\' result', () => {
    const src = source();
    const regs = readItsRegisters(src.its[0]!);
    expect(regs).toMatchObject({ ctlr: 0x8000_0001n, iidr: 0x4b00_043bn, creadr: 128n, cwriter: 128n });
    expect(src.save()).toBe(0);
    const dst = src.fresh();
    src.copyMemoryTo(dst);
    expect(restoreIts(dst, 0, regs)).toBe(0);
    expect(dst.its[0]!.snapshot()).toEqual(src.its[0]!.snapshot());
  });
});
