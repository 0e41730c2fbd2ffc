/**
 * Spec 9 register and command-queue behaviours a guest observes, end to end:
 * the console guest (test/fixtures/guest-e2e-console.mjs) on vCPU 0 does the
 * MMIO and the driver calls and reports what it read; vCPUs handle the LPIs
 * that prove a command took effect (or did not). One VM with six ITSs: each
 * test brings up its own ITS, so register games on one never touch another.
 * 9.19 and 9.34 reprogram the VM-wide PROPBASER and get VMs of their own.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GicVm } from '../dist/src/index.js';
import * as u from '../dist/src/uapi/index.js';
import {
  GITS_BASER, GITS_CBASER, GITS_CREADR, GITS_CTLR, GITS_CTLR_ENABLE, GITS_CWRITER, GITS_TRANSLATER,
} from '../dist/src/uapi/gits.js';
import {
  acks, barrier, bootConsoleVm, expectDeliveredOn, lpiState, msi, R_TOTAL, R_VIOLATIONS, waitAcks,
  type ConsoleVm, type GuestConsole, type Step, type StepResult,
} from './helpers/e2e-console.js';

const cmds = (its: number, ...list: unknown[][]): Step => ({ op: 'cmds', its, list });
const rd = (its: number, off: number, size = 8): Step => ({ op: 'rd', its, off, size });
const wr = (its: number, off: number, value: bigint | number, size = 8): Step => ({ op: 'wr', its, off, size, value: BigInt(value) });
const BASER0 = GITS_BASER, BASER1 = GITS_BASER + 8;
const SZ_4K = 0x1000;

describe('spec 9 register behaviours (one ITS per test, 2 vCPUs)', () => {
  let booted: ConsoleVm;
  let vm: GicVm;
  let con: GuestConsole[];
  let c0: GuestConsole;

  async function deliver(its: number, devid: number, eventId: number, intid: number, v: number): Promise<void> {
    const before = acks(vm, v, intid);
    expect(await msi(vm, its, devid, eventId), `MSI ${its}/${devid}/${eventId}`).toBe(1);
    await waitAcks(vm, v, intid, before + 1);
  }
  /** Values of a script's 'rd' steps, in order. */
  const values = (out: StepResult[]): bigint[] => out.filter((r) => typeof r.value === 'bigint').map((r) => r.value as bigint);

  beforeAll(async () => {
    booted = await bootConsoleVm({ vcpus: 2, gic: { its: 6 } });
    ({ vm, con } = booted);
    c0 = con[0]!;
    await c0.ok([{ op: 'gicInit' }, { op: 'lpi', list: Array.from({ length: 64 }, (_, i) => [8500 + i, true]) }]);
  });
  afterAll(async () => {
    await vm?.destroy();
  });
  afterEach(async () => {
    await barrier(con);
    expect(vm.faults).toEqual([]);
    for (let v = 0; v < 2; v++) expect(Atomics.load(vm.results(v), R_VIOLATIONS)).toBe(0);
  });

  it('9.11 a failing command (E_ITS_*, unknown opcode, unreadable GPA) has no effect and CREADR advances by 32, wrapping to 0 at the queue size', async () => {
    // ITS0 with a one-page queue (128 commands).
    await c0.ok([
      { op: 'itsInit', its: 0, queueBytes: SZ_4K },
      cmds(0, ['mapc', 0, 0], ['mapc', 1, 1], ['mapd', 10, 2], ['mapti', 10, 0, 8500, 1]),
    ]);
    await deliver(0, 10, 0, 8500, 1);
    const failing: unknown[][] = [
      ['send', { cmd: 'UNKNOWN', opcode: 0x42 }],
      ['send', { cmd: 'UNKNOWN', opcode: 0x29 }], // VMAPP: GICv4, not advertised
      ['send', { cmd: 'UNKNOWN', opcode: 0x00 }],
      ['mapti', 99, 0, 8501, 0], // E_ITS_MAPTI_UNMAPPED_DEVICE
      ['mapti', 10, 4, 8501, 0], // E_ITS_MAPTI_ID_OOR (2 EventID bits)
      ['mapti', 10, 1, 8191, 0], // E_ITS_MAPTI_PHYSICALID_OOR
      ['send', { cmd: 'MAPD', deviceId: 0x1_0000, size: 1, ittAddr: 0x4100_0000, valid: true }], // E_ITS_MAPD_DEVICE_OOR
      ['send', { cmd: 'MAPD', deviceId: 11, size: 16, ittAddr: 0x4100_0000, valid: true }], // E_ITS_MAPD_ITTSIZE_OOR
      ['mapc', 2, 5], // E_ITS_MAPC_PROCNUM_OOR
      ['movi', 10, 1, 0], // E_ITS_MOVI_UNMAPPED_INTERRUPT
      ['movi', 10, 0, 7], // E_ITS_MOVI_UNMAPPED_COLLECTION
      ['discard', 10, 1], // E_ITS_DISCARD_UNMAPPED_INTERRUPT
      ['clear', 10, 1], // E_ITS_CLEAR_UNMAPPED_INTERRUPT
      ['int', 10, 1], // E_ITS_INT_UNMAPPED_INTERRUPT
      ['inv', 10, 1], // E_ITS_INV_UNMAPPED_INTERRUPT
      ['invall', 7], // E_ITS_INVALL_UNMAPPED_COLLECTION
      ['movall', 0, 5], // E_ITS_MOVALL_PROCNUM_OOR
    ];
    const script: Step[] = [rd(0, GITS_CREADR)];
    for (const c of failing) script.push(cmds(0, c), rd(0, GITS_CREADR));
    const creadrs = values(await c0.ok(script)).map(Number);
    for (let i = 1; i < creadrs.length; i++) {
      expect(creadrs[i], `CREADR after failing command ${i - 1} ${JSON.stringify(failing[i - 1])}`).toBe((creadrs[i - 1]! + 32) % SZ_4K);
    }
    // No effect: no LPI 8501, device 11 does not exist, 8500 still mapped and on vCPU 1.
    expect(lpiState(vm, 8501).exists).toBe(false);
    await c0.ok([cmds(0, ['mapti', 11, 0, 8502, 0])]);
    expect(lpiState(vm, 8502).exists).toBe(false);
    expect(lpiState(vm, 8500).target).toBe(1);
    await deliver(0, 10, 0, 8500, 1);

    // Wrap: fill the rest of the queue and beyond with SYNCs; CREADR follows CWRITER through offset 0.
    const [q0] = await c0.ok([{ op: 'queueState', its: 0 }]);
    const n = (SZ_4K - q0!.writeOffset) / 32 + 5;
    const [, creadr, q1] = await c0.ok([
      cmds(0, ...Array.from({ length: n }, () => ['sync', 0])),
      rd(0, GITS_CREADR),
      { op: 'queueState', its: 0 },
    ]);
    expect(q1!.writeOffset).toBe(5 * 32);
    expect(creadr!.value).toBe(BigInt(5 * 32));
    // The queue keeps moving: a valid command after the wrap takes effect.
    await c0.ok([cmds(0, ['mapti', 10, 2, 8504, 0])]);
    await deliver(0, 10, 2, 8504, 0);

    // Unreadable GPA: ITS1's queue placed outside guest RAM. Each command is skipped, CREADR still advances.
    const [, , , , back, creadrBad, cwriterBad] = await c0.ok([
      { op: 'itsInit', its: 1, enable: false },
      wr(1, GITS_CBASER, u.makeGitsCbaser({ valid: true, address: 0x2000_0000, size: 0 })),
      cmds(1, ['enable']),
      wr(1, GITS_CWRITER, 96),
      rd(1, GITS_CBASER),
      rd(1, GITS_CREADR),
      rd(1, GITS_CWRITER),
    ]);
    expect(u.gitsCbaserAddress(back!.value)).toBe(0x2000_0000);
    expect(creadrBad!.value).toBe(96n);
    expect(cwriterBad!.value).toBe(96n);
    await barrier(con);
    expectDeliveredOn(vm, 8500, 1, 2);
  });

  it('9.12 CWRITER writes with an offset >= the queue size are ignored; CBASER writes reset CREADR and CWRITER to 0 and are ignored while enabled', async () => {
    await c0.ok([
      { op: 'itsInit', its: 2, queueBytes: 2 * SZ_4K },
      cmds(2, ['mapc', 0, 0], ['mapd', 12, 2], ['mapti', 12, 0, 8510, 0], ['sync', 0]),
    ]);
    await deliver(2, 12, 0, 8510, 0);
    const [cbaser, creadr, cwriter] = values(await c0.ok([rd(2, GITS_CBASER), rd(2, GITS_CREADR), rd(2, GITS_CWRITER)]));
    expect(cwriter).toBe(4n * 32n);
    expect(creadr).toBe(cwriter);
    // Offsets at and beyond the queue size: dropped.
    const after = values(await c0.ok([
      wr(2, GITS_CWRITER, 2 * SZ_4K), rd(2, GITS_CWRITER), rd(2, GITS_CREADR),
      wr(2, GITS_CWRITER, 0x8_0000), rd(2, GITS_CWRITER),
      wr(2, GITS_CWRITER, 2 * SZ_4K, 4), rd(2, GITS_CWRITER),
    ]));
    expect(after).toEqual([cwriter, creadr, cwriter, cwriter]);
    // CBASER while enabled: ignored (value and queue position unchanged).
    const other = u.makeGitsCbaser({ valid: true, address: u.gitsCbaserAddress(cbaser!) + 0x10_0000, size: 0 });
    const enabled = values(await c0.ok([wr(2, GITS_CBASER, other), rd(2, GITS_CBASER), rd(2, GITS_CREADR), rd(2, GITS_CWRITER)]));
    expect(enabled).toEqual([cbaser, creadr, cwriter]);
    // Disabled: the write lands and resets both offsets to 0.
    const disabled = values(await c0.ok([cmds(2, ['disable']), wr(2, GITS_CBASER, cbaser!), rd(2, GITS_CBASER), rd(2, GITS_CREADR), rd(2, GITS_CWRITER)]));
    expect(disabled).toEqual([cbaser, 0n, 0n]);
    // The queue restarts at offset 0: a command written there and published with CWRITER = 32 runs.
    const [queue] = await c0.ok([{ op: 'queueState', its: 2 }]);
    await c0.ok([
      wr(2, GITS_CTLR, GITS_CTLR_ENABLE, 4),
      { op: 'ram', gpa: queue!.gpa, bytes: [...u.encodeItsCommandBytes({ cmd: 'INT', deviceId: 12, eventId: 0 })] },
      wr(2, GITS_CWRITER, 32),
    ]);
    await waitAcks(vm, 0, 8510, 2);
    expect(values(await c0.ok([rd(2, GITS_CREADR)]))).toEqual([32n]);
    await barrier(con);
    expectDeliveredOn(vm, 8510, 0, 2);
  });

  it('9.13 enabling GITS_CTLR is ignored unless BASER0, BASER1 and CBASER are all Valid; once enabled, commands queued while disabled are drained at once', async () => {
    const enableReadsBack = async (): Promise<bigint> =>
      values(await c0.ok([wr(3, GITS_CTLR, GITS_CTLR_ENABLE, 4), rd(3, GITS_CTLR, 4)]))[0]! & BigInt(GITS_CTLR_ENABLE);
    // A fresh ITS: nothing Valid.
    expect(await enableReadsBack()).toBe(0n);
    // Tables and queue programmed (all Valid) but not enabled; then take each Valid away in turn.
    await c0.ok([{ op: 'itsInit', its: 3, enable: false }]);
    const [b0, b1, cb] = values(await c0.ok([rd(3, BASER0), rd(3, BASER1), rd(3, GITS_CBASER)]));
    const VALID = 1n << 63n;
    for (const [off, val] of [[BASER0, b0!], [BASER1, b1!], [GITS_CBASER, cb!]] as const) {
      await c0.ok([wr(3, off, val & ~VALID)]);
      expect(await enableReadsBack(), `enable with register ${off.toString(16)} not Valid`).toBe(0n);
      await c0.ok([wr(3, off, val)]);
    }
    // Commands queued while disabled: CWRITER moves, CREADR does not, nothing is mapped.
    const queued = await c0.ok([
      { op: 'cmds', its: 3, wait: false, list: [['mapc', 1, 1], ['mapd', 13, 2], ['mapti', 13, 0, 8520, 1], ['mapti', 13, 1, 8521, 1]] },
      rd(3, GITS_CREADR), rd(3, GITS_CWRITER),
    ]);
    expect(values(queued)).toEqual([0n, 128n]);
    expect(lpiState(vm, 8520).exists).toBe(false);
    // Enabling (everything Valid now) drains them within the GITS_CTLR store.
    const [ctlr, creadr] = values(await c0.ok([wr(3, GITS_CTLR, GITS_CTLR_ENABLE, 4), rd(3, GITS_CTLR, 4), rd(3, GITS_CREADR)]));
    expect(ctlr! & 0x8000_0001n).toBe(0x8000_0001n); // Enabled and Quiescent
    expect(creadr).toBe(128n);
    expect(lpiState(vm, 8520)).toMatchObject({ exists: true, target: 1 });
    await deliver(3, 13, 0, 8520, 1);
    await deliver(3, 13, 1, 8521, 1);
  });

  it('9.15 BASER writes while enabled are ignored; BASER0 (BASER1) written with Valid=0 while disabled deletes every device (collection) of that ITS', async () => {
    await c0.ok([
      { op: 'itsInit', its: 4 },
      cmds(4, ['mapc', 0, 0], ['mapc', 1, 1], ['mapd', 20, 2], ['mapti', 20, 0, 8530, 0], ['mapd', 21, 2], ['mapti', 21, 0, 8531, 1]),
    ]);
    await deliver(4, 20, 0, 8530, 0);
    await deliver(4, 21, 0, 8531, 1);
    const VALID = 1n << 63n;
    const [b0, b1] = values(await c0.ok([rd(4, BASER0), rd(4, BASER1)]));
    // Enabled: both writes ignored, every mapping intact.
    const still = values(await c0.ok([wr(4, BASER0, b0! & ~VALID), wr(4, BASER1, b1! & ~VALID), rd(4, BASER0), rd(4, BASER1)]));
    expect(still).toEqual([b0, b1]);
    await deliver(4, 20, 0, 8530, 0);
    // Disabled, BASER0 Valid=0: every device goes (and the LPIs only its ITEs held).
    await c0.ok([cmds(4, ['disable']), wr(4, BASER0, b0! & ~VALID), wr(4, BASER0, b0!), cmds(4, ['enable'])]);
    expect(lpiState(vm, 8530).exists).toBe(false);
    expect(lpiState(vm, 8531).exists).toBe(false);
    expect(await msi(vm, 4, 20, 0)).toBe(0);
    expect(await msi(vm, 4, 21, 0)).toBe(0);
    // Collections survived: a remapped device works without any MAPC.
    await c0.ok([cmds(4, ['mapd', 20, 2], ['mapti', 20, 0, 8530, 0])]);
    await deliver(4, 20, 0, 8530, 0);
    // Disabled, BASER1 Valid=0: every collection goes; the ITE loses its collection for good.
    await c0.ok([cmds(4, ['disable']), wr(4, BASER1, b1! & ~VALID), wr(4, BASER1, b1!), cmds(4, ['enable'])]);
    expect(lpiState(vm, 8530).exists).toBe(true);
    expect(await msi(vm, 4, 20, 0)).toBe(0);
    await c0.ok([cmds(4, ['mapc', 0, 0])]);
    expect(await msi(vm, 4, 20, 0)).toBe(0);
    await barrier(con);
    expectDeliveredOn(vm, 8530, 0, 3);
    expectDeliveredOn(vm, 8531, 1, 1);
  });

  it('9.16 BASER1 never keeps Indirect; BASER Type and Entry_Size are immutable; PageSize always reads 64K; BASER2..7 are RAZ/WI', async () => {
    const [b0, b1] = values(await c0.ok([rd(5, BASER0), rd(5, BASER1)]));
    expect([u.gitsBaserType(b0!), u.gitsBaserEntrySize(b0!), u.gitsBaserPageSize(b0!)]).toEqual([u.GITS_BASER_TYPE_DEVICE, 8, 0x1_0000]);
    expect([u.gitsBaserType(b1!), u.gitsBaserEntrySize(b1!), u.gitsBaserPageSize(b1!)]).toEqual([u.GITS_BASER_TYPE_COLLECTION, 8, 0x1_0000]);
    const address = 0x4180_0000;
    // Try to make the collection table an indirect device table of 4-byte entries in 4K pages; and vice versa.
    const want1 = u.makeGitsBaser({ valid: true, indirect: true, type: u.GITS_BASER_TYPE_DEVICE, entrySize: 4, address, size: 1, pageSize: u.GITS_BASER_PAGE_SIZE_4K });
    const want0 = u.makeGitsBaser({ valid: true, indirect: true, type: u.GITS_BASER_TYPE_COLLECTION, entrySize: 16, address, size: 2, pageSize: u.GITS_BASER_PAGE_SIZE_16K });
    const [r0, r1, r2, r7] = values(await c0.ok([
      wr(5, BASER0, want0), wr(5, BASER1, want1), wr(5, GITS_BASER + 16, want0), wr(5, GITS_BASER + 56, want0),
      rd(5, BASER0), rd(5, BASER1), rd(5, GITS_BASER + 16), rd(5, GITS_BASER + 56),
    ]));
    expect({ valid: u.gitsBaserValid(r1!), indirect: u.gitsBaserIndirect(r1!), type: u.gitsBaserType(r1!), esz: u.gitsBaserEntrySize(r1!), page: u.gitsBaserPageSize(r1!), addr: u.gitsBaserAddress(r1!), size: u.gitsBaserSize(r1!) })
      .toEqual({ valid: true, indirect: false, type: u.GITS_BASER_TYPE_COLLECTION, esz: 8, page: 0x1_0000, addr: address, size: 1 });
    expect({ valid: u.gitsBaserValid(r0!), indirect: u.gitsBaserIndirect(r0!), type: u.gitsBaserType(r0!), esz: u.gitsBaserEntrySize(r0!), page: u.gitsBaserPageSize(r0!), addr: u.gitsBaserAddress(r0!), size: u.gitsBaserSize(r0!) })
      .toEqual({ valid: true, indirect: true, type: u.GITS_BASER_TYPE_DEVICE, esz: 8, page: 0x1_0000, addr: address, size: 2 });
    expect([r2, r7]).toEqual([0n, 0n]);
    // The 32-bit halves of a BASER merge, and the immutable fields stay so.
    const [h] = values(await c0.ok([wr(5, BASER1 + 4, 0x0100_0000, 4), rd(5, BASER1)]));
    expect([u.gitsBaserType(h!), u.gitsBaserEntrySize(h!), u.gitsBaserValid(h!), u.gitsBaserAddress(h!)]).toEqual([u.GITS_BASER_TYPE_COLLECTION, 8, false, address]);
  });

  it('9.9 GITS_TRANSLATER reads 0 and a guest write there is dropped, on an enabled ITS and on one never enabled', async () => {
    // Complements the test in e2e-its-behaviours: also a frame whose ITS was never enabled.
    const total = Atomics.load(vm.results(0), R_TOTAL) + Atomics.load(vm.results(1), R_TOTAL);
    const out = values(await c0.ok([wr(5, GITS_TRANSLATER, 0, 4), rd(5, GITS_TRANSLATER, 4), wr(4, GITS_TRANSLATER, 0, 4), rd(4, GITS_TRANSLATER, 4)]));
    expect(out).toEqual([0n, 0n]);
    await barrier(con);
    expect(Atomics.load(vm.results(0), R_TOTAL) + Atomics.load(vm.results(1), R_TOTAL)).toBe(total);
  });
});

describe('spec 9 and the VM-wide PROPBASER (a VM each)', () => {
  let booted: ConsoleVm | undefined;
  afterEach(async () => {
    await booted?.vm.destroy();
    booted = undefined;
  });

  it('9.34 creating an ITS resets the VM-wide PROPBASER to 0x580', async () => {
    booted = await bootConsoleVm({ vcpus: 1, gic: { its: 1 } });
    const { vm, con } = booted;
    const c0 = con[0]!;
    // Tables programmed; LPIs not enabled yet (PROPBASER is frozen once they are).
    const [init, prop] = await c0.ok([{ op: 'gicInit', enable: [] }, { op: 'rd', vcpu: 0, off: u.GICR_PROPBASER }]);
    expect(u.gicrPropbaserAddress(prop!.value)).toBe(init!.tables.propGpa);
    expect(u.gicrPropbaserIdBits(prop!.value)).toBe(15);
    await vm.gic.createIts();
    const [reset] = await c0.ok([{ op: 'rd', vcpu: 0, off: u.GICR_PROPBASER }]);
    expect(reset!.value).toBe(0x580n);
    expect(u.INITIAL_PROPBASER_VALUE).toBe(0x580n);
    // With IDbits 0 no LPI can be mapped: MAPTI is rejected until the guest programs PROPBASER again.
    await c0.ok([
      { op: 'lpi', list: [[8192, true]] },
      { op: 'lpisOn', vcpu: 0 },
      { op: 'itsInit', its: 0 },
      cmds(0, ['mapc', 0, 0], ['mapd', 1, 2], ['mapti', 1, 0, 8192, 0]),
    ]);
    expect(lpiState(vm, 8192).exists).toBe(false);
    expect(await msi(vm, 0, 1, 0)).toBe(0);
    await c0.ok([{ op: 'lpisOff', vcpu: 0 }, { op: 'programRedist', vcpu: 0 }, { op: 'lpisOn', vcpu: 0 }, cmds(0, ['mapti', 1, 0, 8192, 0])]);
    expect(lpiState(vm, 8192).exists).toBe(true);
    expect(await msi(vm, 0, 1, 0)).toBe(1);
    await waitAcks(vm, 0, 8192, 1);
    await barrier(con);
    expectDeliveredOn(vm, 8192, 0, 1);
  });

  it('9.19 MAPTI with pINTID < 8192 or >= 2^min(PROPBASER.IDbits+1, 16) is rejected', async () => {
    booted = await bootConsoleVm({ vcpus: 1, gic: { its: 1 } });
    const { vm, con } = booted;
    const c0 = con[0]!;
    // 14 INTID bits: LPIs 8192..16383.
    await c0.ok([
      { op: 'gicInit', idBits: 14 },
      { op: 'lpi', list: [[8192, true], [16383, true]] },
      { op: 'itsInit', its: 0 },
      cmds(0, ['mapc', 0, 0], ['mapd', 1, 3],
        ['mapti', 1, 0, 8191, 0], ['mapti', 1, 1, 8192, 0], ['mapti', 1, 2, 16383, 0], ['mapti', 1, 3, 16384, 0], ['mapi', 1, 4, 0]),
    ]);
    expect([8191, 8192, 16383, 16384].map((i) => vm.gic.vgic.lpiExists(i))).toEqual([false, true, true, false]);
    expect(await msi(vm, 0, 1, 0)).toBe(0);
    expect(await msi(vm, 0, 1, 3)).toBe(0);
    expect(await msi(vm, 0, 1, 4)).toBe(0); // MAPI: pINTID = EventID 4
    expect(await msi(vm, 0, 1, 1)).toBe(1);
    await waitAcks(vm, 0, 8192, 1);
    expect(await msi(vm, 0, 1, 2)).toBe(1);
    await barrier(con);
    expect(lpiState(vm, 16383)).toMatchObject({ pending: false, delivered: 1 });

    // 20 INTID bits in PROPBASER: KVM caps at 16, so 65535 is the last mappable LPI.
    await c0.ok([
      { op: 'lpisOff', vcpu: 0 },
      { op: 'allocTables', idBits: 20 },
      { op: 'programRedist', vcpu: 0 },
      { op: 'lpi', list: [[65535, true], [16384, true]] },
      { op: 'lpisOn', vcpu: 0 },
      cmds(0, ['mapti', 1, 5, 65535, 0], ['mapti', 1, 6, 65536, 0], ['mapti', 1, 7, 16384, 0]),
    ]);
    const [prop] = await c0.ok([{ op: 'rd', vcpu: 0, off: u.GICR_PROPBASER }]);
    expect(u.gicrPropbaserIdBits(prop!.value)).toBe(19);
    expect(vm.gic.vgic.lpiExists(65535)).toBe(true);
    expect(vm.gic.vgic.lpiExists(16384)).toBe(true);
    expect(await msi(vm, 0, 1, 6)).toBe(0);
    const before = Atomics.load(vm.results(0), R_TOTAL);
    expect(await msi(vm, 0, 1, 5)).toBe(1);
    expect(await msi(vm, 0, 1, 7)).toBe(1);
    await barrier(con);
    expect(Atomics.load(vm.results(0), R_TOTAL)).toBe(before + 2);
    expect(lpiState(vm, 65535)).toMatchObject({ pending: false, delivered: 1 });
    expect(lpiState(vm, 16384)).toMatchObject({ pending: false, delivered: 1 });
    expect(vm.faults).toEqual([]);
  });
});
