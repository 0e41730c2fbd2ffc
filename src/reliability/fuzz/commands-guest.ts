/**
 * Guest program of the command-stream fuzzer (commands.ts). One image on
 * every vCPU:
 *  - vCPU 0 brings the GIC and every ITS up (runItsSetup, no mappings) and
 *    enables a range of LPIs in the property table;
 *  - vCPU n < number of ITSs is ITS n's driver: it serves the fuzzer's
 *    requests for that ITS on its own guest-RAM channel (channel.ts),
 *    handling its own interrupts while it waits, so streams to different
 *    ITSs run at the same time (their LPIs are shared):
 *      'reset': empty the ITS as a guest can (disable, BASER0/BASER1 Valid=0,
 *               the baseline tables and queue back, enable), map the
 *               collections and, on ITS 0, the reserved device (the
 *               fuzzer's conservation witnesses), and zero the queue, so a
 *               wrapped CWRITER can only replay fuzz commands;
 *      'run':   the case's actions (commands, raw CWRITER/CBASER values,
 *               commands queued while disabled, GITS_TRANSLATER stores),
 *               checking after each what the spec says a guest observes.
 *  - every other vCPU handles LPIs (the lpi-handler loop).
 * Replies carry the spec violations seen, as text; the fuzzer fails on any.
 */
import type { Guest, GuestMain } from '../../kvm/guest-api.js';
import type { GpaRegion } from '../../guest/alloc.js';
import { runItsSetup } from '../../guest/its-setup.js';
import { runLpiHandler } from '../../guest/lpi-handler.js';
import { drainInterrupts } from '../../guest/irq-loop.js';
import type { GicCpuInterface } from '../../vgic/cpu-interface.js';
import { defaultItsBase } from '../../vgic/layout.js';
import { EFAULT } from '../../uapi/errno.js';
import {
  GITS_BASER_VALID, GITS_CBASER_VALID, gitsCbaserAddress, itsCmdBufferSize, itsCmdOffset, makeLpiProp,
} from '../../uapi/gic-fields.js';
import { GITS_CBASER, GITS_CREADR, GITS_CTLR, GITS_CTLR_ENABLE, GITS_CTLR_QUIESCENT, GITS_CWRITER, GITS_TRANSLATER, gitsBaserOffset } from '../../uapi/gits.js';
import { encodeItsCommandBytes, ITS_CMD_BYTES, type ItsCommand } from '../../uapi/its-cmd.js';
import { SETUP_MAILBOX_GPA } from '../../guest/alloc.js';
import { SETUP_DONE, waitForSetup } from '../../guest/handshake.js';
import { GuestChannel, GUEST_READY } from './channel.js';

export interface CommandsGuestArgs {
  /** GPA of ITS n's request channel, whose driver is vCPU n. */
  channels: number[];
  /** Guest RAM for the GIC tables (runItsSetup). */
  region: GpaRegion;
  /** Command queue bytes (small, so streams wrap). */
  queueBytes: number;
  /** LPIs whose property byte the guest enables; every `disabledEvery`-th stays disabled (spec 9.8). */
  lpis: { first: number; count: number; disabledEvery: number; priority: number };
  /**
   * RAM the ITS must never be pointed at (GIC tables, channel): a queue the
   * fuzzer moved over it is left unused (its commands would be this RAM).
   */
  protect: GpaRegion;
  /** The device the fuzzer never touches: its events are the conservation witnesses. */
  reserved: { deviceId: number; ittAddr: number; eventIdBits: number; icid: number; vcpu: number; events: { eventId: number; intid: number }[] };
}

/** One step of a case. Commands travel as hex strings of 32-byte commands. */
export type CommandAction =
  /** Write the commands at CWRITER; publish each (or the batch) with a GITS_CWRITER store. */
  | { a: 'cmds'; hex: string; batch: boolean }
  /** A raw GITS_CWRITER store: `value` ('raw'), or relative to CWRITER ('back'/'ahead' k commands, 'end' k past the queue end). */
  | { a: 'cwriter'; mode: 'raw' | 'back' | 'ahead' | 'end'; value: bigint; k: number; size: 4 | 8; half: 0 | 1 }
  /** Disable the ITS, queue and publish the commands (nothing may run), then enable (all must run). */
  | { a: 'disabled'; hex: string }
  /** Disable, store GITS_CBASER (any value), enable if Valid, run commands there, then put the baseline queue back. */
  | { a: 'cbaser'; value: bigint; size: 4 | 8; half: 0 | 1; hex: string }
  /** A GITS_CBASER store while enabled: ignored. */
  | { a: 'cbaser-enabled'; value: bigint }
  /** A store to GITS_TRANSLATER: not emulated (spec 9.9). */
  | { a: 'translater'; value: number };

export type CommandsRequest = { op: 'reset' } | { op: 'run'; actions: CommandAction[] };
export interface CommandsReply { violations: string[]; commands: number; publishes: number }

const hexToBytes = (hex: string): Uint8Array => {
  const b = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(hex.substr(2 * i, 2), 16);
  return b;
};

/** The ITS as this guest drives it: registers read back every time (the fuzzer moves CWRITER and CBASER behind any cache). */
class Driver {
  readonly violations: string[] = [];
  commands = 0;
  publishes = 0;
  baseline = { cbaser: 0n, baser0: 0n, baser1: 0n };
  where = '';

  constructor(readonly guest: Guest, readonly base: number, readonly protect: GpaRegion) {}

  rd(off: number): bigint { return this.guest.mmioRead64(this.base + off); }
  wr(off: number, v: bigint): void { this.guest.mmioWrite64(this.base + off, v); }
  ctlr(): number { return this.guest.mmioRead32(this.base + GITS_CTLR); }
  setCtlr(v: number): void { this.guest.mmioWrite32(this.base + GITS_CTLR, v); }
  enabled(): boolean { return (this.ctlr() & GITS_CTLR_ENABLE) !== 0; }
  fail(what: string): void { this.violations.push(`${this.where}: ${what}`); }

  queue(): { gpa: number; bytes: number; cwriter: number; creadr: number } {
    const cbaser = this.rd(GITS_CBASER);
    return { gpa: gitsCbaserAddress(cbaser), bytes: itsCmdBufferSize(cbaser), cwriter: Number(this.rd(GITS_CWRITER)), creadr: Number(this.rd(GITS_CREADR)) };
  }

  /**
   * Write 32-byte commands from CWRITER on (wrapping); unbacked slots are
   * skipped by the ITS. Returns the new offset. A queue moved over protected
   * RAM is not used at all (returns CWRITER).
   */
  put(cmds: Uint8Array, publishEach: boolean): number {
    const q = this.queue();
    let at = q.cwriter;
    const p = this.protect;
    const baseline = q.gpa === gitsCbaserAddress(this.baseline.cbaser) && q.bytes === itsCmdBufferSize(this.baseline.cbaser);
    if (!baseline && q.gpa < p.base + p.size && p.base < q.gpa + q.bytes) return at;
    for (let i = 0; i + ITS_CMD_BYTES <= cmds.length; i += ITS_CMD_BYTES) {
      this.guest.writeBytes(q.gpa + at, cmds.subarray(i, i + ITS_CMD_BYTES)); // -EFAULT outside RAM: the ITS skips it
      at = (at + ITS_CMD_BYTES) % q.bytes;
      this.commands++;
      if (publishEach) this.publish(at);
    }
    if (!publishEach) this.publish(at);
    return at;
  }

  publish(at: number): void {
    this.wr(GITS_CWRITER, BigInt(at));
    this.publishes++;
    this.checkDrained(`CWRITER := 0x${at.toString(16)}`);
  }

  /** 9.10: with the ITS enabled, CREADR == CWRITER and Quiescent = 1 as soon as the store returns. */
  checkDrained(after: string): void {
    const c = this.ctlr();
    if ((c & GITS_CTLR_ENABLE) === 0) return;
    const creadr = this.rd(GITS_CREADR), cwriter = this.rd(GITS_CWRITER);
    if (creadr !== cwriter) this.fail(`after ${after}: CREADR 0x${creadr.toString(16)} != CWRITER 0x${cwriter.toString(16)} (spec 9.10: the drain is synchronous)`);
    if (c !== (GITS_CTLR_ENABLE | GITS_CTLR_QUIESCENT) >>> 0) this.fail(`after ${after}: GITS_CTLR 0x${c.toString(16)}, expected Enabled|Quiescent`);
  }

  zeroQueue(): void {
    const q = this.queue();
    this.guest.writeBytes(q.gpa, new Uint8Array(q.bytes));
  }

  enable(): void {
    this.setCtlr(GITS_CTLR_ENABLE);
    if (!this.enabled()) this.fail('enabling with BASER0, BASER1 and CBASER Valid was refused (spec 9.13)');
  }

  /** The baseline queue back: disable, CBASER (CREADR = CWRITER = 0), zeroed, enable. */
  baselineQueue(): void {
    this.setCtlr(0);
    this.wr(GITS_CBASER, this.baseline.cbaser);
    this.zeroQueue();
    this.enable();
  }
}

function send(d: Driver, ...cmds: ItsCommand[]): void {
  const b = new Uint8Array(cmds.length * ITS_CMD_BYTES);
  cmds.forEach((c, i) => b.set(encodeItsCommandBytes(c), i * ITS_CMD_BYTES));
  d.put(b, false);
}

/** Empty the ITS as a guest can, then map the collections (and on ITS 0 the reserved device), and zero the queue. */
function reset(d: Driver, args: CommandsGuestArgs, its: number): void {
  d.where = `ITS ${its} reset`;
  const g = d.guest;
  d.setCtlr(0);
  // 9.15: Valid = 0 while disabled deletes every device (and its ITEs) / every collection.
  d.wr(gitsBaserOffset(0), d.baseline.baser0 & ~GITS_BASER_VALID);
  d.wr(gitsBaserOffset(1), d.baseline.baser1 & ~GITS_BASER_VALID);
  d.wr(gitsBaserOffset(0), d.baseline.baser0);
  d.wr(gitsBaserOffset(1), d.baseline.baser1);
  d.wr(GITS_CBASER, d.baseline.cbaser);
  d.zeroQueue();
  d.enable();
  const r = args.reserved;
  const cmds: ItsCommand[] = [];
  for (let v = 0; v < g.nrVcpus; v++) cmds.push({ cmd: 'MAPC', icid: v, rdbase: v, valid: true });
  if (its === 0) {
    cmds.push({ cmd: 'MAPC', icid: r.icid, rdbase: r.vcpu, valid: true });
    cmds.push({ cmd: 'MAPD', deviceId: r.deviceId, size: r.eventIdBits - 1, ittAddr: r.ittAddr, valid: true });
    for (const e of r.events) cmds.push({ cmd: 'MAPTI', deviceId: r.deviceId, eventId: e.eventId, pintid: e.intid, icid: r.icid });
  }
  cmds.push({ cmd: 'SYNC', rdbase: r.vcpu });
  send(d, ...cmds);
  d.zeroQueue();
}

/** A register value after a store of `a.size` bytes (at half `a.half`) of `value` over `old`. */
const merge64 = (old: bigint, a: { size: 4 | 8; half: 0 | 1 }, value: bigint): bigint =>
  a.size === 8 ? BigInt.asUintN(64, value)
    : a.half === 0 ? (old & 0xffff_ffff_0000_0000n) | BigInt.asUintN(32, value) : (old & 0xffff_ffffn) | (BigInt.asUintN(32, value) << 32n);

function store(d: Driver, off: number, a: { size: 4 | 8; half: 0 | 1 }, v: bigint): void {
  if (a.size === 8) d.wr(off, v);
  else d.guest.mmioWrite32(d.base + off + 4 * a.half, Number(BigInt.asUintN(32, v)));
}

function runAction(d: Driver, a: CommandAction): void {
  switch (a.a) {
    case 'cmds':
      d.put(hexToBytes(a.hex), !a.batch);
      return;
    case 'cwriter': {
      const q = d.queue();
      const target = a.mode === 'raw' ? a.value
        : BigInt(a.mode === 'back' ? (q.cwriter - 32 * a.k + 64 * q.bytes) % q.bytes
          : a.mode === 'ahead' ? (q.cwriter + 32 * a.k) % q.bytes : q.bytes + 32 * a.k);
      const old = BigInt(q.cwriter);
      store(d, GITS_CWRITER, a, target);
      // 9.12: an offset beyond the queue is ignored; otherwise stored (bits 19:5 only) and drained.
      const off = itsCmdOffset(merge64(old, a, target));
      const want = off < q.bytes ? BigInt(off) : old;
      const got = d.rd(GITS_CWRITER);
      if (got !== want) d.fail(`CWRITER store 0x${target.toString(16)} (${a.size} bytes, half ${a.half}) read back 0x${got.toString(16)}, expected 0x${want.toString(16)} (spec 9.12)`);
      d.checkDrained('a raw CWRITER store');
      return;
    }
    case 'disabled': {
      d.setCtlr(0);
      if (d.enabled()) d.fail('GITS_CTLR Enable = 0 did not disable');
      const before = d.rd(GITS_CREADR);
      const at = d.put(hexToBytes(a.hex), false);
      const creadr = d.rd(GITS_CREADR);
      if (creadr !== before) d.fail(`a disabled ITS ran commands: CREADR 0x${before.toString(16)} -> 0x${creadr.toString(16)} (spec 3)`);
      const quiescent = (d.ctlr() & GITS_CTLR_QUIESCENT) !== 0;
      if (quiescent !== (BigInt(at) === creadr)) d.fail(`Quiescent ${quiescent} with CREADR 0x${creadr.toString(16)}, CWRITER 0x${at.toString(16)}`);
      d.enable();
      d.checkDrained('enabling (spec 9.13: commands queued while disabled run at once)');
      return;
    }
    case 'cbaser': {
      d.setCtlr(0);
      const value = merge64(d.rd(GITS_CBASER), a, a.value);
      store(d, GITS_CBASER, a, a.value);
      const cb = d.rd(GITS_CBASER);
      if ((cb & 0xf000n) !== 0n) d.fail(`CBASER 0x${cb.toString(16)}: bits 15:12 not cleared (spec 1.3)`);
      if (d.rd(GITS_CREADR) !== 0n || d.rd(GITS_CWRITER) !== 0n) d.fail('a CBASER store left CREADR/CWRITER non-zero (spec 9.12)');
      if (((cb ^ value) & GITS_CBASER_VALID) !== 0n) d.fail(`CBASER Valid not as stored (0x${value.toString(16)} -> 0x${cb.toString(16)})`);
      d.setCtlr(GITS_CTLR_ENABLE);
      const on = d.enabled();
      if (on !== ((cb & GITS_CBASER_VALID) !== 0n)) d.fail(`enable with CBASER 0x${cb.toString(16)}: Enabled = ${on} (spec 9.13)`);
      if (on) d.put(hexToBytes(a.hex), false);
      d.baselineQueue();
      return;
    }
    case 'cbaser-enabled': {
      const before = [d.rd(GITS_CBASER), d.rd(GITS_CREADR), d.rd(GITS_CWRITER)];
      d.wr(GITS_CBASER, a.value);
      const after = [d.rd(GITS_CBASER), d.rd(GITS_CREADR), d.rd(GITS_CWRITER)];
      if (after.some((v, i) => v !== before[i])) d.fail(`a CBASER store while enabled changed CBASER/CREADR/CWRITER ${before} -> ${after} (spec 9.12)`);
      return;
    }
    case 'translater':
      d.guest.mmioWrite32(d.base + GITS_TRANSLATER, a.value);
      if (d.guest.mmioRead32(d.base + GITS_TRANSLATER) !== 0) d.fail('GITS_TRANSLATER does not read 0 (spec 1.2)');
      return;
  }
}

const commandsGuest: GuestMain<CommandsGuestArgs> = (guest, args) => {
  const its = guest.vcpuId;
  if (its >= args.channels.length) return runLpiHandler(guest, {});
  const ch = GuestChannel.open(guest, args.channels[its]!);
  if (ch === undefined) return { ok: false, errno: -EFAULT };
  if (its === 0) {
    const s = runItsSetup(guest, {
      its: args.channels.map((_, n) => n), devices: [], collections: [], region: args.region, queueBytes: args.queueBytes,
      idBits: 16, deviceIdBits: 16,
    });
    if (!s.ok || s.propTable === undefined) {
      ch.setState(s.error?.errno ?? -EFAULT);
      return s;
    }
    const { first, count, disabledEvery, priority } = args.lpis;
    for (let i = 0; i < count; i++) guest.write8(s.propTable.gpa + first + i - 8192, makeLpiProp(priority, i % disabledEvery !== disabledEvery - 1));
    for (const e of args.reserved.events) guest.write8(s.propTable.gpa + e.intid - 8192, makeLpiProp(priority, true));
  } else {
    const st = waitForSetup(guest, SETUP_MAILBOX_GPA, SETUP_DONE);
    if (st !== SETUP_DONE) {
      ch.setState(st < 0 ? st : -EFAULT);
      return { ok: false, errno: st };
    }
  }
  const gic = (guest.ext as { gic: GicCpuInterface }).gic;
  const d = new Driver(guest, defaultItsBase(its), args.protect);
  d.baseline = { cbaser: d.rd(GITS_CBASER), baser0: d.rd(gitsBaserOffset(0)), baser1: d.rd(gitsBaserOffset(1)) };
  ch.setState(GUEST_READY);
  for (;;) {
    const req = ch.next<CommandsRequest>(() => drainInterrupts(guest, gic, guest.results.length));
    d.violations.length = 0;
    d.commands = d.publishes = 0;
    if (req?.op === 'reset') {
      reset(d, args, its);
    } else if (req?.op === 'run') {
      req.actions.forEach((a, i) => {
        d.where = `ITS ${its} action ${i} (${a.a})`;
        runAction(d, a);
        drainInterrupts(guest, gic, guest.results.length);
      });
    } else {
      d.violations.push(`unknown request ${JSON.stringify(req)}`);
    }
    ch.reply({ violations: [...d.violations], commands: d.commands, publishes: d.publishes } satisfies CommandsReply);
  }
};
export default commandsGuest;
