/**
 * Unit tests of the guest-side GIC/ITS drivers (src/guest/). They run the
 * driver code against FakeGuestForDriverTests: real guest RAM (GuestMemory),
 * plus FAKE register frames (ITS, GICD, GICR) that record MMIO writes and
 * answer reads from a small register map, using the uapi write transforms
 * for read-back values. These fakes exist only to unit-test the drivers'
 * register sequences, table sizing and queue handling; they are not a model
 * of KVM. End-to-end runs on a real VM live elsewhere.
 */
import { describe, expect, it } from 'vitest';
import { allocateMemslots, GuestMemory } from '../dist/src/mem/index.js';
import * as u from '../dist/src/uapi/index.js';
import type { ItsCommand } from '../dist/src/uapi/index.js';
import { defaultItsBase, GICD_BASE, GICR_BASE, GICR_STRIDE } from '../dist/src/vgic/layout.js';
import { GpaAllocator } from '../dist/src/guest/alloc.js';
import { GicDriver, GICD_CTLR_ARE_NS, GICD_CTLR_ENABLE_GRP1A } from '../dist/src/guest/gic-driver.js';
import { ItsDriver } from '../dist/src/guest/its-driver.js';
import { runItsSetup } from '../dist/src/guest/its-setup.js';
import { irqLoop } from '../dist/src/guest/irq-loop.js';
import {
  mailboxLoad, mailboxStore, MAILBOX_LPIS_ENABLED, MAILBOX_STATE, SETUP_DONE, SETUP_REDISTS_READY,
} from '../dist/src/guest/handshake.js';
import lpiHandler from '../dist/src/guest/programs/lpi-handler.js';
import itsSetupProgram from '../dist/src/guest/programs/its-setup.js';

const RAM = 0x4000_0000;
const RAM_SIZE = 64 * 1024 * 1024;
const ITS0 = defaultItsBase(0);
const ITS1 = defaultItsBase(1);
const SZ_64K = 0x1_0000;

type Mmio = { gpa: number; size: number; value: bigint };
type ItsMode = 'instant' | 'lagged' | 'stuck' | 'garbage-creadr';

/** FAKE ITS frame for driver unit tests: register map + command consumption, no KVM semantics beyond read-back. */
class FakeItsFrameForDriverTests {
  enabled = false;
  baser = [u.GITS_BASER0_RESET_VALUE, u.GITS_BASER1_RESET_VALUE, 0n, 0n, 0n, 0n, 0n, 0n];
  cbaser = 0n;
  cwriter = 0;
  creadr = 0;
  consumed: ItsCommand[] = [];
  creadrReads = 0;
  constructor(readonly mem: GuestMemory, public mode: ItsMode = 'instant',
    readonly quirks: { dropIndirect?: boolean; forcePageSize?: bigint; refuseEnable?: boolean; typer?: bigint } = {}) {}

  private queueBytes(): number {
    return u.itsCmdBufferSize(this.cbaser);
  }
  private consumeOne(): void {
    const b = new Uint8Array(32);
    this.mem.readInto(u.gitsCbaserAddress(this.cbaser) + this.creadr, b);
    this.consumed.push(u.decodeItsCommand(b));
    this.creadr = (this.creadr + 32) % this.queueBytes();
  }
  private drain(): void {
    if (!this.enabled || this.mode !== 'instant') return;
    while (this.creadr !== this.cwriter) this.consumeOne();
  }
  read(off: number, size: number): bigint {
    if (off === u.GITS_CTLR && size === 4) return BigInt(u.gitsCtlrValue(this.enabled, this.creadr, this.cwriter));
    if (off === u.GITS_PIDR2 && size === 4) return BigInt(u.gitsIdregValue(off));
    if (off === u.GITS_TYPER && size === 8) return this.quirks.typer ?? u.GITS_TYPER_VALUE;
    if (off === u.GITS_CBASER && size === 8) return this.cbaser;
    if (off === u.GITS_CWRITER && size === 8) return BigInt(this.cwriter);
    if (off === u.GITS_CREADR && size === 8) {
      this.creadrReads++;
      if (this.mode === 'garbage-creadr') return 0xdead_0001n;
      if (this.mode === 'lagged' && this.enabled && this.creadr !== this.cwriter) this.consumeOne();
      return BigInt(this.creadr);
    }
    if (off >= u.GITS_BASER && off < u.GITS_BASER + 0x40 && size === 8) return this.baser[u.gitsBaserIndex(off)]!;
    return 0n;
  }
  write(off: number, size: number, v: bigint): void {
    if (off === u.GITS_CTLR && size === 4) {
      const en = (v & 1n) !== 0n;
      const valid = u.gitsBaserValid(this.baser[0]!) && u.gitsBaserValid(this.baser[1]!) && u.gitsCbaserValid(this.cbaser);
      if (en && !this.enabled && (!valid || this.quirks.refuseEnable)) return;
      this.enabled = en;
      this.drain();
    } else if (off === u.GITS_CBASER && size === 8) {
      if (this.enabled) return;
      this.cbaser = u.vgicItsCbaserWrite(this.cbaser, off, 8, v);
      this.creadr = 0;
      this.cwriter = 0;
    } else if (off === u.GITS_CWRITER && size === 8) {
      const o = u.itsCmdOffset(v);
      if (o >= this.queueBytes()) return;
      this.cwriter = o;
      this.drain();
    } else if (off >= u.GITS_BASER && off < u.GITS_BASER + 0x40 && size === 8) {
      if (this.enabled) return;
      const n = u.gitsBaserIndex(off);
      let val = u.vgicItsBaserWrite(n, this.baser[n]!, off, 8, v);
      if (this.quirks.dropIndirect) val &= ~u.GITS_BASER_INDIRECT;
      if (this.quirks.forcePageSize !== undefined && val !== 0n) {
        val = (val & ~u.GITS_BASER_PAGE_SIZE_MASK) | this.quirks.forcePageSize;
      }
      this.baser[n] = val;
    }
  }
}

/** FAKE redistributor + distributor registers for driver unit tests. */
class FakeRedistForDriverTests {
  ctlr = 0;
  propbaser = u.INITIAL_PROPBASER_VALUE;
  pendbaser = 0n;
  constructor(readonly vcpu: number, readonly last: boolean, readonly hasIts: boolean) {}
  read(off: number, size: number): bigint {
    if (off === u.GICR_CTLR && size === 4) return BigInt(this.ctlr);
    if (off === u.GICR_TYPER && size === 8) return u.gicrTyperValue({ vcpuId: this.vcpu, last: this.last, hasIts: this.hasIts });
    if (off === u.GICR_PROPBASER && size === 8) return this.propbaser;
    if (off === u.GICR_PENDBASER && size === 8) return u.vgicPendbaserReadValue(this.pendbaser);
    return 0n;
  }
  write(off: number, size: number, v: bigint): void {
    if (off === u.GICR_CTLR && size === 4) {
      if (this.hasIts) this.ctlr = Number(v) & u.GICR_CTLR_ENABLE_LPIS;
    } else if (off === u.GICR_PROPBASER && size === 8) {
      if (this.ctlr === 0) this.propbaser = u.vgicPropbaserWrite(this.propbaser, off, 8, v);
    } else if (off === u.GICR_PENDBASER && size === 8) {
      if (this.ctlr === 0) this.pendbaser = u.vgicPendbaserWrite(this.pendbaser, off, 8, v);
    }
  }
}

/** FAKE CPU interface for the interrupt-loop unit tests: hands out a scripted list of INTIDs. */
class FakeCpuInterfaceForLoopTests {
  eoied: number[] = [];
  constructor(public pending: number[]) {}
  readonly spurious = 1023;
  ack(): number {
    return this.pending.shift() ?? 1023;
  }
  eoi(intid: number): void {
    this.eoied.push(intid);
  }
  hasPending(): boolean {
    return this.pending.length > 0;
  }
}

/** A Guest over real GuestMemory whose MMIO goes to the fake frames above. */
class FakeGuestForDriverTests {
  readonly mem: GuestMemory;
  readonly results: Int32Array;
  readonly ext: Record<string, unknown> = {};
  readonly writes: Mmio[] = [];
  readonly its = new Map<number, FakeItsFrameForDriverTests>();
  readonly redists: FakeRedistForDriverTests[] = [];
  gicdCtlr = 0;
  gicdTyper = (1 << 17) | (15 << 19);
  relaxes = 0;
  wfis = 0;
  onWfi: (() => void) | undefined;
  readonly exiting = false;

  constructor(readonly vcpuId = 0, readonly nrVcpus = 1, opts: { itsBases?: number[]; itsMode?: ItsMode; hasIts?: boolean } = {}) {
    this.mem = new GuestMemory(allocateMemslots([{ gpa: RAM, size: RAM_SIZE }]));
    this.results = new Int32Array(new SharedArrayBuffer(64 * 4));
    const hasIts = opts.hasIts ?? true;
    if (hasIts) for (const b of opts.itsBases ?? [ITS0]) this.its.set(b, new FakeItsFrameForDriverTests(this.mem, opts.itsMode));
    for (let v = 0; v < nrVcpus; v++) this.redists.push(new FakeRedistForDriverTests(v, v === nrVcpus - 1, hasIts));
  }

  private route(gpa: number): { dev: { read(o: number, s: number): bigint; write(o: number, s: number, v: bigint): void }; off: number } | undefined {
    for (const [b, f] of this.its) if (gpa >= b && gpa < b + 0x2_0000) return { dev: f, off: gpa - b };
    if (gpa >= GICR_BASE && gpa < GICR_BASE + this.redists.length * GICR_STRIDE) {
      const n = Math.floor((gpa - GICR_BASE) / GICR_STRIDE);
      return { dev: this.redists[n]!, off: gpa - GICR_BASE - n * GICR_STRIDE };
    }
    if (gpa >= GICD_BASE && gpa < GICD_BASE + SZ_64K) {
      const self = this;
      return {
        off: gpa - GICD_BASE,
        dev: {
          read: (o, s) => (s !== 4 ? 0n : o === 0 ? BigInt(self.gicdCtlr) : o === 4 ? BigInt(self.gicdTyper) : 0n),
          write: (o, s, v) => { if (o === 0 && s === 4) self.gicdCtlr = (Number(v) & GICD_CTLR_ENABLE_GRP1A) | GICD_CTLR_ARE_NS; },
        },
      };
    }
    return undefined;
  }

  mmioRead(gpa: number, size: 1 | 2 | 4 | 8): bigint {
    const r = this.route(gpa);
    return r === undefined ? 0n : r.dev.read(r.off, size);
  }
  mmioWrite(gpa: number, size: 1 | 2 | 4 | 8, value: bigint | number): void {
    const v = BigInt.asUintN(size * 8, BigInt(value));
    this.writes.push({ gpa, size, value: v });
    const r = this.route(gpa);
    r?.dev.write(r.off, size, v);
  }
  mmioRead32(gpa: number): number { return Number(this.mmioRead(gpa, 4)); }
  mmioWrite32(gpa: number, value: number): void { this.mmioWrite(gpa, 4, value >>> 0); }
  mmioRead64(gpa: number): bigint { return this.mmioRead(gpa, 8); }
  mmioWrite64(gpa: number, value: bigint): void { this.mmioWrite(gpa, 8, value); }

  read8(gpa: number): number { return this.mem.read8(gpa); }
  read16(gpa: number): number { return this.mem.read16(gpa); }
  read32(gpa: number): number { return this.mem.read32(gpa); }
  read64(gpa: number): bigint { return this.mem.read64(gpa); }
  write8(gpa: number, v: number): number { return this.mem.write8(gpa, v); }
  write16(gpa: number, v: number): number { return this.mem.write16(gpa, v); }
  write32(gpa: number, v: number): number { return this.mem.write32(gpa, v); }
  write64(gpa: number, v: bigint): number { return this.mem.write64(gpa, v); }
  readBytes(gpa: number, dst: Uint8Array): number { return this.mem.readInto(gpa, dst); }
  writeBytes(gpa: number, src: Uint8Array): number { return this.mem.write(gpa, src); }
  atomics32(gpa: number, count: number): Int32Array | undefined { return this.mem.atomics32(gpa, count); }
  relax(): void { this.relaxes++; }
  wfe(view: Int32Array, index: number, value: number, timeoutMs = 1): void { this.relaxes++; Atomics.wait(view, index, value, timeoutMs); }
  wfi(): void { this.wfis++; this.onWfi?.(); }

  itsFrame(base = ITS0): FakeItsFrameForDriverTests { return this.its.get(base)!; }
  writesTo(base: number, off: number): Mmio[] { return this.writes.filter((w) => w.gpa === base + off); }
}

function queueCommand(g: FakeGuestForDriverTests, its: ItsDriver, slot: number): ItsCommand {
  const b = new Uint8Array(32);
  expect(g.mem.readInto(its.queue!.gpa + slot * 32, b)).toBe(0);
  return u.decodeItsCommand(b);
}

function newIts(g: FakeGuestForDriverTests, opts: Partial<ConstructorParameters<typeof ItsDriver>[1]> = {}): ItsDriver {
  return new ItsDriver(g as never, { base: ITS0, alloc: new GpaAllocator(RAM + SZ_64K, 32 * 1024 * 1024), ...opts });
}

// ---------------------------------------------------------------------------

describe('guest/its-driver: bring-up', () => {
  it('programs a flat device table, the collection table, CBASER, then enables', () => {
    const g = new FakeGuestForDriverTests();
    const its = newIts(g);
    expect(its.init()).toBe(0);
    expect(its.enable()).toBe(0);
    expect(its.error).toBeUndefined();
    expect(its.typer).toBe(u.GITS_TYPER_VALUE);
    expect([its.ittEntrySize, its.eventIdBits, its.devBits, its.cidBits, its.pta]).toEqual([8, 16, 16, 16, false]);

    const f = g.itsFrame();
    const dt = its.deviceTable!;
    expect(dt).toMatchObject({ baser: 0, indirect: false, entrySize: 8, pageSize: SZ_64K, ids: 65536, bytes: 8 * SZ_64K });
    expect(dt.gpa % SZ_64K).toBe(0);
    expect(u.gitsBaserValid(f.baser[0]!)).toBe(true);
    expect(u.gitsBaserAddress(f.baser[0]!)).toBe(dt.gpa);
    expect(u.gitsBaserSize(f.baser[0]!)).toBe(7);
    expect(u.gitsBaserType(f.baser[0]!)).toBe(u.GITS_BASER_TYPE_DEVICE);
    const ct = its.collectionTable!;
    expect(ct).toMatchObject({ baser: 1, indirect: false, entrySize: 8, bytes: SZ_64K, ids: 8192 });
    expect(u.gitsBaserAddress(f.baser[1]!)).toBe(ct.gpa);
    expect(u.gitsBaserSize(f.baser[1]!)).toBe(0);

    expect(u.gitsCbaserValid(f.cbaser)).toBe(true);
    expect(u.gitsCbaserAddress(f.cbaser)).toBe(its.queue!.gpa);
    expect(u.itsCmdBufferSize(f.cbaser)).toBe(SZ_64K);
    expect(its.queue!.gpa % SZ_64K).toBe(0);
    expect(f.enabled).toBe(true);

    // Order: BASERs, CBASER, CWRITER=0, CTLR.Enable last.
    const itsWrites = g.writes.filter((w) => w.gpa >= ITS0 && w.gpa < ITS0 + 0x2_0000).map((w) => w.gpa - ITS0);
    expect(itsWrites).toEqual([u.GITS_BASER, u.GITS_BASER + 8, u.GITS_CBASER, u.GITS_CWRITER, u.GITS_CTLR]);
    // Tables do not overlap.
    const spans = [[dt.gpa, dt.bytes], [ct.gpa, ct.bytes], [its.queue!.gpa, its.queue!.bytes]].sort((a, b) => a[0]! - b[0]!);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]!).toBeGreaterThanOrEqual(spans[i - 1]![0]! + spans[i - 1]![1]!);
    const s = its.summary();
    expect(s.baser).toEqual([`0x${f.baser[0]!.toString(16)}`, `0x${f.baser[1]!.toString(16)}`]);
    expect(structuredClone(s)).toEqual(s);
  });

  it('honours deviceIdBits and a smaller queue', () => {
    const g = new FakeGuestForDriverTests();
    const its = newIts(g, { deviceIdBits: 10, queueBytes: 0x2000 });
    expect(its.init()).toBe(0);
    expect(its.deviceTable).toMatchObject({ ids: 1024, bytes: SZ_64K });
    expect(u.gitsBaserSize(g.itsFrame().baser[0]!)).toBe(0);
    expect(u.gitsCbaserSize(g.itsFrame().cbaser)).toBe(1);
    expect(newIts(g, { queueBytes: 0x1800 }).init()).toBeLessThan(0);
  });

  it('sets up a two-level device table and allocates L2 pages on demand', () => {
    const g = new FakeGuestForDriverTests();
    const its = newIts(g, { twoLevel: true });
    expect(its.init()).toBe(0);
    const dt = its.deviceTable!;
    expect(dt).toMatchObject({ indirect: true, bytes: SZ_64K, ids: 65536 });
    expect(u.gitsBaserIndirect(g.itsFrame().baser[0]!)).toBe(true);
    expect(u.gitsBaserSize(g.itsFrame().baser[0]!)).toBe(0);
    expect(its.enable()).toBe(0);

    expect(its.mapd(0x2345, 4)).toBe(0);
    expect(its.l2Pages.length).toBe(1);
    const l1 = u.unpackL1e(g.mem.read64(dt.gpa + 8 * 1));
    expect(l1).toEqual({ valid: true, l2Addr: its.l2Pages[0] });
    expect(l1.l2Addr % SZ_64K).toBe(0);
    expect(g.mem.read64(dt.gpa)).toBe(0n);
    // Same 8192-ID range: no new page. Another range: a new one.
    expect(its.mapd(0x2000, 4)).toBe(0);
    expect(its.l2Pages.length).toBe(1);
    expect(its.mapd(0xffff, 4)).toBe(0);
    expect(its.l2Pages.length).toBe(2);
    expect(u.unpackL1e(g.mem.read64(dt.gpa + 8 * 7))).toEqual({ valid: true, l2Addr: its.l2Pages[1] });
    // KVM's own lookup finds a slot inside the L2 page.
    const look = u.itsTableLookup(g.itsFrame().baser[0]!, 0x2345);
    expect(look.ok && look.indirect && u.itsL2EntryGpa(u.unpackL1e(g.mem.read64(look.l1Gpa)), look.l2Offset))
      .toBe(its.l2Pages[0]! + (0x2345 % 8192) * 8);
    expect(its.mapd(0x10000, 4)).toBeLessThan(0);
  });

  it('falls back to a flat table when Indirect does not stick, and follows PageSize read-back', () => {
    const g = new FakeGuestForDriverTests();
    g.itsFrame().quirks.dropIndirect = true;
    const its = newIts(g, { twoLevel: true });
    expect(its.init()).toBe(0);
    expect(its.deviceTable).toMatchObject({ indirect: false, ids: 65536, bytes: 8 * SZ_64K });

    const g2 = new FakeGuestForDriverTests();
    g2.itsFrame().quirks.forcePageSize = u.GITS_BASER_PAGE_SIZE_4K;
    const its2 = newIts(g2, { deviceIdBits: 12 });
    expect(its2.init()).toBe(0);
    expect(its2.deviceTable).toMatchObject({ pageSize: 0x1000, bytes: 8 * 0x1000, ids: 4096 });
    expect(u.gitsBaserSize(g2.itsFrame().baser[0]!)).toBe(7);
    expect(its2.collectionTable).toMatchObject({ pageSize: 0x1000, bytes: SZ_64K });
  });

  it('reports a missing ITS, a refused enable and a non-RAM region as errors', () => {
    const none = new FakeGuestForDriverTests(0, 1, { hasIts: false });
    const a = newIts(none);
    expect(a.init()).toBe(-u.ENODEV);
    expect(a.error).toMatchObject({ errno: -u.ENODEV, name: '-ENODEV' });
    expect(a.mapc(0, 0)).toBe(-u.EINVAL);

    const g = new FakeGuestForDriverTests();
    g.itsFrame().quirks.refuseEnable = true;
    const b = newIts(g);
    expect(b.init()).toBe(0);
    expect(b.enable()).toBe(-u.EINVAL);
    expect(b.error!.where).toMatch(/CTLR/);

    const c = new ItsDriver(new FakeGuestForDriverTests() as never, { base: ITS0, alloc: new GpaAllocator(0x1000_0000, 0x100_0000) });
    expect(c.init()).toBe(-u.EFAULT);

    const d = new ItsDriver(new FakeGuestForDriverTests() as never, { base: ITS0, alloc: new GpaAllocator(RAM, 0x2_0000) });
    expect(d.init()).toBe(-u.ENOMEM);
  });

  it('quiesces an ITS that is already enabled before reprogramming it', () => {
    const g = new FakeGuestForDriverTests();
    const first = newIts(g);
    expect(first.init()).toBe(0);
    expect(first.enable()).toBe(0);
    const again = newIts(g, { alloc: new GpaAllocator(RAM + 40 * 1024 * 1024, 8 * 1024 * 1024) });
    expect(again.init()).toBe(0);
    expect(again.enable()).toBe(0);
    expect(u.gitsBaserAddress(g.itsFrame().baser[0]!)).toBe(again.deviceTable!.gpa);
  });
});

describe('guest/its-driver: commands and the queue', () => {
  function ready(mode: ItsMode = 'instant', opts: Partial<ConstructorParameters<typeof ItsDriver>[1]> = {}) {
    const g = new FakeGuestForDriverTests(0, 4, { itsMode: mode });
    const its = newIts(g, opts);
    expect(its.init()).toBe(0);
    expect(its.enable()).toBe(0);
    return { g, its, f: g.itsFrame() };
  }

  it('writes each command at CWRITER and advances it', () => {
    const { g, its, f } = ready();
    expect(its.mapc(3, 2)).toBe(0);
    expect(its.mapd(7, 5)).toBe(0);
    expect(its.mapti(7, 1, 8300, 3)).toBe(0);
    expect(its.mapi(7, 2, 3)).toBe(0);
    expect(its.movi(7, 1, 0)).toBe(0);
    expect(its.int(7, 1)).toBe(0);
    expect(its.inv(7, 1)).toBe(0);
    expect(its.clear(7, 1)).toBe(0);
    expect(its.discard(7, 2)).toBe(0);
    expect(its.invall(3)).toBe(0);
    expect(its.movall(2, 1)).toBe(0);
    expect(its.sync(1)).toBe(0);
    expect(its.mapc(3, 2, false)).toBe(0);
    expect(its.mapd(7, 0, false)).toBe(0);
    expect(its.wait()).toBe(0);
    const itt = its.devices.get(7)!.itt;
    const want: ItsCommand[] = [
      { cmd: 'MAPC', icid: 3, rdbase: 2, valid: true },
      { cmd: 'MAPD', deviceId: 7, size: 4, ittAddr: itt, valid: true },
      { cmd: 'MAPTI', deviceId: 7, eventId: 1, pintid: 8300, icid: 3 },
      { cmd: 'MAPI', deviceId: 7, eventId: 2, icid: 3 },
      { cmd: 'MOVI', deviceId: 7, eventId: 1, icid: 0 },
      { cmd: 'INT', deviceId: 7, eventId: 1 },
      { cmd: 'INV', deviceId: 7, eventId: 1 },
      { cmd: 'CLEAR', deviceId: 7, eventId: 1 },
      { cmd: 'DISCARD', deviceId: 7, eventId: 2 },
      { cmd: 'INVALL', icid: 3 },
      { cmd: 'MOVALL', rdbase1: 2, rdbase2: 1 },
      { cmd: 'SYNC', rdbase: 1 },
      { cmd: 'MAPC', icid: 3, rdbase: 2, valid: false },
      { cmd: 'MAPD', deviceId: 7, size: 0, ittAddr: 0, valid: false },
    ];
    want.forEach((c, i) => expect(queueCommand(g, its, i)).toEqual(c));
    expect(f.consumed).toEqual(want);
    const cw = g.writesTo(ITS0, u.GITS_CWRITER).map((w) => Number(w.value));
    expect(cw).toEqual([0, ...want.map((_, i) => 32 * (i + 1))]);
    expect(its.commands).toBe(want.length);
    expect(f.creadr).toBe(f.cwriter);
  });

  it('wraps CWRITER at the queue size', () => {
    const { g, its, f } = ready('instant', { queueBytes: 0x1000 });
    const slots = 0x1000 / 32;
    for (let i = 0; i < slots + 5; i++) expect(its.int(1, i)).toBe(0);
    expect(its.wait()).toBe(0);
    const cw = g.writesTo(ITS0, u.GITS_CWRITER).map((w) => Number(w.value)).slice(1);
    expect(cw[slots - 2]).toBe(0x1000 - 32);
    expect(cw[slots - 1]).toBe(0);
    expect(cw[slots + 4]).toBe(5 * 32);
    expect(cw.every((o) => o < 0x1000 && o % 32 === 0)).toBe(true);
    // Slots 0..4 were overwritten by the wrapped commands.
    for (let i = 0; i < 5; i++) expect(queueCommand(g, its, i)).toEqual({ cmd: 'INT', deviceId: 1, eventId: slots + i });
    expect(queueCommand(g, its, 5)).toEqual({ cmd: 'INT', deviceId: 1, eventId: 5 });
    expect(f.consumed.map((c) => (c as { eventId: number }).eventId)).toEqual([...Array(slots + 5).keys()]);
  });

  it('waits for room when the queue is full (an ITS that lags behind)', () => {
    const { its, f } = ready('lagged', { queueBytes: 0x1000 });
    const n = 3 * (0x1000 / 32);
    for (let i = 0; i < n; i++) expect(its.int(2, i)).toBe(0);
    expect(its.wait()).toBe(0);
    expect(f.consumed.length).toBe(n);
    expect(f.consumed.map((c) => (c as { eventId: number }).eventId)).toEqual([...Array(n).keys()]);
    expect(its.error).toBeUndefined();
  });

  it('batches: one CWRITER write per flush/wait', () => {
    const { g, its, f } = ready();
    const before = g.writesTo(ITS0, u.GITS_CWRITER).length;
    its.begin();
    for (let i = 0; i < 10; i++) its.int(1, i);
    expect(g.writesTo(ITS0, u.GITS_CWRITER).length).toBe(before);
    expect(f.consumed.length).toBe(0);
    expect(its.wait()).toBe(0);
    expect(g.writesTo(ITS0, u.GITS_CWRITER).length).toBe(before + 1);
    expect(f.consumed.length).toBe(10);
    its.begin();
    its.sync(0);
    its.flush();
    expect(f.consumed.length).toBe(11);
  });

  it('a stuck ITS makes wait() and a full queue time out (bounded), not hang or throw', () => {
    const { g, its } = ready('stuck', { queueBytes: 0x1000, pollLimit: 50 });
    expect(its.int(1, 1)).toBe(0);
    const relaxes = g.relaxes;
    expect(its.wait()).toBe(-u.ETIMEDOUT);
    expect(g.relaxes - relaxes).toBe(50);
    expect(its.error).toMatchObject({ errno: -u.ETIMEDOUT, name: '-ETIMEDOUT' });
    let r = 0;
    let sent = 1;
    while ((r = its.int(1, 2)) === 0) sent++;
    expect(r).toBe(-u.ETIMEDOUT);
    expect(sent).toBe(0x1000 / 32 - 1);
  });

  it('reports a CREADR that is not a queue offset', () => {
    const { its, f } = ready();
    f.mode = 'garbage-creadr';
    its.int(1, 1);
    expect(its.wait()).toBe(-u.EINVAL);
    expect(its.error!.where).toMatch(/CREADR/);
  });

  it('sizes ITTs from the EventID bits (256-byte aligned, at least 256 bytes)', () => {
    const { g, its } = ready();
    expect(its.mapd(1, 1)).toBe(0);
    expect(its.mapd(2, 10)).toBe(0);
    expect(its.mapd(3, 16)).toBe(0);
    const d1 = its.devices.get(1)!, d2 = its.devices.get(2)!, d3 = its.devices.get(3)!;
    expect([d1.ittBytes, d2.ittBytes, d3.ittBytes]).toEqual([256, 8192, 0x8_0000]);
    for (const d of [d1, d2, d3]) expect(d.itt % 256).toBe(0);
    expect(queueCommand(g, its, 1)).toEqual({ cmd: 'MAPD', deviceId: 2, size: 9, ittAddr: d2.itt, valid: true });
    // Remap with fewer bits keeps the ITT; more bits gets a bigger one.
    expect(its.mapd(2, 4)).toBe(0);
    expect(its.devices.get(2)!.itt).toBe(d2.itt);
    expect(its.mapd(1, 9)).toBe(0);
    expect(its.devices.get(1)!.itt).not.toBe(d1.itt);
    expect(its.devices.get(1)!.ittBytes).toBe(4096);
    // Out of range: refused by the driver (send() stays available for raw commands).
    const n = its.commands;
    expect(its.mapd(4, 17)).toBe(-u.EINVAL);
    expect(its.mapd(4, 0)).toBe(-u.EINVAL);
    expect(its.commands).toBe(n);
    expect(its.send({ cmd: 'MAPD', deviceId: 4, size: 20, ittAddr: 0, valid: true })).toBe(0);
  });

  it('targets redistributors by Processor_Number (PTA=0) or RD_base (PTA=1)', () => {
    const { g, its } = ready('instant', { processorNumbers: [10, 11, 12, 13] });
    its.mapc(0, 2);
    its.movall(3, 0);
    expect(queueCommand(g, its, 0)).toEqual({ cmd: 'MAPC', icid: 0, rdbase: 12, valid: true });
    expect(queueCommand(g, its, 1)).toEqual({ cmd: 'MOVALL', rdbase1: 13, rdbase2: 10 });

    const g2 = new FakeGuestForDriverTests(0, 2);
    g2.itsFrame().quirks.typer = u.GITS_TYPER_VALUE | u.GITS_TYPER_PTA;
    const its2 = newIts(g2);
    expect(its2.init()).toBe(0);
    expect(its2.pta).toBe(true);
    expect(its2.rdTarget(1)).toBe((GICR_BASE + GICR_STRIDE) / SZ_64K);
  });
});

describe('guest/gic-driver', () => {
  it('allocates and initialises the property and pending tables', () => {
    const g = new FakeGuestForDriverTests(0, 3);
    const gic = new GicDriver(g as never);
    const alloc = new GpaAllocator(RAM + SZ_64K, 8 * 1024 * 1024);
    expect(gic.allocLpiTables(alloc, 16, 3)).toBe(0);
    const t = gic.tables!;
    expect(t.propBytes).toBe(65536 - 8192);
    expect(t.propGpa % SZ_64K).toBe(0);
    expect(g.mem.read8(t.propGpa)).toBe(0xa2);
    expect(g.mem.read8(t.propGpa + t.propBytes - 1)).toBe(0xa2);
    expect(t.pendBytes).toBe(SZ_64K);
    expect(t.pendGpa.length).toBe(3);
    for (const p of t.pendGpa) {
      expect(p % SZ_64K).toBe(0);
      expect(p).toBeGreaterThanOrEqual(t.propGpa + t.propBytes);
    }
    expect(new Set(t.pendGpa).size).toBe(3);

    expect(gic.setLpiConfig(8200, 0x80, true)).toBe(0);
    expect(g.mem.read8(t.propGpa + 8)).toBe(0x83);
    expect(gic.lpiConfig(8200)).toBe(0x83);
    expect(gic.setLpiConfig(8191, 0x80, true)).toBe(-u.EINVAL);
    expect(gic.setLpiConfig(65536, 0x80, true)).toBe(-u.EINVAL);
    expect(gic.allocLpiTables(alloc, 13, 1)).toBe(-u.EINVAL);
  });

  it('programs PROPBASER/PENDBASER, enables LPIs and the distributor, with read-back', () => {
    const g = new FakeGuestForDriverTests(0, 2);
    const gic = new GicDriver(g as never);
    expect(gic.allocLpiTables(new GpaAllocator(RAM + SZ_64K, 8 * 1024 * 1024), 15, 2)).toBe(0);
    expect(gic.probeDist()).toMatchObject({ lpis: true, idBits: 16 });
    expect(gic.processorNumber(1)).toBe(1);
    for (const v of [0, 1]) expect(gic.programRedist(v)).toBe(0);
    const r1 = g.redists[1]!;
    expect(u.gicrPropbaserAddress(r1.propbaser)).toBe(gic.tables!.propGpa);
    expect(u.gicrPropbaserIdBits(r1.propbaser)).toBe(14);
    expect(u.gicrPendbaserAddress(r1.pendbaser)).toBe(gic.tables!.pendGpa[1]);
    expect(u.gicrPendbaserPtz(r1.pendbaser)).toBe(false);
    const rd1 = GICR_BASE + GICR_STRIDE;
    expect(g.writes.filter((w) => w.gpa >= rd1 && w.gpa < rd1 + GICR_STRIDE).map((w) => w.gpa - rd1))
      .toEqual([u.GICR_PROPBASER, u.GICR_PENDBASER]);

    expect(gic.enableLpis(1)).toBe(0);
    expect(r1.ctlr).toBe(u.GICR_CTLR_ENABLE_LPIS);
    expect(gic.lpisEnabled(1)).toBe(true);
    expect(gic.lpisEnabled(0)).toBe(false);
    // Frozen once enabled: same tables are fine, other tables are -EBUSY.
    expect(gic.programRedist(1)).toBe(0);
    const other = new GicDriver(g as never);
    other.allocLpiTables(new GpaAllocator(RAM + 16 * 1024 * 1024, 8 * 1024 * 1024), 16, 2);
    expect(other.programRedist(1)).toBe(-u.EBUSY);
    expect(other.programRedist(0, true)).toBe(0);
    expect(u.gicrPendbaserPtz(g.redists[0]!.pendbaser)).toBe(true);

    expect(gic.enableDist()).toBe(0);
    expect(g.gicdCtlr).toBe(GICD_CTLR_ENABLE_GRP1A | GICD_CTLR_ARE_NS);
    expect(g.writes.filter((w) => w.gpa === GICD_BASE).map((w) => Number(w.value)))
      .toEqual([GICD_CTLR_ENABLE_GRP1A | GICD_CTLR_ARE_NS]);
    expect(gic.disableLpis(1)).toBe(0);
    expect(r1.ctlr).toBe(0);
  });

  it('reports redistributors without LPI support and ignored writes', () => {
    const g = new FakeGuestForDriverTests(0, 1, { hasIts: false });
    const gic = new GicDriver(g as never);
    expect(gic.processorNumber(0)).toBe(-u.ENODEV);
    gic.clearError();
    gic.allocLpiTables(new GpaAllocator(RAM + SZ_64K, 8 * 1024 * 1024), 16, 1);
    expect(gic.programRedist(0)).toBe(0);
    expect(gic.enableLpis(0)).toBe(-u.EINVAL);
    expect(gic.error!.where).toBe('GICR0 CTLR');
  });
});

describe('guest/its-setup (runItsSetup against the fake frames)', () => {
  const devices = [
    { deviceId: 5, events: [{ eventId: 0, intid: 8192, icid: 0 }, { eventId: 3, intid: 8195, icid: 1, priority: 0x40 }] },
    { deviceId: 9, eventIdBits: 8, events: [{ eventId: 8200, intid: 8200, icid: 1, mapi: true, enabled: false }] },
  ];

  it('brings up tables, redistributors, the ITS and the mappings, and publishes the mailbox', () => {
    const g = new FakeGuestForDriverTests(0, 2);
    const s = runItsSetup(g as never, { devices: devices.map((d) => ({ ...d, eventIdBits: d.deviceId === 9 ? 14 : undefined })) });
    expect(s.error).toBeUndefined();
    expect(s.ok).toBe(true);
    expect(s.idBits).toBe(16);
    expect(s.processorNumbers).toEqual([0, 1]);
    expect(s.lpisEnabledOn).toEqual([0, 1]);
    expect(s.distEnabled).toBe(true);
    expect(s.events).toBe(3);
    expect(mailboxLoad(g as never, s.mailbox, MAILBOX_STATE)).toBe(SETUP_DONE);
    expect(mailboxLoad(g as never, s.mailbox, MAILBOX_LPIS_ENABLED)).toBe(2);
    expect(g.redists.map((r) => r.ctlr)).toEqual([1, 1]);
    const f = g.itsFrame();
    const itt5 = s.its[0]!.devices.find((d) => d.deviceId === 5)!.itt;
    const itt9 = s.its[0]!.devices.find((d) => d.deviceId === 9)!.itt;
    expect(f.consumed).toEqual([
      { cmd: 'MAPC', icid: 0, rdbase: 0, valid: true },
      { cmd: 'MAPC', icid: 1, rdbase: 1, valid: true },
      { cmd: 'MAPD', deviceId: 5, size: 1, ittAddr: itt5, valid: true },
      { cmd: 'MAPTI', deviceId: 5, eventId: 0, pintid: 8192, icid: 0 },
      { cmd: 'MAPTI', deviceId: 5, eventId: 3, pintid: 8195, icid: 1 },
      { cmd: 'MAPD', deviceId: 9, size: 13, ittAddr: itt9, valid: true },
      { cmd: 'MAPI', deviceId: 9, eventId: 8200, icid: 1 },
      { cmd: 'SYNC', rdbase: 0 },
      { cmd: 'SYNC', rdbase: 1 },
    ]);
    expect(s.commands).toBe(9);
    const prop = s.propTable!.gpa;
    expect(g.mem.read8(prop + 0)).toBe(0xa3);
    expect(g.mem.read8(prop + 3)).toBe(0x43);
    expect(g.mem.read8(prop + 8)).toBe(0xa2);
    expect(g.mem.read8(prop + 1)).toBe(0xa2);
    // Everything lies inside the region, above the mailbox.
    expect(s.region.used).toBeGreaterThan(0);
    for (const a of [prop, ...s.pendTables, s.its[0]!.queue!.gpa, s.its[0]!.deviceTable!.gpa, itt5, itt9]) {
      expect(a).toBeGreaterThanOrEqual(s.region.base);
      expect(a).toBeLessThan(s.region.base + s.region.used);
    }
    expect(s.mailbox).toBeLessThan(s.region.base);
    expect(structuredClone(s)).toEqual(s);
  });

  it('configAfterMap, two ITSs, explicit collections, self LPI enable, batching', () => {
    const g = new FakeGuestForDriverTests(1, 3, { itsBases: [ITS0, ITS1] });
    const s = runItsSetup(g as never, {
      its: [0, ITS1],
      collections: [{ icid: 4, vcpu: 2 }, { its: 1, icid: 4, vcpu: 0 }],
      devices: [{ deviceId: 1, events: [{ eventId: 0, intid: 9000, icid: 4 }] }, { its: 1, deviceId: 1, events: [{ eventId: 1, intid: 9001, icid: 4 }] }],
      configAfterMap: true, enableLpis: 'self', batch: true, twoLevel: true, sync: false,
    });
    expect(s.error).toBeUndefined();
    expect(s.lpisEnabledOn).toEqual([1]);
    expect(g.redists.map((r) => r.ctlr)).toEqual([0, 1, 0]);
    expect(s.its.map((i) => i.base)).toEqual([ITS0, ITS1]);
    expect(s.its[0]!.deviceTable!.indirect).toBe(true);
    expect(g.itsFrame(ITS0).consumed.map((c) => c.cmd)).toEqual(['MAPC', 'MAPD', 'MAPTI', 'INV']);
    expect(g.itsFrame(ITS1).consumed).toEqual([
      { cmd: 'MAPC', icid: 4, rdbase: 0, valid: true },
      { cmd: 'MAPD', deviceId: 1, size: 0, ittAddr: s.its[1]!.devices[0]!.itt, valid: true },
      { cmd: 'MAPTI', deviceId: 1, eventId: 1, pintid: 9001, icid: 4 },
      { cmd: 'INV', deviceId: 1, eventId: 1 },
    ]);
    // Batched: CWRITER = 0 after CBASER, then one publish for the whole batch.
    expect(g.writesTo(ITS1, u.GITS_CWRITER).map((w) => Number(w.value))).toEqual([0, 128]);
    expect(g.mem.read8(s.propTable!.gpa + 9000 - 8192)).toBe(0xa3);
  });

  it('returns an error summary (and a negative mailbox state) instead of throwing', () => {
    const bad = runItsSetup(new FakeGuestForDriverTests() as never, { devices: [{ deviceId: -1, events: [] }] as never });
    expect(bad.ok).toBe(false);
    expect(bad.error).toMatchObject({ errno: -u.EINVAL, where: 'its-setup args' });
    expect(structuredClone(bad)).toEqual(bad);
    for (const junk of ['x', { devices: {} }, { its: [] }, { collections: 3 }, { devices: [{ deviceId: 1, events: [{ eventId: 1 }] }] },
      { enableLpis: 'some' }, { idBits: 13 }, { handle: { stopAfter: -1 } }, { devices: [{ deviceId: 1, events: [{ eventId: 1, intid: 8192, icid: 0, mapi: true }] }] }]) {
      expect(runItsSetup(new FakeGuestForDriverTests() as never, junk as never).error).toMatchObject({ errno: -u.EINVAL });
    }

    const g = new FakeGuestForDriverTests(0, 2, { hasIts: false });
    g.gicdTyper = 9 << 19;
    const s = runItsSetup(g as never, {});
    expect(s.ok).toBe(false);
    expect(s.error).toMatchObject({ errno: -u.ENODEV, where: 'GICD TYPER' });
    expect(mailboxLoad(g as never, s.mailbox, MAILBOX_STATE)).toBe(-u.ENODEV);

    const g2 = new FakeGuestForDriverTests(0, 1, { hasIts: false });
    const s2 = runItsSetup(g2 as never, { checkGicdTyper: false });
    expect(s2.error).toMatchObject({ errno: -u.ENODEV, where: 'GICR0 TYPER' });

    const noMailbox = runItsSetup(new FakeGuestForDriverTests() as never, { mailbox: 0x1000 });
    expect(noMailbox.error).toMatchObject({ errno: -u.EFAULT, where: 'setup mailbox' });

    const g3 = new FakeGuestForDriverTests(0, 1);
    g3.itsFrame().mode = 'stuck';
    const s3 = itsSetupProgram(g3 as never, { pollLimit: 10 });
    expect(s3.error).toMatchObject({ errno: -u.ETIMEDOUT });
    expect(s3.its[0]!.error).toMatchObject({ errno: -u.ETIMEDOUT });
  });

  it('with handle, stays in the interrupt loop afterwards', () => {
    const g = new FakeGuestForDriverTests(0, 1);
    const cpu = new FakeCpuInterfaceForLoopTests([]);
    g.ext.gic = cpu;
    g.onWfi = () => cpu.pending.push(8192, 8193);
    const s = runItsSetup(g as never, { handle: { stopAfter: 4 }, devices: [{ deviceId: 0, events: [{ eventId: 0, intid: 8192, icid: 0 }] }] });
    expect(s.ok).toBe(true);
    expect(s.handler).toMatchObject({ ok: true, lpis: 4, wakeups: 2 });
    expect(Array.from(g.results.subarray(0, 3))).toEqual([4, 2, 2]);
  });
});

describe('guest/irq-loop and lpi-handler', () => {
  it('acks until spurious, EOIs, counts into results', () => {
    const g = new FakeGuestForDriverTests();
    const cpu = new FakeCpuInterfaceForLoopTests([8192, 8200, 27, 8200]);
    g.ext.gic = cpu;
    let rounds = 0;
    g.onWfi = () => { if (++rounds === 1) cpu.pending.push(8192 + 62, 8192 + 63, 8192 + 5000); };
    const r = irqLoop(g as never, { stopAfter: 6 });
    expect(r).toEqual({ ok: true, lpis: 6, other: 1, wakeups: 1 });
    expect(cpu.eoied).toEqual([8192, 8200, 27, 8200, 8254, 8255, 13192]);
    expect(g.results[0]).toBe(6);
    expect(g.results[1]).toBe(1);
    expect(g.results[1 + 8]).toBe(2);
    expect(g.results[63]).toBe(1);
    expect(g.results.reduce((a, b) => a + b, 0)).toBe(6 + 1 + 2 + 1);
    expect(irqLoop(g as never, { stopAfter: 0 })).toEqual({ ok: true, lpis: 0, other: 0, wakeups: 0 });
  });

  it('reports a missing CPU interface', () => {
    const r = irqLoop(new FakeGuestForDriverTests() as never, {});
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/guest\.ext\.gic/);
  });

  it('lpi-handler enables its own LPIs once the mailbox allows it', () => {
    const g = new FakeGuestForDriverTests(1, 2);
    const cpu = new FakeCpuInterfaceForLoopTests([8194]);
    g.ext.gic = cpu;
    const timedOut = lpiHandler(g as never, { enableLpis: true, timeoutMs: 20 });
    expect(timedOut).toMatchObject({ ok: false, vcpu: 1 });
    expect(timedOut.error).toMatch(/ETIMEDOUT/);
    expect(g.redists[1]!.ctlr).toBe(0);

    expect(mailboxStore(g as never, RAM, MAILBOX_STATE, SETUP_REDISTS_READY)).toBe(0);
    const r = lpiHandler(g as never, { enableLpis: true, stopAfter: 1 });
    expect(r).toMatchObject({ ok: true, vcpu: 1, lpis: 1 });
    expect(g.redists[1]!.ctlr).toBe(1);
    expect(g.redists[0]!.ctlr).toBe(0);
    expect(g.results[3]).toBe(1);

    mailboxStore(g as never, RAM, MAILBOX_STATE, -u.ENODEV);
    expect(lpiHandler(g as never, { enableLpis: true }).error).toMatch(/ENODEV/);
  });

  it('its-setup on a non-boot vCPU acts as a secondary (lpi-handler), enabling its own LPIs in self mode', () => {
    const g = new FakeGuestForDriverTests(2, 3);
    const cpu = new FakeCpuInterfaceForLoopTests([8192, 8193]);
    g.ext.gic = cpu;
    mailboxStore(g as never, RAM, MAILBOX_STATE, SETUP_DONE);
    const r = itsSetupProgram(g as never, { enableLpis: 'self', secondary: { stopAfter: 2 } });
    expect(r).toEqual({ ok: true, vcpu: 2, lpis: 2, other: 0, wakeups: 0 });
    expect(g.redists.map((x) => x.ctlr)).toEqual([0, 0, 1]);
    expect(mailboxLoad(g as never, RAM, MAILBOX_LPIS_ENABLED)).toBe(1);
    expect(g.writes.some((w) => w.gpa >= ITS0 && w.gpa < ITS0 + 0x2_0000)).toBe(false);
    // 'all' mode: the secondary leaves EnableLPIs to the boot vCPU; bootVcpu moves the setup role.
    const g2 = new FakeGuestForDriverTests(0, 2);
    g2.ext.gic = new FakeCpuInterfaceForLoopTests([8192]);
    const r2 = itsSetupProgram(g2 as never, { bootVcpu: 1, secondary: { stopAfter: 1 } });
    expect(r2).toMatchObject({ ok: true, vcpu: 0, lpis: 1 });
    expect(g2.redists.map((x) => x.ctlr)).toEqual([0, 0]);
  });
});
