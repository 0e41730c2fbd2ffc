/**
 * Interrupt conservation: every MSI that KVM_SIGNAL_MSI accepted (returned 1)
 * must leave its LPI pending, or delivered at least once after the MSI. An
 * MSI that finds its LPI already pending may coalesce with it (the edge
 * latch), so "at least once after", not "once per MSI". A delivery with no
 * accepted MSI behind it is a phantom.
 *
 * The ledger lives in a SharedArrayBuffer, so injector threads record their
 * own MSIs (attach() on the worker) and the VMM checks on the main thread.
 * Per tracked LPI it keeps how many MSIs were accepted and the highest
 * delivery count seen just before an accepted MSI: the LPI is lost if it is
 * not pending and has not been delivered past that count. Delivery counts are
 * the model's per-LPI acknowledge counters, which never reset within a VM;
 * carryOver() adds a migrated-from VM's counts to a base, so the ledger spans
 * migrations. It tracks LPIs whose translation the run does not change
 * (MOVI/MOVALL, save/restore and migration keep the INTID).
 */

/**
 * Per tracked LPI (Int32): its INTID, the highest count before an accepted MSI, deliveries on earlier VMs, and the
 * last loss reported. MSIs accepted are 64-bit, after the Int32 slots: a long soak passes 2^31 per LPI.
 */
const S_INTID = 0, S_LAST_BEFORE = 1, S_BASE = 2, S_REPORTED = 3, SLOT_WORDS = 4;
const NONE = -1;

/** What the ledger reads of a VM: the model's per-LPI counters (`vm.gic.vgic` is one). */
export interface LpiDeliveryProbe {
  /** Deliveries (acknowledges) of `intid` so far on this VM. */
  delivered(intid: number): number;
  /** Deliveries and the pending latch, read together (under the LPI's irq_lock). */
  deliveryState(intid: number): {
    /** Deliveries so far. */
    delivered: number;
    /** The pending latch is set. */
    pending: boolean;
  };
}

/** What an injector needs: KVM_SIGNAL_MSI (MsiInjector or anything with the same call). */
export interface MsiSignaller<M> {
  /** KVM_SIGNAL_MSI: 1 accepted, 0 blocked, -errno. */
  signalMsi(msi: M): number;
}

/** What a conservation check counted. */
export interface ConservationReport {
  /** LPIs tracked. */
  lpis: number;
  /** MSIs accepted with 1, over all tracked LPIs. */
  accepted: number;
  /** Deliveries of tracked LPIs, over every VM the ledger spanned. */
  delivered: number;
  /** Tracked LPIs pending now. */
  pending: number;
  /** Accepted MSIs that did not get a delivery of their own (edge-latch coalescing: allowed). */
  coalesced: number;
  /** LPIs with an accepted MSI that is neither pending nor delivered after it. */
  lost: number;
  /** Deliveries beyond the accepted MSIs: delivered with no cause. */
  phantom: number;
  /** INTIDs lost (first 32). */
  lostLpis: number[];
  /** INTIDs with phantom deliveries (first 32). */
  phantomLpis: number[];
}

/**
 * The books of interrupt conservation over a set of tracked LPIs, shared by
 * every thread that signals them (see the module comment).
 */
export class ConservationLedger {
  private readonly slots: Int32Array;
  private readonly accepts: BigInt64Array;
  private readonly slotOf = new Map<number, number>();

  private constructor(
    /** The ledger's shared memory: pass it to attach() on another thread. */
    readonly buffer: SharedArrayBuffer,
  ) {
    const n = new Int32Array(buffer, 0, 1)[0]!;
    this.slots = new Int32Array(buffer, 8, n * SLOT_WORDS);
    this.accepts = new BigInt64Array(buffer, 8 + 8 * Math.ceil((4 * n * SLOT_WORDS) / 8), n);
    for (let k = 0; k < this.size; k++) this.slotOf.set(this.slots[k * SLOT_WORDS + S_INTID]!, k);
  }

  /** A ledger over these LPIs (distinct INTIDs). */
  static create(intids: readonly number[]): ConservationLedger {
    if (new Set(intids).size !== intids.length) throw new RangeError('ConservationLedger.create: INTIDs must be distinct');
    // Layout: [count, pad], the Int32 slots, padding to 8 bytes, one BigInt64 per LPI.
    const n = intids.length;
    const buffer = new SharedArrayBuffer(8 + 8 * Math.ceil((4 * n * SLOT_WORDS) / 8) + 8 * n);
    new Int32Array(buffer, 0, 1)[0] = n;
    const slots = new Int32Array(buffer, 8, n * SLOT_WORDS);
    intids.forEach((intid, k) => {
      slots[k * SLOT_WORDS + S_INTID] = intid;
      slots[k * SLOT_WORDS + S_LAST_BEFORE] = NONE;
      slots[k * SLOT_WORDS + S_REPORTED] = NONE;
    });
    return new ConservationLedger(buffer);
  }

  /** The same ledger on another thread (pass `buffer` in workerData). */
  static attach(buffer: SharedArrayBuffer): ConservationLedger {
    return new ConservationLedger(buffer);
  }

  /** Tracked LPIs. */
  get size(): number {
    return this.slots.length / SLOT_WORDS;
  }

  /** The tracked INTIDs. */
  get intids(): number[] {
    return [...this.slotOf.keys()];
  }

  /** Whether `intid` is tracked. */
  tracks(intid: number): boolean {
    return this.slotOf.has(intid);
  }

  /**
   * Signal `msi` for tracked LPI `intid` and record it if accepted: the
   * delivery count is read before the call, so any delivery after it counts.
   * Returns what signalMsi returned.
   */
  signal<M>(injector: MsiSignaller<M>, msi: M, intid: number, probe: Pick<LpiDeliveryProbe, 'delivered'>): number {
    const o = this.slot(intid);
    const before = Atomics.load(this.slots, o + S_BASE) + probe.delivered(intid);
    const ret = injector.signalMsi(msi);
    if (ret === 1) this.record(o, before);
    return ret;
  }

  /** Record an MSI accepted elsewhere (an async signalMsi): `before` is totalDelivered() read before the call. */
  accepted(intid: number, before: number): void {
    this.record(this.slot(intid), before);
  }

  /** Deliveries of a tracked LPI over every VM so far (what accepted() wants as `before`). */
  totalDelivered(intid: number, probe: Pick<LpiDeliveryProbe, 'delivered'>): number {
    return Atomics.load(this.slots, this.slot(intid) + S_BASE) + probe.delivered(intid);
  }

  /**
   * The run moves from the VM behind `from` to a new one (migration): its
   * deliveries become the base the new VM's counters add to. Call with no MSI
   * in flight and `from` paused for good.
   */
  carryOver(from: Pick<LpiDeliveryProbe, 'delivered'>): void {
    for (const [intid, k] of this.slotOf) Atomics.add(this.slots, k * SLOT_WORDS + S_BASE, from.delivered(intid));
  }

  /**
   * Count lost and phantom LPIs now. Exact when nothing is in flight: the
   * injectors are stopped or held and the vCPUs paused, or drained. A lost LPI
   * is counted once per accepted MSI: checking again before another one is
   * accepted does not count it again (see `lostSinceLastCheck`).
   */
  check(probe: LpiDeliveryProbe): ConservationReport & {
    /** Lost LPIs not reported by an earlier check (for per-interval counts). */
    lostSinceLastCheck: number;
  } {
    const r: ConservationReport & { lostSinceLastCheck: number } = {
      lpis: this.size, accepted: 0, delivered: 0, pending: 0, coalesced: 0, lost: 0, phantom: 0,
      lostLpis: [], phantomLpis: [], lostSinceLastCheck: 0,
    };
    const s = this.slots;
    for (const [intid, k] of this.slotOf) {
      const o = k * SLOT_WORDS;
      // The MSIs' side first: read after the deliveries, a concurrent MSI could look unsatisfied (a false loss).
      const lastBefore = Atomics.load(s, o + S_LAST_BEFORE);
      const accepted = Number(Atomics.load(this.accepts, k));
      const { delivered, pending } = probe.deliveryState(intid);
      const total = Atomics.load(s, o + S_BASE) + delivered;
      r.accepted += accepted;
      r.delivered += total;
      if (pending) r.pending++;
      if (accepted > 0 && !pending && total <= lastBefore) {
        r.lost++;
        if (r.lostLpis.length < 32) r.lostLpis.push(intid);
        if (Atomics.exchange(s, o + S_REPORTED, lastBefore) !== lastBefore) r.lostSinceLastCheck++;
      } else {
        r.coalesced += Math.max(0, accepted - total - (pending ? 1 : 0));
      }
      if (total > accepted) {
        r.phantom += total - accepted;
        if (r.phantomLpis.length < 32) r.phantomLpis.push(intid);
      }
    }
    return r;
  }

  private slot(intid: number): number {
    const k = this.slotOf.get(intid);
    if (k === undefined) throw new RangeError(`ConservationLedger: LPI ${intid} is not tracked`);
    return k * SLOT_WORDS;
  }

  private record(o: number, before: number): void {
    const s = this.slots;
    Atomics.add(this.accepts, o / SLOT_WORDS, 1n);
    // Atomic max: injector threads may record the same LPI at once.
    for (let cur = Atomics.load(s, o + S_LAST_BEFORE); before > cur;) {
      const seen = Atomics.compareExchange(s, o + S_LAST_BEFORE, cur, before);
      if (seen === cur) break;
      cur = seen;
    }
  }
}

/** One line for a report: "lost 0, phantom 0 (1234 accepted, 1200 delivered, 34 coalesced, 0 pending)". */
export function formatConservation(r: ConservationReport): string {
  const lost = r.lost === 0 ? 'lost 0' : `lost ${r.lost} (LPIs ${r.lostLpis.join(', ')})`;
  const phantom = r.phantom === 0 ? 'phantom 0' : `phantom ${r.phantom} (LPIs ${r.phantomLpis.join(', ')})`;
  return `${lost}, ${phantom} (${r.accepted} accepted, ${r.delivered} delivered, ${r.coalesced} coalesced, ${r.pending} pending)`;
}
