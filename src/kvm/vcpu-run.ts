/**
 * KVM_RUN on a vCPU thread. The vCPU holds its vcpu.mutex for as long as it
 * runs guest code (WFI and trapped MMIO included) and drops it only when it
 * exits to userspace: pause, the guest returning, a fault, destroy. Pause is a
 * request bit: the vCPU notices it at its next guest-API call or in WFI,
 * leaves KVM_RUN right there (guest stack intact), waits for resume, and
 * re-enters, taking the mutex again. Mirrors kvm_arch_vcpu_ioctl_run() and
 * firecracker's vCPU state machine.
 */
import { M_ARGS, OP_MMIO_READ, OP_MMIO_WRITE } from '../actors/protocol.js';
import type { Doorbell } from '../actors/doorbell.js';
import type { Mutex } from '../sync/mutex.js';
import { EV_KVM_RUN, EV_MMIO_EXIT, EV_WFI } from '../trace/events.js';
import { OPN_KVM_RUN, OPN_MMIO_READ, OPN_MMIO_WRITE } from '../sync/operations.js';
import type { Guest, GuestMain } from './guest-api.js';
import type { VmRuntime } from './shared.js';
import {
  EXIT_DESTROYED, EXIT_DONE, EXIT_FAULT, EXIT_REASON_NAMES, REQ_EXIT, REQ_IRQ_PENDING, REQ_MASK, REQ_PAUSE,
  V_ENTRIES, V_EXIT_REASON, V_HAS_RUN, V_IN_MMIO, V_MMIO_EXITS, V_PAUSE_ACK, V_PAUSE_EPOCH, V_REQUESTS,
  V_UNHANDLED_MMIO, V_WFI,
  VCPU_EXITED, VCPU_PAUSED, VCPU_RUNNING, type ExitReasonName,
} from './vcpu-block.js';

/** Per-vCPU device code (the default export's attachVcpu result of a vcpu extension module). */
export interface VcpuExtension {
  /** Runs once per vCPU at its first KVM_RUN, with vcpu.mutex held (kvm_vcpu_first_run_init). */
  firstRun?(): void;
  /** The object the guest reaches as guest.ext[name]. */
  api?: unknown;
}

/** How a vCPU ended, as the VMM learns it. */
export interface VcpuExit {
  /** The vCPU. */
  vcpuId: number;
  /** Why it exited. */
  reason: ExitReasonName;
  /** The guest program's return value (structured-cloned) when reason is 'done'. */
  result?: unknown;
  /** What the guest threw when reason is 'fault'. */
  error?: {
    /** The exception's message. */
    message: string;
    /** Its stack, if it had one. */
    stack?: string;
  };
}

/** Thrown inside guest code to unwind it when the vCPU must exit for good. */
class VcpuExitSignal extends Error {
  constructor() {
    super('vCPU exit requested');
  }
}

export class VcpuRunner implements Guest {
  readonly nrVcpus: number;
  readonly results: Int32Array;
  readonly ext: Record<string, unknown> = {};
  private readonly mutex: Mutex;
  private readonly i32: Int32Array;
  private readonly reqWord: number;
  private readonly doorbell: Doorbell;
  private readonly extensions: VcpuExtension[] = [];

  constructor(readonly rt: VmRuntime, readonly vcpuId: number, private readonly main: GuestMain, private readonly args: unknown) {
    this.nrVcpus = rt.shared.nrVcpus;
    this.results = rt.vcpus.results[vcpuId]!;
    this.mutex = rt.thread.mutex(rt.shared.locks.vcpu[vcpuId]!);
    this.i32 = rt.vcpus.i32;
    this.reqWord = rt.vcpus.word(vcpuId, V_REQUESTS);
    this.doorbell = rt.vcpus.doorbell(vcpuId);
  }

  addExtension(name: string, ext: VcpuExtension): void {
    this.extensions.push(ext);
    if (ext.api !== undefined) this.ext[name] = ext.api;
  }

  /** KVM_RUN until the vCPU exits for good. */
  run(): VcpuExit {
    const { rt, vcpuId } = this;
    const prevOp = rt.thread.setOperation(OPN_KVM_RUN);
    let exit: VcpuExit;
    rt.sched?.enter();
    try {
      this.enter();
      if (Atomics.exchange(this.i32, rt.vcpus.word(vcpuId, V_HAS_RUN), 1) === 0) {
        for (const e of this.extensions) e.firstRun?.();
      }
      const result = this.main(this, this.args);
      exit = { vcpuId, reason: EXIT_REASON_NAMES[EXIT_DONE], result: cloneable(result) };
    } catch (e) {
      if (e instanceof VcpuExitSignal) {
        exit = { vcpuId, reason: EXIT_REASON_NAMES[EXIT_DESTROYED] };
      } else {
        const err = e as Error;
        exit = { vcpuId, reason: EXIT_REASON_NAMES[EXIT_FAULT], error: { message: String(err?.message ?? e), stack: err?.stack } };
      }
    }
    if (this.mutex.heldByMe()) {
      this.rt.timeline?.end(EV_KVM_RUN, vcpuId);
      this.mutex.unlock();
    }
    Atomics.store(this.i32, rt.vcpus.word(vcpuId, V_EXIT_REASON), EXIT_REASON_NAMES.indexOf(exit.reason));
    rt.vcpus.setState(vcpuId, VCPU_EXITED);
    this.ackPause(-1); // wakes a VMM waiting for a pause acknowledgement: this vCPU will never give one
    rt.thread.setOperation(prevOp);
    rt.sched?.leave();
    return exit;
  }

  /** Enter KVM_RUN: take vcpu.mutex (waits while the VMM holds it, as the ioctl would). */
  private enter(): void {
    this.mutex.lock();
    this.rt.timeline?.begin(EV_KVM_RUN, this.vcpuId);
    Atomics.add(this.i32, this.rt.vcpus.word(this.vcpuId, V_ENTRIES), 1);
    this.rt.vcpus.setState(this.vcpuId, VCPU_RUNNING);
  }

  /** Honour pending requests: the check every guest-API call makes. */
  private check(): void {
    const r = Atomics.load(this.i32, this.reqWord);
    if ((r & (REQ_PAUSE | REQ_EXIT)) !== 0) this.handleRequests();
  }

  private handleRequests(): void {
    const { i32, reqWord } = this;
    let r = Atomics.load(i32, reqWord);
    if (r & REQ_EXIT) throw new VcpuExitSignal();
    if (!(r & REQ_PAUSE)) return;
    // Exit to userspace: drop the mutex, publish Paused, wait for resume or exit.
    this.rt.timeline?.end(EV_KVM_RUN, this.vcpuId);
    this.mutex.unlock();
    const epochWord = this.rt.vcpus.word(this.vcpuId, V_PAUSE_EPOCH);
    let acked = Atomics.load(i32, epochWord);
    this.rt.vcpus.setState(this.vcpuId, VCPU_PAUSED);
    this.ackPause(acked);
    for (;;) {
      r = Atomics.load(i32, reqWord);
      if (r & REQ_EXIT) throw new VcpuExitSignal();
      if (!(r & REQ_PAUSE)) break;
      // A pause issued while we were still paused (resume, pause in quick succession) is acknowledged
      // here. The epoch is read only after PAUSE was seen: the VMM publishes the epoch before the bit,
      // so we never acknowledge a pause and then leave because we had read the request word too early.
      const epoch = Atomics.load(i32, epochWord);
      if (epoch !== acked) this.ackPause((acked = epoch));
      const s = this.rt.sched;
      if (s === null || s.block(i32, reqWord, r, 'vcpu-wait', this.vcpuId) === 'free') Atomics.wait(i32, reqWord, r);
    }
    this.enter();
  }

  private ackPause(epoch: number): void {
    const w = this.rt.vcpus.word(this.vcpuId, V_PAUSE_ACK);
    Atomics.store(this.i32, w, epoch);
    Atomics.notify(this.i32, w);
  }

  get exiting(): boolean {
    return (Atomics.load(this.i32, this.reqWord) & REQ_EXIT) !== 0;
  }

  relax(): void {
    this.check();
    this.rt.sched?.point('relax', this.vcpuId);
  }

  wfe(view: Int32Array, index: number, value: number, timeoutMs = 1): void {
    this.check();
    const s = this.rt.sched;
    if (s === null || s.block(view, index, value, 'wfe', this.vcpuId, timeoutMs) === 'free') Atomics.wait(view, index, value, timeoutMs);
    this.check();
  }

  wfi(): void {
    this.check();
    const { i32, reqWord } = this;
    Atomics.add(i32, this.rt.vcpus.word(this.vcpuId, V_WFI), 1);
    if ((Atomics.and(i32, reqWord, ~REQ_IRQ_PENDING) & REQ_IRQ_PENDING) !== 0) return;
    this.rt.timeline?.begin(EV_WFI);
    this.doorbell.park(() => (Atomics.load(i32, reqWord) & REQ_MASK) !== 0, Infinity, 'wfi');
    this.rt.timeline?.end(EV_WFI);
    Atomics.and(i32, reqWord, ~REQ_IRQ_PENDING);
    this.check();
  }

  // ---- guest RAM ----------------------------------------------------------

  read8(gpa: number): number { this.check(); return this.rt.mem.read8(gpa); }
  read16(gpa: number): number { this.check(); return this.rt.mem.read16(gpa); }
  read32(gpa: number): number { this.check(); return this.rt.mem.read32(gpa); }
  read64(gpa: number): bigint { this.check(); return this.rt.mem.read64(gpa); }
  write8(gpa: number, v: number): number { this.check(); return this.rt.mem.write8(gpa, v); }
  write16(gpa: number, v: number): number { this.check(); return this.rt.mem.write16(gpa, v); }
  write32(gpa: number, v: number): number { this.check(); return this.rt.mem.write32(gpa, v); }
  write64(gpa: number, v: bigint): number { this.check(); return this.rt.mem.write64(gpa, v); }
  readBytes(gpa: number, dst: Uint8Array): number { this.check(); return this.rt.mem.readInto(gpa, dst); }
  writeBytes(gpa: number, src: Uint8Array): number { this.check(); return this.rt.mem.write(gpa, src); }
  atomics32(gpa: number, count: number): Int32Array | undefined { return this.rt.mem.atomics32(gpa, count); }

  // ---- trapped MMIO -------------------------------------------------------

  mmioRead(gpa: number, size: 1 | 2 | 4 | 8): bigint {
    this.check();
    if (this.rt.mem.isVisible(gpa, size)) return this.ramRead(gpa, size);
    const r = this.rt.bus.find(gpa, size);
    if (r < 0) return this.unhandled();
    const region = this.rt.bus.entry(r);
    const { client } = this.rt;
    const m = client.msg;
    m[M_ARGS] = region.region;
    m[M_ARGS + 1] = gpa - region.base;
    m[M_ARGS + 2] = size;
    this.enterDevice(gpa, size);
    const op = this.rt.thread.setOperation(OPN_MMIO_READ);
    const result = client.request(region.actor, OP_MMIO_READ, M_ARGS + 3);
    this.rt.thread.setOperation(op);
    this.leaveDevice();
    // No answer (the device died, -ENODEV; its handler threw, -EFAULT): the reply values are an
    // earlier reply's, so the load reads as zero, as an access no device takes does.
    if (result < 0) return 0n;
    return (BigInt(client.value(1) >>> 0) << 32n) | BigInt(client.value(0) >>> 0);
  }

  mmioWrite(gpa: number, size: 1 | 2 | 4 | 8, value: bigint | number): void {
    this.check();
    const v = BigInt.asUintN(size * 8, BigInt(value));
    if (this.rt.mem.isVisible(gpa, size)) {
      this.ramWrite(gpa, size, v);
      return;
    }
    const r = this.rt.bus.find(gpa, size);
    if (r < 0) {
      this.unhandled();
      return;
    }
    const region = this.rt.bus.entry(r);
    const { client } = this.rt;
    const m = client.msg;
    m[M_ARGS] = region.region;
    m[M_ARGS + 1] = gpa - region.base;
    m[M_ARGS + 2] = size;
    m[M_ARGS + 3] = Number(v & 0xffffffffn) | 0;
    m[M_ARGS + 4] = Number(v >> 32n) | 0;
    this.enterDevice(gpa, size);
    const op = this.rt.thread.setOperation(OPN_MMIO_WRITE);
    client.request(region.actor, OP_MMIO_WRITE, M_ARGS + 5);
    this.rt.thread.setOperation(op);
    this.leaveDevice();
  }

  mmioRead32(gpa: number): number { return Number(this.mmioRead(gpa, 4)); }
  mmioWrite32(gpa: number, value: number): void { this.mmioWrite(gpa, 4, value >>> 0); }
  mmioRead64(gpa: number): bigint { return this.mmioRead(gpa, 8); }
  mmioWrite64(gpa: number, value: bigint): void { this.mmioWrite(gpa, 8, value); }

  private enterDevice(gpa: number, size: number): void {
    this.rt.sched?.point('mmio-exit', this.vcpuId);
    this.rt.timeline?.begin(EV_MMIO_EXIT, gpa, size);
    Atomics.add(this.i32, this.rt.vcpus.word(this.vcpuId, V_MMIO_EXITS), 1);
    Atomics.store(this.i32, this.rt.vcpus.word(this.vcpuId, V_IN_MMIO), 1);
  }

  private leaveDevice(): void {
    this.rt.timeline?.end(EV_MMIO_EXIT);
    Atomics.store(this.i32, this.rt.vcpus.word(this.vcpuId, V_IN_MMIO), 0);
  }

  /** No device decodes the address: KVM would exit to userspace; our VMM treats it as RAZ/WI and counts it. */
  private unhandled(): bigint {
    Atomics.add(this.i32, this.rt.vcpus.word(this.vcpuId, V_UNHANDLED_MMIO), 1);
    return 0n;
  }

  private ramRead(gpa: number, size: number): bigint {
    const m = this.rt.mem;
    return size === 8 ? m.read64(gpa) : BigInt(size === 4 ? m.read32(gpa) : size === 2 ? m.read16(gpa) : m.read8(gpa));
  }

  private ramWrite(gpa: number, size: number, v: bigint): void {
    const m = this.rt.mem;
    if (size === 8) m.write64(gpa, v);
    else if (size === 4) m.write32(gpa, Number(v));
    else if (size === 2) m.write16(gpa, Number(v));
    else m.write8(gpa, Number(v));
  }
}

/** Guest return values travel by structured clone; anything else is described instead of lost. */
function cloneable(v: unknown): unknown {
  try {
    structuredClone(v);
    return v;
  } catch {
    return String(v);
  }
}
