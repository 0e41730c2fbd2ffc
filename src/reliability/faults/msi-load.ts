/**
 * The load every fault runs under, besides the guest's own traffic: MSIs
 * signalled from a device thread (an injector worker, msi-load-worker.ts)
 * and SAVE_TABLES attempts from the VMM. Both keep going through the fault
 * and are stopped last, so destroy() meets them in flight; their counts say
 * whether the threads issuing them were released (answered) afterwards.
 */
import { Worker } from 'node:worker_threads';
import type { GicVm } from '../../create-vm.js';
import type { InjectorHandle, KvmMsi } from '../../vgic/msi.js';
import { KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_VGIC_GRP_CTRL } from '../../uapi/kvm.js';
import { errnoName } from '../../uapi/errno.js';
import { waitForWord } from '../../sync/wait.js';

/** Words of the MSI load's control buffer. */
export const L_STOP = 0, L_SENT = 1, L_DELIVERED = 2, L_ERRORS = 3, L_ENODEV = 4, L_LAST_ERROR = 5;
const L_WORDS = 16;

export interface MsiLoadData {
  handle: InjectorHandle;
  index: number;
  msis: KvmMsi[];
  ctl: SharedArrayBuffer;
  /** Pause between two passes over `msis`. */
  paceMs: number;
}

const WORKER = new URL('./msi-load-worker.js', import.meta.url);

export class MsiLoad {
  readonly ctl = new Int32Array(new SharedArrayBuffer(L_WORDS * 4));
  readonly worker: Worker;
  /** Resolves when the worker has exited. */
  readonly exited: Promise<void>;
  private gone = false;
  /** What the worker threw, if it did. */
  error: string | undefined;

  constructor(vm: GicVm, msis: KvmMsi[], paceMs = 1) {
    const data: MsiLoadData = { handle: vm.gic.injectorHandle(), index: 0, msis, ctl: this.ctl.buffer as SharedArrayBuffer, paceMs };
    this.worker = new Worker(WORKER, { workerData: data });
    this.worker.on('error', (e) => (this.error = String(e?.stack ?? e)));
    this.exited = new Promise((resolve) => this.worker.once('exit', () => {
      this.gone = true;
      resolve();
    }));
  }

  count(word: number): number {
    return Atomics.load(this.ctl, word);
  }

  get alive(): boolean {
    return !this.gone;
  }

  /** Wait until `n` more MSIs than now were signalled (each answered). False on timeout. */
  async advance(n: number, timeoutMs: number): Promise<boolean> {
    const target = this.count(L_SENT) + n;
    return waitForWord(this.ctl, L_SENT, (v) => v >= target || !this.alive, timeoutMs).then(() => this.count(L_SENT) >= target);
  }

  /** Ask the worker to stop; true if it exited by itself within timeoutMs (else it is terminated). */
  async stop(timeoutMs: number): Promise<boolean> {
    Atomics.store(this.ctl, L_STOP, 1);
    Atomics.notify(this.ctl, L_STOP);
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!exited) await this.worker.terminate();
    return exited;
  }
}

/** SAVE_TABLES attempts on ITS 0 from the VMM, one at a time, `paceMs` apart; outcomes counted by errno name. */
export class SaveLoad {
  readonly outcomes = new Map<string, number>();
  /** The attempt in flight (each awaits the ITS actor's answer). */
  private current: Promise<number> | undefined;
  private stopped = false;
  private pending = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly vm: GicVm, private readonly paceMs = 10) {
    this.next();
  }

  private next(): void {
    if (this.stopped) return;
    const p = this.vm.gic.its[0]!.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_SAVE_TABLES);
    this.current = p;
    this.pending = true;
    p.finally(() => (this.pending = false)).catch(() => {});
    p.then((r) => {
      const k = r === 0 ? '0' : errnoName(r);
      this.outcomes.set(k, (this.outcomes.get(k) ?? 0) + 1);
      if (!this.stopped) this.timer = setTimeout(() => this.next(), this.paceMs);
    }, (e: unknown) => {
      const k = `threw ${String((e as Error)?.message ?? e)}`;
      this.outcomes.set(k, (this.outcomes.get(k) ?? 0) + 1);
    });
  }

  /** Attempts answered so far. */
  get answered(): number {
    let n = 0;
    for (const v of this.outcomes.values()) n += v;
    return n;
  }

  /** Whether an attempt is waiting for its answer. */
  get inFlight(): boolean {
    return this.pending;
  }

  /** Stop making attempts; true if the one in flight (if any) was answered within timeoutMs. */
  async stop(timeoutMs: number): Promise<boolean> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.current === undefined) return true;
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      this.current.then(() => true, () => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return answered;
  }

  /** '-EBUSY x12, -ENODEV x1'. */
  summary(): string {
    return [...this.outcomes].map(([k, v]) => `${k} x${v}`).join(', ') || 'none';
  }
}
