/**
 * LPI state and delivery, usable from any thread of the VM (ITS actors,
 * the distributor actor, injector threads, vCPUs): the model of vgic.c's
 * vgic_queue_irq_unlock, vgic-its.c's LPI creation and update_lpi_config,
 * and the CPU interface's acknowledge.
 *
 * Lock order (spec 7.2), written once: the mutexes kvm.lock > vcpu.mutex >
 * config_lock > its.cmd_lock > its.its_lock (src/sync/classes.ts) sit above
 * these raw spinlocks: LPI-set lock (D_LPI_LOCK) > ap_list_lock (one at a
 * time) > irq_lock. (The kernel puts the LPI xarray lock below ap_list_lock
 * because it frees LPIs lazily; we free eagerly, taking the LPI off its
 * ap_list, so the LPI-set lock comes first.) Never take an ap_list_lock while
 * holding an irq_lock: drop it, take both in order, re-check (as
 * vgic_queue_irq_unlock).
 */
import type { GuestMemory } from '../mem/guest-memory.js';
import type { VcpuBlock } from '../kvm/vcpu-block.js';
import {
  GIC_LPI_OFFSET, LPI_PENDTABLE_RESERVED_BYTES, lpiPropEnabled, lpiPropPriority,
} from '../uapi/gic-fields.js';
import { spinLock, spinUnlock } from './spinlock.js';
import {
  C_ACKED, C_AP_COUNT, C_AP_LOCK, C_EOIED, C_GICR_CTLR, C_PTZ, D_ACKED, D_GICD_CTLR, D_LPI_LOCK, F_ENABLED, F_PENDING,
  INTID_SPURIOUS, L_DELIVERED, L_FLAGS, L_GEN, L_LOCK, L_PRIORITY, L_QUEUED_ON, L_REFS, L_TARGET, NR_INTIDS, VgicState,
  CACHE_ENTRY_WORDS, K_COUNT, K_LOCK, K_SEQ,
} from './vgic-state.js';
import { REQ_IRQ_PENDING } from '../kvm/vcpu-block.js';

/** GICD_CTLR.EnableGrp1 (ARE mode): gates delivery of every interrupt (dist->enabled). */
import { GICD_CTLR_ENABLE_G1 } from '../uapi/gic-fields.js';
export { GICD_CTLR_ENABLE_G1 };
/** GICR_CTLR.EnableLPIs; "LPIs enabled" means the register equals exactly this (RWP clear). */
export const GICR_CTLR_ENABLE_LPIS = 1;
export const GICR_CTLR_RWP = 1 << 3;

export class Vgic {
  readonly i32: Int32Array;

  constructor(readonly st: VgicState, readonly vcpus: VcpuBlock, readonly mem: GuestMemory, readonly tid: number) {
    this.i32 = st.i32;
  }

  get nrVcpus(): number {
    return this.st.nrVcpus;
  }

  distEnabled(): boolean {
    return (Atomics.load(this.i32, D_GICD_CTLR) & GICD_CTLR_ENABLE_G1) !== 0;
  }

  vcpuExists(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.st.nrVcpus;
  }

  /** vgic_lpis_enabled(): GICR_CTLR == EnableLPIs exactly. */
  lpisEnabled(id: number): boolean {
    return Atomics.load(this.i32, this.st.cpu(id) + C_GICR_CTLR) === GICR_CTLR_ENABLE_LPIS;
  }

  lpiExists(intid: number): boolean {
    return intid >= GIC_LPI_OFFSET && intid < NR_INTIDS && Atomics.load(this.i32, this.st.lpi(intid) + L_REFS) > 0;
  }

  lpiTarget(intid: number): number {
    return Atomics.load(this.i32, this.st.lpi(intid) + L_TARGET);
  }

  lpiFlags(intid: number): number {
    return Atomics.load(this.i32, this.st.lpi(intid) + L_FLAGS);
  }

  lpiPriority(intid: number): number {
    return Atomics.load(this.i32, this.st.lpi(intid) + L_PRIORITY);
  }

  // ---- LPI lifetime (vgic_add_lpi / vgic_put_irq) ---------------------------

  /**
   * Take a reference on LPI `intid`, creating it if needed with `target` (a
   * vcpu_id or -1). A new LPI reads its priority/enable from the property
   * table and its pending bit from the target's pending table, consuming it.
   * An existing LPI keeps its target. 0, or -EFAULT if the config byte is
   * unreadable (nothing is created then).
   *
   * An existing LPI is found without the LPI-set lock, as today's
   * vgic_add_lpi does (vgic_get_irq: a lockless xarray lookup and
   * kref_get_unless_zero): the count goes up only from a non-zero value, so
   * it never revives an LPI putLpi() is freeing (that one dropped it to 0
   * under the lock; we then create it afresh under the lock, after it).
   */
  getLpi(intid: number, target: number): number {
    const { i32 } = this;
    const l = this.st.lpi(intid);
    for (let refs = Atomics.load(i32, l + L_REFS); refs > 0;) {
      const seen = Atomics.compareExchange(i32, l + L_REFS, refs, refs + 1);
      if (seen === refs) return 0;
      refs = seen;
    }
    spinLock(i32, D_LPI_LOCK, this.tid);
    try {
      if (Atomics.load(i32, l + L_REFS) > 0) {
        Atomics.add(i32, l + L_REFS, 1);
        return 0;
      }
      const cfg = this.readConfigByte(intid);
      if (cfg < 0) return cfg;
      spinLock(i32, l + L_LOCK, this.tid);
      Atomics.store(i32, l + L_PRIORITY, lpiPropPriority(cfg));
      Atomics.store(i32, l + L_TARGET, target);
      const pending = target >= 0 && this.consumePendingBit(target, intid);
      Atomics.store(i32, l + L_FLAGS, (lpiPropEnabled(cfg) ? F_ENABLED : 0) | (pending ? F_PENDING : 0));
      Atomics.add(i32, l + L_GEN, 1);
      Atomics.store(i32, l + L_REFS, 1);
      spinUnlock(i32, l + L_LOCK);
    } finally {
      spinUnlock(i32, D_LPI_LOCK);
    }
    this.queue(intid);
    return 0;
  }

  /**
   * Drop a reference; the last one frees the LPI with its pending state. The
   * state is cleared under irq_lock before the LPI leaves its ap_list, so a
   * racing setPending()/queue() either sees it gone or is undone by unqueue().
   */
  putLpi(intid: number): void {
    const { i32 } = this;
    const l = this.st.lpi(intid);
    spinLock(i32, D_LPI_LOCK, this.tid);
    spinLock(i32, l + L_LOCK, this.tid);
    const refs = Atomics.sub(i32, l + L_REFS, 1) - 1;
    if (refs === 0) {
      Atomics.store(i32, l + L_FLAGS, 0);
      Atomics.store(i32, l + L_TARGET, -1);
    }
    spinUnlock(i32, l + L_LOCK);
    if (refs === 0) this.unqueue(intid);
    spinUnlock(i32, D_LPI_LOCK);
  }

  /** Every existing LPI (optionally only those targeting `vcpu`), ascending. */
  lpis(vcpu?: number): number[] {
    const out: number[] = [];
    for (let intid = GIC_LPI_OFFSET; intid < NR_INTIDS; intid++) {
      if (Atomics.load(this.i32, this.st.lpi(intid) + L_REFS) > 0 && (vcpu === undefined || this.lpiTarget(intid) === vcpu)) out.push(intid);
    }
    return out;
  }

  // ---- state changes ----------------------------------------------------------

  /**
   * Latch pending (an MSI or INT) and queue it. Returns false if the LPI no
   * longer exists, or (with `gen`, from a cached translation) if the INTID
   * has been freed and created again since: that is another mapping's LPI.
   */
  setPending(intid: number, gen?: number): boolean {
    const { i32 } = this;
    const l = this.st.lpi(intid);
    spinLock(i32, l + L_LOCK, this.tid);
    if (Atomics.load(i32, l + L_REFS) === 0 || (gen !== undefined && Atomics.load(i32, l + L_GEN) !== gen)) {
      spinUnlock(i32, l + L_LOCK);
      return false;
    }
    Atomics.or(i32, l + L_FLAGS, F_PENDING);
    spinUnlock(i32, l + L_LOCK);
    this.queue(intid);
    return true;
  }

  /** CLEAR: drop the pending latch without re-evaluating queueing (as KVM does). */
  clearPending(intid: number): void {
    Atomics.and(this.i32, this.st.lpi(intid) + L_FLAGS, ~F_PENDING);
  }

  /** update_affinity(): point the LPI at `target`; pending state travels with it. */
  retarget(intid: number, target: number): void {
    const { i32 } = this;
    const l = this.st.lpi(intid);
    spinLock(i32, l + L_LOCK, this.tid);
    Atomics.store(i32, l + L_TARGET, target);
    spinUnlock(i32, l + L_LOCK);
    // If it sits on another vCPU's ap_list, move it now so it is delivered where it points.
    const on = Atomics.load(i32, l + L_QUEUED_ON);
    if (on >= 0 && on !== target) this.unqueue(intid);
    this.queue(intid);
  }

  /** update_lpi_config(): re-read priority/enable from the property table (INV, INVALL). */
  reloadConfig(intid: number): number {
    const cfg = this.readConfigByte(intid);
    if (cfg < 0) return cfg;
    const { i32 } = this;
    const l = this.st.lpi(intid);
    spinLock(i32, l + L_LOCK, this.tid);
    Atomics.store(i32, l + L_PRIORITY, lpiPropPriority(cfg));
    if (lpiPropEnabled(cfg)) Atomics.or(i32, l + L_FLAGS, F_ENABLED);
    else Atomics.and(i32, l + L_FLAGS, ~F_ENABLED);
    spinUnlock(i32, l + L_LOCK);
    this.queue(intid);
    return 0;
  }

  /**
   * vgic_queue_irq_unlock(): put a pending, enabled LPI on its target's
   * ap_list (if the distributor is enabled and it is not queued yet) and kick
   * the target. Re-checks after taking the locks in order.
   */
  queue(intid: number): void {
    const { i32, st } = this;
    const l = st.lpi(intid);
    for (;;) {
      const oracle = this.oracle(intid);
      if (oracle < 0) return;
      if (Atomics.load(i32, l + L_QUEUED_ON) >= 0) {
        this.kick(oracle);
        return;
      }
      const c = st.cpu(oracle);
      spinLock(i32, c + C_AP_LOCK, this.tid);
      spinLock(i32, l + L_LOCK, this.tid);
      if (this.oracle(intid) !== oracle || Atomics.load(i32, l + L_QUEUED_ON) >= 0) {
        spinUnlock(i32, l + L_LOCK);
        spinUnlock(i32, c + C_AP_LOCK);
        continue; // changed under us: start over
      }
      const n = Atomics.load(i32, c + C_AP_COUNT);
      Atomics.store(i32, st.apEntry(oracle, n), intid);
      Atomics.store(i32, c + C_AP_COUNT, n + 1);
      Atomics.store(i32, l + L_QUEUED_ON, oracle);
      spinUnlock(i32, l + L_LOCK);
      spinUnlock(i32, c + C_AP_LOCK);
      this.kick(oracle);
      return;
    }
  }

  /** Where a pending LPI should be delivered now, or -1 (vgic_target_oracle). */
  private oracle(intid: number): number {
    const l = this.st.lpi(intid);
    const f = Atomics.load(this.i32, l + L_FLAGS);
    if ((f & (F_ENABLED | F_PENDING)) !== (F_ENABLED | F_PENDING) || !this.distEnabled()) return -1;
    const t = Atomics.load(this.i32, l + L_TARGET);
    return this.vcpuExists(t) ? t : -1;
  }

  /** Take `intid` off whichever ap_list holds it. */
  private unqueue(intid: number): void {
    const { i32, st } = this;
    const l = st.lpi(intid);
    for (;;) {
      const on = Atomics.load(i32, l + L_QUEUED_ON);
      if (on < 0) return;
      const c = st.cpu(on);
      spinLock(i32, c + C_AP_LOCK, this.tid);
      if (Atomics.load(i32, l + L_QUEUED_ON) === on) {
        this.removeFromList(on, intid);
        Atomics.store(i32, l + L_QUEUED_ON, -1);
        spinUnlock(i32, c + C_AP_LOCK);
        return;
      }
      spinUnlock(i32, c + C_AP_LOCK);
    }
  }

  /** Caller holds vCPU `id`'s ap_list_lock. */
  private removeFromList(id: number, intid: number): void {
    const { i32, st } = this;
    const c = st.cpu(id);
    const n = Atomics.load(i32, c + C_AP_COUNT);
    for (let k = 0; k < n; k++) {
      if (Atomics.load(i32, st.apEntry(id, k)) === intid) {
        Atomics.store(i32, st.apEntry(id, k), Atomics.load(i32, st.apEntry(id, n - 1)));
        Atomics.store(i32, c + C_AP_COUNT, n - 1);
        return;
      }
    }
  }

  /** kvm_vcpu_kick with KVM_REQ_IRQ_PENDING: wakes the vCPU from WFI only if it sleeps there. */
  kick(id: number): void {
    this.vcpus.kick(id, REQ_IRQ_PENDING);
  }

  // ---- CPU interface (runs on the vCPU's own thread) ------------------------------

  /**
   * ICC_IAR1_EL1: acknowledge the highest-priority pending LPI on this vCPU's
   * ap_list (lowest priority value; ties: lowest INTID), or INTID_SPURIOUS.
   * LPIs have no active state: acknowledging consumes the pending latch.
   * LPIs found retargeted elsewhere are moved to their new target.
   */
  ack(id: number): number {
    const { i32, st } = this;
    const c = st.cpu(id);
    const moved: number[] = [];
    let best = -1, bestPrio = 256;
    spinLock(i32, c + C_AP_LOCK, this.tid);
    let n = Atomics.load(i32, c + C_AP_COUNT);
    for (let k = 0; k < n; k++) {
      const intid = Atomics.load(i32, st.apEntry(id, k));
      const l = st.lpi(intid);
      const oracle = this.oracle(intid);
      if (oracle !== id) {
        // vgic_prune_ap_list: no longer deliverable here (not pending, disabled, moved away).
        this.removeFromList(id, intid);
        Atomics.store(i32, l + L_QUEUED_ON, -1);
        if (oracle >= 0) moved.push(intid);
        n--;
        k--;
        continue;
      }
      const p = Atomics.load(i32, l + L_PRIORITY);
      if (p < bestPrio || (p === bestPrio && intid < best)) {
        best = intid;
        bestPrio = p;
      }
    }
    if (best >= 0) {
      const l = st.lpi(best);
      spinLock(i32, l + L_LOCK, this.tid);
      Atomics.and(i32, l + L_FLAGS, ~F_PENDING);
      this.removeFromList(id, best);
      Atomics.store(i32, l + L_QUEUED_ON, -1);
      Atomics.add(i32, l + L_DELIVERED, 1);
      spinUnlock(i32, l + L_LOCK);
      Atomics.add(i32, c + C_ACKED, 1);
      Atomics.add(i32, D_ACKED, 1);
    }
    spinUnlock(i32, c + C_AP_LOCK);
    for (const intid of moved) this.queue(intid);
    return best >= 0 ? best : INTID_SPURIOUS;
  }

  /** ICC_EOIR1_EL1: priority drop (LPIs have no active state to deactivate). */
  eoi(id: number, _intid: number): void {
    Atomics.add(this.i32, this.st.cpu(id) + C_EOIED, 1);
  }

  /** True when something is queued for this vCPU. */
  hasPending(id: number): boolean {
    return Atomics.load(this.i32, this.st.cpu(id) + C_AP_COUNT) > 0;
  }

  // ---- redistributor-level operations ----------------------------------------------

  /** vgic_flush_pending_lpis(): take every LPI off this vCPU's ap_list (pending latches stay). */
  flushPendingLpis(id: number): void {
    const { i32, st } = this;
    const c = st.cpu(id);
    spinLock(i32, c + C_AP_LOCK, this.tid);
    const n = Atomics.load(i32, c + C_AP_COUNT);
    for (let k = 0; k < n; k++) Atomics.store(i32, st.lpi(Atomics.load(i32, st.apEntry(id, k))) + L_QUEUED_ON, -1);
    Atomics.store(i32, c + C_AP_COUNT, 0);
    spinUnlock(i32, c + C_AP_LOCK);
  }

  /**
   * vgic_v3_lpi_sync_pending_status() on EnableLPIs 0 -> 1 with PTZ clear:
   * every LPI targeting the vCPU takes its pending latch from the pending
   * table (overwriting; bits are not consumed).
   */
  syncPendingTable(id: number): number {
    if (Atomics.load(this.i32, this.st.cpu(id) + C_PTZ) !== 0) return 0;
    const base = this.st.pendbaserAddress(id);
    for (const intid of this.lpis(id)) {
      const byte = this.mem.read8(base + (intid >> 3));
      if (byte < 0) return byte;
      const l = this.st.lpi(intid);
      if (byte & (1 << (intid & 7))) Atomics.or(this.i32, l + L_FLAGS, F_PENDING);
      else Atomics.and(this.i32, l + L_FLAGS, ~F_PENDING);
      this.queue(intid);
    }
    return 0;
  }

  /**
   * KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES (called with the protocol's locks
   * held): write each targeted LPI's pending latch into its target's pending
   * table, rewriting a byte only when the stored bit differs. Untargeted LPIs
   * are skipped; the first KiB (INTIDs < 8192) is never touched. 0 or -EFAULT.
   */
  savePendingTables(): number {
    let gpa = -1, byte = 0;
    for (const intid of this.lpis()) {
      const t = this.lpiTarget(intid);
      if (!this.vcpuExists(t)) continue;
      const at = this.st.pendbaserAddress(t) + (intid >> 3);
      if (at !== gpa) {
        byte = this.mem.read8(at);
        if (byte < 0) return byte;
        gpa = at;
      }
      const bit = 1 << (intid & 7);
      const pending = (this.lpiFlags(intid) & F_PENDING) !== 0;
      if (((byte & bit) !== 0) === pending) continue;
      byte ^= bit;
      const r = this.mem.write8(gpa, byte);
      if (r < 0) return r;
    }
    return 0;
  }

  /** Re-evaluate every LPI (GICD_CTLR enable turned on). */
  requeueAll(): void {
    for (const intid of this.lpis()) this.queue(intid);
  }

  // ---- guest tables ----------------------------------------------------------------

  /** The LPI's byte in the property table at PROPBASER, or -EFAULT. */
  readConfigByte(intid: number): number {
    return this.mem.read8(this.st.propbaserAddress() + (intid - GIC_LPI_OFFSET));
  }

  /** Read and clear `intid`'s bit in vCPU `id`'s pending table; false if unreadable or clear. */
  private consumePendingBit(id: number, intid: number): boolean {
    const gpa = this.st.pendbaserAddress(id) + (intid >> 3);
    if (intid < LPI_PENDTABLE_RESERVED_BYTES * 8) return false;
    const byte = this.mem.read8(gpa);
    if (byte < 0) return false;
    const mask = 1 << (intid & 7);
    if ((byte & mask) === 0) return false;
    this.mem.write8(gpa, byte & ~mask);
    return true;
  }

  /**
   * A thread died (its worker was terminated): release every spin word it
   * held. The structure under it may be half-updated; a translation cache
   * caught mid-write is emptied so its seqlock is even again.
   */
  recoverSpinlocks(tid: number, nrIts: number): void {
    const { i32, st } = this;
    const free = (w: number) => Atomics.compareExchange(i32, w, tid, 0) === tid;
    free(D_LPI_LOCK);
    for (let v = 0; v < st.nrVcpus; v++) free(st.cpu(v) + C_AP_LOCK);
    for (let intid = GIC_LPI_OFFSET; intid < NR_INTIDS; intid++) free(st.lpi(intid) + L_LOCK);
    for (let n = 0; n < nrIts; n++) {
      const h = st.cache(n);
      if (free(h + K_LOCK) && (Atomics.load(i32, h + K_SEQ) & 1) !== 0) {
        const first = st.cacheEntry(n, 0);
        i32.fill(0, first, first + CACHE_ENTRY_WORDS * st.cacheCapacity);
        Atomics.store(i32, h + K_COUNT, 0);
        Atomics.add(i32, h + K_SEQ, 1);
      }
    }
  }

  /**
   * Deliveries of `intid` so far and its pending latch, read together under
   * its irq_lock: an acknowledge clears the one and counts the other, so two
   * plain loads could see neither (src/reliability/conservation.ts).
   */
  deliveryState(intid: number): { delivered: number; pending: boolean } {
    const { i32 } = this;
    const l = this.st.lpi(intid);
    spinLock(i32, l + L_LOCK, this.tid);
    const delivered = Atomics.load(i32, l + L_DELIVERED);
    const pending = (Atomics.load(i32, l + L_FLAGS) & F_PENDING) !== 0;
    spinUnlock(i32, l + L_LOCK);
    return { delivered, pending };
  }

  /** Deliveries of `intid` so far (conservation checks). */
  delivered(intid: number): number {
    return Atomics.load(this.i32, this.st.lpi(intid) + L_DELIVERED);
  }

  acked(id: number): number {
    return Atomics.load(this.i32, this.st.cpu(id) + C_ACKED);
  }
}
