/**
 * Fuzz target 'registers': random sequences of guest MMIO loads and stores
 * anywhere in the ITS frames (any offset, any width; a guest program on
 * vCPU 0, registers-guest.ts) mixed with userspace calls: GRP_ITS_REGS
 * set/get, GRP_ADDR set/get, GRP_CTRL, has_attr, and pause/resume. ITS 1
 * starts without a base, so its frame does not decode until a GRP_ADDR call
 * sets one. Checked after every step:
 *
 *  - every errno is the one the spec names for that call in that state
 *    (spec 6.1-6.3, 9.1-9.3, 9.27-9.28): -EINVAL for a misaligned offset
 *    before anything else, -EBUSY while a vCPU runs, -ENXIO with no base or
 *    no register, the CREADR and IIDR handlers' own errnos, GRP_ADDR's
 *    -ENODEV/-EEXIST/-EINVAL/-E2BIG, -ENXIO for unknown CTRL attributes;
 *  - the registers read back as registers-rules.ts predicts from the state
 *    before (constants, sanitising, read-only fields, CBASER/BASER ignored
 *    while enabled, CWRITER beyond the queue ignored, the synchronous drain,
 *    enabling refused without valid tables, CTRL_RESET's effect, RAZ/WI for
 *    accesses of the wrong width or where no register is);
 *  - no call throws or hangs; no fault; no lock held when paused; no
 *    lock-order finding (the validator is on).
 *
 * Tables and queues the fuzzer points the ITS at are zero-filled RAM or no
 * RAM at all, so SAVE/RESTORE outcomes are predictable too.
 *
 * Sabotage (self-test): the oracle believes a CWRITER offset beyond the
 * queue is stored.
 */
import fc from 'fast-check';
import { createVm, type GicVm } from '../../create-vm.js';
import { waitUntil } from '../../sync/wait.js';
import { E2BIG, EBUSY, EEXIST, EFAULT, EINVAL, ENODEV, ENXIO, errnoName } from '../../uapi/errno.js';
import { makeGitsBaser, makeGitsCbaser } from '../../uapi/gic-fields.js';
import {
  KVM_DEV_ARM_ITS_CTRL_RESET, KVM_DEV_ARM_ITS_RESTORE_TABLES, KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_VGIC_CTRL_INIT,
  KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, KVM_VGIC_ITS_ADDR_TYPE,
} from '../../uapi/kvm.js';
import type { ItsDevice } from '../../vgic/its-device.js';
import { defaultItsBase, GICD_BASE, GICD_SIZE, GICR_BASE, GICR_STRIDE } from '../../vgic/layout.js';
import { CHANNEL_BYTES, GUEST_READY, VmmChannel } from './channel.js';
import { ID_OFFSETS, type RegAccess, type RegBatchReply, type RegDump } from './registers-guest.js';
import {
  afterReset, afterWrite, BASER_RESET, creationDump, dumpDiff, readValue, regionAt, userOffsetAligned, userWidth, VALID, zeroDump,
} from './registers-rules.js';
import { count, FuzzFailure, type FuzzSession, type FuzzTarget, type FuzzTargetOptions } from './types.js';
import { bounded, destroyVm, expectHealthy, expectNoLocksHeld } from './vm-checks.js';

const GUEST = new URL('./registers-guest.js', import.meta.url).href;
const MiB = 0x10_0000;
const RAM_BASE = 0x4000_0000;
const RAM_BYTES = 16 * MiB;
/**
 * The channel's memslot. Its address bits 51:32 are 0x9, a value no store
 * to CBASER/BASER is allowed to leave there (safeValue), so the ITS is never
 * pointed at it: everything else it can reach is zero RAM or no RAM.
 */
const CHANNEL = 0x9_abcd_0000;
const NR_VCPUS = 2;
const HANG_MS = 30_000;
const ITS_FRAME = 0x2_0000n;
const IPA_LIMIT = 1n << 40n;
const U64_MAX = 2n ** 64n - 1n;

export type RegOp =
  | { k: 'guest'; its: 0 | 1; accesses: RegAccess[] }
  | { k: 'set'; its: 0 | 1; off: number; value: bigint }
  | { k: 'get'; its: 0 | 1; off: number }
  | { k: 'addr'; its: 0 | 1; attr: number; value: bigint }
  | { k: 'addr-get'; its: 0 | 1; attr: number }
  | { k: 'ctrl'; its: 0 | 1; attr: number }
  | { k: 'has'; its: 0 | 1; group: number; attr: number }
  | { k: 'pause' }
  | { k: 'resume' };
export interface RegistersCase { ops: RegOp[] }

/** Never leave 0x9 in bits 51:32 of a register (see CHANNEL). */
function safeValue(off: number, size: number, v: bigint): bigint {
  if (size === 8 && (off & 4) === 0 && ((v >> 32n) & 0xfffffn) === 9n) return v ^ (1n << 32n);
  if (size === 4 && (off & 4) === 4 && (v & 0xfffffn) === 9n) return v ^ 1n;
  return v;
}

function arbitraries() {
  const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
  const regOff = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(0, 4, 8, 0xc, 0x18, 0x80, 0x84, 0x88, 0x8c, 0x90, 0x94, 0x100, 0x104, 0x108, 0x10c, 0x110, 0x138, 0x13c, 0x140, 0xffcc, 0xffd0, 0xffe8, 0xfffc, 0x10040) },
    { weight: 1, arbitrary: fc.nat(0x1ffff) },
  );
  const tableAddr = fc.constantFrom(RAM_BASE, RAM_BASE + 0x1_0000, RAM_BASE + RAM_BYTES - 0x1_0000, RAM_BASE + RAM_BYTES, 0, 0x10_0000_0000);
  const baser = (valid: fc.Arbitrary<boolean>, type: fc.Arbitrary<number>) => fc.record({
    valid, indirect: fc.boolean(), type, entrySize: fc.integer({ min: 1, max: 32 }), address: tableAddr,
    size: fc.oneof(fc.nat(3), fc.nat(255)), innerCache: fc.nat(7), outerCache: fc.nat(7), shareability: fc.nat(3),
  }).map(makeGitsBaser);
  const cbaser = (valid: fc.Arbitrary<boolean>) => fc.record({
    valid, address: tableAddr, size: fc.oneof(fc.nat(3), fc.nat(255)), innerCache: fc.nat(7), outerCache: fc.nat(7), shareability: fc.nat(3),
  }).map(makeGitsCbaser);
  const value = fc.oneof(
    { weight: 3, arbitrary: u64 },
    { weight: 3, arbitrary: baser(fc.boolean(), fc.nat(7)) },
    { weight: 2, arbitrary: cbaser(fc.boolean()) },
    { weight: 2, arbitrary: fc.constantFrom(0n, 1n, 0x20n, 0x40n, 0xfe0n, 0x1000n, 0xfffe0n, 0x4b00_043bn, 0x4b00_143bn, 0x8000_0001n) },
    { weight: 1, arbitrary: fc.nat(0x7fff).map((k) => BigInt(k * 32)) },
  );
  const access = fc.record({ off: regOff, size: fc.constantFrom(4 as const, 8 as const, 8 as const, 4 as const, 1 as const, 2 as const), write: fc.boolean(), value })
    .map((a) => ({ ...a, value: safeValue(a.off, a.size, a.value) }));
  // Valid tables and queue, then Enable: what it takes for the enabled-state rules to matter.
  const enableSequence = fc.tuple(baser(fc.constant(true), fc.constant(1)), baser(fc.constant(true), fc.constant(4)), cbaser(fc.constant(true)))
    .map(([b0, b1, cb]): RegAccess[] => [
      { off: 0x100, size: 8, write: true, value: safeValue(0x100, 8, b0) },
      { off: 0x108, size: 8, write: true, value: safeValue(0x108, 8, b1) },
      { off: 0x80, size: 8, write: true, value: safeValue(0x80, 8, cb) },
      { off: 0, size: 4, write: true, value: 1n },
    ]);
  const its = fc.constantFrom(0 as const, 0 as const, 0 as const, 1 as const);
  const addrValue = fc.oneof(
    fc.constantFrom(...[defaultItsBase(1), defaultItsBase(0), defaultItsBase(2), GICD_BASE, GICR_BASE + GICR_STRIDE, 0, RAM_BASE, 0x1000].map(BigInt),
      IPA_LIMIT - ITS_FRAME, IPA_LIMIT - 0x1_0000n, IPA_LIMIT, U64_MAX - 0xffffn),
    u64,
  );
  const op: fc.Arbitrary<RegOp> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ k: fc.constant('guest' as const), its, accesses: fc.array(access, { minLength: 1, maxLength: 6 }) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('guest' as const), its: fc.constant(0 as const), accesses: enableSequence }) },
    { weight: 4, arbitrary: fc.record({ k: fc.constant('set' as const), its, off: regOff, value }).map((o) => ({ ...o, value: safeValue(o.off, 8, o.value) })) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('get' as const), its, off: regOff }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('addr' as const), its, attr: fc.oneof({ weight: 4, arbitrary: fc.constant(KVM_VGIC_ITS_ADDR_TYPE) }, { weight: 1, arbitrary: fc.nat(10) }), value: addrValue }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('addr-get' as const), its, attr: fc.constantFrom(KVM_VGIC_ITS_ADDR_TYPE, 0, 5) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('ctrl' as const), its, attr: fc.constantFrom(0, 1, 2, 3, 4, 5, 99) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('has' as const), its, group: fc.constantFrom(0, 4, 8, 1, 99), attr: fc.oneof(regOff, fc.nat(10)) }) },
    { weight: 2, arbitrary: fc.constant({ k: 'pause' as const }) },
    { weight: 2, arbitrary: fc.constant({ k: 'resume' as const }) },
  );
  return fc.record({ ops: fc.array(op, { minLength: 1, maxLength: 20 }) });
}

/** Spec 6.1 in the model's bus: the frames that already decode. */
function busRegions(bases: (bigint | undefined)[]): [bigint, bigint][] {
  const r: [bigint, bigint][] = [[BigInt(GICD_BASE), BigInt(GICD_SIZE)]];
  for (let n = 0; n < NR_VCPUS; n++) r.push([BigInt(GICR_BASE + n * GICR_STRIDE), BigInt(GICR_STRIDE)]);
  for (const b of bases) if (b !== undefined) r.push([b, ITS_FRAME]);
  return r;
}

function predictAddr(its: number, attr: number, v: bigint, bases: (bigint | undefined)[]): number {
  if (attr !== KVM_VGIC_ITS_ADDR_TYPE) return -ENODEV;
  if (bases[its] !== undefined) return -EEXIST;
  if (v % 0x1_0000n !== 0n || v + ITS_FRAME > U64_MAX) return -EINVAL;
  if (v + ITS_FRAME > IPA_LIMIT) return -E2BIG;
  if (busRegions(bases).some(([b, s]) => v < b + s && b < v + ITS_FRAME)) return -EEXIST; // the bus refuses overlapping devices
  return 0;
}

function predictHas(group: number, attr: number): number {
  if (group === KVM_DEV_ARM_VGIC_GRP_ADDR) return attr === KVM_VGIC_ITS_ADDR_TYPE ? 0 : -ENXIO;
  if (group === KVM_DEV_ARM_VGIC_GRP_CTRL) return [0, 1, 2, 4].includes(attr) ? 0 : -ENXIO;
  if (group === KVM_DEV_ARM_VGIC_GRP_ITS_REGS) return !userOffsetAligned(attr) ? -EINVAL : regionAt(attr) === undefined ? -ENXIO : 0;
  return -ENXIO;
}

const overRam = (base: bigint, ram: number, bytes: number): boolean => base < BigInt(ram + bytes) && BigInt(ram) < base + ITS_FRAME;
const inRam = (gpa: number, len: number): boolean => gpa >= RAM_BASE && gpa + len <= RAM_BASE + RAM_BYTES;
function table(b: bigint): { valid: boolean; addr: number; bytes: number } {
  return { valid: (b & VALID) !== 0n, addr: Number(b & 0x0000_ffff_ffff_0000n) + Number((b >> 12n) & 0xfn) * 2 ** 48, bytes: (Number(b & 0xffn) + 1) * 0x1_0000 };
}

/**
 * GRP_CTRL on a paused VM whose ITS has no devices or collections and whose
 * tables are zero RAM or no RAM: SAVE writes only a collection-table
 * terminator; RESTORE reads the first CTE and every device-table entry.
 */
function predictCtrl(attr: number, d: RegDump): number {
  const ct = table(d.baser[1]!), dt = table(d.baser[0]!);
  switch (attr) {
    case KVM_DEV_ARM_VGIC_CTRL_INIT: case KVM_DEV_ARM_ITS_CTRL_RESET: return 0;
    case KVM_DEV_ARM_ITS_SAVE_TABLES: return ct.valid && !inRam(ct.addr, 8) ? -EFAULT : 0;
    case KVM_DEV_ARM_ITS_RESTORE_TABLES:
      if (ct.valid && !inRam(ct.addr, 8)) return -EFAULT;
      return dt.valid && !inRam(dt.addr, dt.bytes) ? -EFAULT : 0;
    default: return -ENXIO;
  }
}

class RegistersSession implements FuzzSession<RegistersCase> {
  private vm: GicVm | undefined;
  private ch: VmmChannel | undefined;
  readonly stats: Record<string, number> = {};

  constructor(private readonly o: FuzzTargetOptions) {}

  async run(c: RegistersCase): Promise<void> {
    try {
      const { vm, ch } = await this.ensure();
      const sticky = await new RegistersCaseRun(vm, ch, this.o.sabotage === true, this.stats).run(c);
      // A base, once set, stays: the next case gets a fresh VM so that cases do not depend on each other.
      if (sticky) await this.close();
    } catch (e) {
      await this.close().catch(() => {});
      throw e;
    }
  }

  async close(): Promise<void> {
    const vm = this.vm;
    this.vm = this.ch = undefined;
    if (vm !== undefined) await destroyVm(vm);
  }

  private async ensure(): Promise<{ vm: GicVm; ch: VmmChannel }> {
    if (this.vm !== undefined && this.ch !== undefined) return { vm: this.vm, ch: this.ch };
    const vm = await createVm({
      vcpus: NR_VCPUS, lockStat: 'counts', validator: true,
      memory: [{ gpa: RAM_BASE, size: RAM_BYTES }, { gpa: CHANNEL, size: CHANNEL_BYTES }],
      gic: { its: 2, setItsBases: false },
      guest: { module: GUEST, args: { channel: CHANNEL } },
    });
    this.vm = vm;
    count(this.stats, 'VMs');
    const r = await vm.gic.its[0]!.setAttr(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, BigInt(defaultItsBase(0)));
    if (r !== 0) throw new FuzzFailure(`setting ITS 0's base failed: ${errnoName(r)}`);
    if ((await vm.start()) !== 0) throw new FuzzFailure('VM start failed');
    const ch = new VmmChannel(vm.rt.mem, CHANNEL);
    if ((await ch.ready(HANG_MS)) !== GUEST_READY) throw new FuzzFailure(`the registers guest did not come up: ${JSON.stringify(vm.vcpuExit(0) ?? vm.faults)}`);
    if ((await vm.pause()) !== 0) throw new FuzzFailure('pause failed');
    this.ch = ch;
    return { vm, ch };
  }
}

/** One case: the ops in order, each checked against the prediction from the state before it. */
class RegistersCaseRun {
  private paused = true;
  private readonly bases: (bigint | undefined)[] = [BigInt(defaultItsBase(0)), undefined];
  /** The registers of each ITS as last seen (or known: ITS 1 never changes before it has a base). */
  private readonly last: RegDump[] = [creationDump(), creationDump()];
  private step = '';

  constructor(private readonly vm: GicVm, private readonly ch: VmmChannel, private readonly sabotage: boolean,
    private readonly stats: Record<string, number>) {}

  private its(n: number): ItsDevice {
    return this.vm.gic.its[n]!;
  }

  private fail(what: string): never {
    throw new FuzzFailure(`${this.step}: ${what}`);
  }

  private expectRet(got: number, want: number, what: string): void {
    count(this.stats, `${this.step.replace(/^op \d+ \(| ITS \d|\)$/g, '')} ${errnoName(got)}`);
    if (got !== want) this.fail(`${what} returned ${errnoName(got)}, expected ${errnoName(want)}`);
  }

  private async call<T>(p: Promise<T>, what: string): Promise<T> {
    try {
      return await bounded(p, what, HANG_MS);
    } catch (e) {
      if (e instanceof FuzzFailure) throw e;
      return this.fail(`${what} threw ${(e as Error)?.name}: ${(e as Error)?.message ?? e}`);
    }
  }

  /** Every register of ITS `n` through GRP_ITS_REGS (VM paused, base set). */
  private async userDump(n: number): Promise<RegDump> {
    const get = async (off: number) => {
      const r = await this.call(this.its(n).getAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, off), 'GRP_ITS_REGS get');
      if (r.ret !== 0 || r.value === undefined) this.fail(`dump: GRP_ITS_REGS get 0x${off.toString(16)} returned ${errnoName(r.ret)}`);
      return r.value!;
    };
    return {
      ctlr: await get(0), iidr: await get(4), typer: await get(8), cbaser: await get(0x80), cwriter: await get(0x88), creadr: await get(0x90),
      baser: await Promise.all(Array.from({ length: 8 }, (_, k) => get(0x100 + 8 * k))),
      idregs: await Promise.all(ID_OFFSETS.map(get)),
    };
  }

  /** After a userspace step on a paused VM: the registers must be what was predicted. */
  private async expectDump(n: number, want: RegDump): Promise<void> {
    if (this.bases[n] === undefined) return;
    const diff = dumpDiff(want, await this.userDump(n));
    if (diff.length > 0) this.fail(`registers of ITS ${n}: ${diff.join('; ')}`);
    this.last[n] = want;
  }

  async run(c: RegistersCase): Promise<boolean> {
    const vm = this.vm;
    this.step = 'case start';
    // A fresh start: ITS 0 reset, its BASERs back to their creation values (CTRL_RESET keeps their other fields).
    this.expectRet(await this.call(this.its(0).setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_CTRL_RESET), 'CTRL_RESET'), 0, 'CTRL_RESET');
    for (const n of [0, 1]) {
      const r = await this.call(this.its(0).setAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, 0x100 + 8 * n, BASER_RESET[n]!), 'BASER write');
      this.expectRet(r, 0, `BASER${n} := its reset value`);
    }
    await this.expectDump(0, creationDump());
    for (const [i, op] of c.ops.entries()) {
      this.step = `op ${i} (${op.k}${'its' in op ? ` ITS ${op.its}` : ''})`;
      await this.op(op);
    }
    this.step = 'case end';
    if (!this.paused) this.expectRet(await this.call(vm.pause(), 'pause'), 0, 'pause');
    expectHealthy(vm, 'after the case');
    expectNoLocksHeld(vm, 'paused after the case');
    return this.bases[1] !== undefined;
  }

  private async resume(): Promise<void> {
    this.expectRet(await this.call(this.vm.resume(), 'resume'), 0, 'resume');
    this.paused = false;
    // Running again means holding vcpu.mutex again: from then on userspace calls are -EBUSY.
    if (!(await waitUntil(() => Array.from({ length: NR_VCPUS }, (_, i) => this.vm.vcpuState(i)).every((s) => s === 'running'), HANG_MS))) {
      this.fail('vCPUs did not re-enter KVM_RUN after resume');
    }
  }

  private async op(op: RegOp): Promise<void> {
    const vm = this.vm;
    switch (op.k) {
      case 'pause': {
        this.expectRet(await this.call(vm.pause(), 'pause'), this.paused ? -EINVAL : 0, 'pause');
        this.paused = true;
        return;
      }
      case 'resume': {
        if (this.paused) return this.resume();
        return this.expectRet(await this.call(vm.resume(), 'resume'), -EINVAL, 'resume of a running VM');
      }
      case 'guest': return this.guest(op.its, op.accesses);
      case 'set': case 'get': {
        const its = this.its(op.its);
        const want = !userOffsetAligned(op.off) ? -EINVAL : !this.paused ? -EBUSY : this.bases[op.its] === undefined || regionAt(op.off) === undefined ? -ENXIO : undefined;
        if (op.k === 'get') {
          const r = await this.call(its.getAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, op.off), 'GRP_ITS_REGS get');
          if (want !== undefined) return this.expectRet(r.ret, want, `get 0x${op.off.toString(16)}`);
          this.expectRet(r.ret, 0, `get 0x${op.off.toString(16)}`);
          const v = readValue(this.last[op.its]!, op.off, userWidth(op.off));
          if (r.value !== v) this.fail(`get 0x${op.off.toString(16)} = 0x${r.value?.toString(16)}, expected 0x${v.toString(16)}`);
          return;
        }
        const r = await this.call(its.setAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, op.off, op.value), 'GRP_ITS_REGS set');
        if (want !== undefined) return this.expectRet(r, want, `set 0x${op.off.toString(16)} := 0x${op.value.toString(16)}`);
        const p = afterWrite(this.last[op.its]!, op.off, userWidth(op.off), op.value, true, this.sabotage);
        this.expectRet(r, p.ret, `set 0x${op.off.toString(16)} := 0x${op.value.toString(16)}`);
        return this.expectDump(op.its, p.dump);
      }
      case 'addr': {
        const want = predictAddr(op.its, op.attr, op.value, this.bases);
        const r = await this.call(this.its(op.its).setAttr(KVM_DEV_ARM_VGIC_GRP_ADDR, op.attr, op.value), 'GRP_ADDR set');
        this.expectRet(r, want, `GRP_ADDR set ${op.attr} := 0x${op.value.toString(16)}`);
        if (r === 0) {
          this.bases[op.its] = op.value;
          if (this.paused) await this.expectDump(op.its, this.last[op.its]!);
        }
        return;
      }
      case 'addr-get': {
        const r = await this.call(this.its(op.its).getAttr(KVM_DEV_ARM_VGIC_GRP_ADDR, op.attr), 'GRP_ADDR get');
        if (op.attr !== KVM_VGIC_ITS_ADDR_TYPE) return this.expectRet(r.ret, -ENODEV, 'GRP_ADDR get');
        this.expectRet(r.ret, 0, 'GRP_ADDR get');
        const want = this.bases[op.its] ?? U64_MAX;
        if (r.value !== want) this.fail(`GRP_ADDR get = 0x${r.value?.toString(16)}, expected 0x${want.toString(16)}`);
        return;
      }
      case 'ctrl': {
        const before = this.last[op.its]!;
        const want = op.attr === KVM_DEV_ARM_VGIC_CTRL_INIT ? 0 : !this.paused ? -EBUSY : predictCtrl(op.attr, before);
        const r = await this.call(this.its(op.its).setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, op.attr), 'GRP_CTRL');
        this.expectRet(r, want, `GRP_CTRL ${op.attr}`);
        if (this.paused) await this.expectDump(op.its, r === 0 && op.attr === KVM_DEV_ARM_ITS_CTRL_RESET ? afterReset(before) : before);
        if (r === 0 && op.attr === KVM_DEV_ARM_ITS_CTRL_RESET) this.last[op.its] = afterReset(before);
        return;
      }
      case 'has': {
        const r = this.its(op.its).hasAttr(op.group, op.attr);
        return this.expectRet(r, predictHas(op.group, op.attr), `has_attr(${op.group}, 0x${op.attr.toString(16)})`);
      }
    }
  }

  private async guest(n: 0 | 1, accesses: RegAccess[]): Promise<void> {
    const base = this.bases[n];
    // A frame placed over RAM (GRP_ADDR does not look at memslots, nor does KVM) is RAM to the guest: its
    // loads and stores never trap. Stores there would change the zero RAM the ITS tables point at: skipped.
    if (base !== undefined && (overRam(base, RAM_BASE, RAM_BYTES) || overRam(base, CHANNEL, CHANNEL_BYTES))) {
      count(this.stats, 'guest accesses skipped (frame over RAM)', accesses.length);
      return;
    }
    if (this.paused) await this.resume();
    const reply = await this.ch.call<RegBatchReply>({ base: Number(base ?? BigInt(defaultItsBase(n))), accesses }, HANG_MS);
    if (reply === undefined) this.fail(`hang: the guest did not finish ${accesses.length} accesses within ${HANG_MS} ms`);
    const decodes = base !== undefined;
    let want = decodes ? this.last[n]! : zeroDump();
    let diff = dumpDiff(want, reply!.before);
    if (diff.length > 0) this.fail(`guest read-back before the accesses: ${diff.join('; ')}`);
    reply!.after.forEach((got, i) => {
      const a = accesses[i]!;
      const what = `guest ${a.write ? 'store' : 'load'} of ${a.size} bytes at 0x${a.off.toString(16)}${a.write ? ` := 0x${a.value.toString(16)}` : ''}`;
      if (!a.write) {
        const v = decodes ? readValue(want, a.off, a.size) : 0n;
        if (got.read !== v) this.fail(`${what} read 0x${got.read?.toString(16)}, expected 0x${v.toString(16)}`);
      } else if (decodes) {
        want = afterWrite(want, a.off, a.size, a.value, false, this.sabotage).dump;
      }
      diff = dumpDiff(want, got.dump);
      if (diff.length > 0) this.fail(`after the ${what}: ${diff.join('; ')}`);
    });
    if (decodes) this.last[n] = want;
    count(this.stats, `guest accesses${decodes ? '' : ' (no frame)'}`, accesses.length);
    if ((want.ctlr & 1n) !== 0n) count(this.stats, 'guest batches ending enabled');
  }
}

export const registersTarget: FuzzTarget<RegistersCase> = {
  name: 'registers',
  arbitrary: (): fc.Arbitrary<RegistersCase> => arbitraries(),
  open: (o: FuzzTargetOptions): FuzzSession<RegistersCase> => new RegistersSession(o),
};
