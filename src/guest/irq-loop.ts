/**
 * The interrupt-handling loop shared by the lpi-handler and its-setup guest
 * programs: drain (ack until spurious, count, EOI), then WFI, forever or
 * until `stopAfter` LPIs were handled. Counts go to Guest.results:
 *
 *   results[0]                 LPIs (INTID >= 8192) handled by this vCPU, all INTIDs together
 *   results[1 + intid - 8192]  times LPI `intid` was handled, for intids with 1 + intid - 8192 < results.length
 *
 * results[0] is notified (Atomics.notify) after each LPI, so the VMM can wait on it.
 * Other INTIDs (SGI/PPI/SPI) are EOIed and only counted in the return value.
 * Mirrors a guest kernel's gic_handle_irq loop (IAR read until 1023, EOIR).
 */
import type { Guest } from '../kvm/guest-api.js';
import type { GicCpuInterface } from '../vgic/cpu-interface.js';
import { GIC_LPI_OFFSET } from '../uapi/gic-fields.js';

/** Index in Guest.results of the LPIs this vCPU handled (notified after each). */
export const RESULT_LPI_TOTAL = 0;
/** Index in Guest.results of LPI `intid`'s counter (check it is < results.length). */
export function lpiResultIndex(intid: number): number {
  return 1 + intid - GIC_LPI_OFFSET;
}

/** INTIDs 1020..1023 are special (1023: nothing pending); none of them is EOIed. */
const FIRST_SPECIAL_INTID = 1020;
const LAST_SPECIAL_INTID = 1023;

/**
 * Acknowledge and EOI whatever is pending now, counting LPIs as irqLoop does
 * (only per-LPI counters below `limit`, so words above it stay the caller's).
 * `beforeEoi` runs for each acknowledged INTID before its EOI.
 */
export function drainInterrupts(guest: Guest, gic: GicCpuInterface, limit: number, beforeEoi?: (intid: number) => void): void {
  const { results } = guest;
  for (;;) {
    const intid = gic.ack();
    if (intid >= FIRST_SPECIAL_INTID && intid <= LAST_SPECIAL_INTID) return;
    beforeEoi?.(intid);
    if (intid >= GIC_LPI_OFFSET) {
      Atomics.add(results, RESULT_LPI_TOTAL, 1);
      const i = lpiResultIndex(intid);
      if (i < limit) Atomics.add(results, i, 1);
      Atomics.notify(results, RESULT_LPI_TOTAL);
    }
    gic.eoi(intid);
  }
}

/** When irqLoop returns. */
export interface IrqLoopOptions {
  /** Return once this many LPIs were handled by this call (default: never). */
  stopAfter?: number;
}

/** What irqLoop did. */
export interface IrqLoopResult {
  /** False if the VM has no GIC CPU interface. */
  ok: boolean;
  /** LPIs handled by this call. */
  lpis: number;
  /** Non-LPI interrupts handled. */
  other: number;
  /** WFI returns. */
  wakeups: number;
  /** Why it could not run. */
  error?: string;
}

/**
 * Handle interrupts on this vCPU: acknowledge until nothing is pending,
 * count, EOI, then WFI; forever, or until `stopAfter` LPIs. Counts LPIs in
 * the results words (RESULT_LPI_TOTAL, lpiResultIndex(intid)).
 */
export function irqLoop(guest: Guest, opts: IrqLoopOptions = {}): IrqLoopResult {
  const gic = (guest.ext as { gic?: GicCpuInterface }).gic;
  const res: IrqLoopResult = { ok: true, lpis: 0, other: 0, wakeups: 0 };
  if (gic === undefined || typeof gic.ack !== 'function' || typeof gic.eoi !== 'function') {
    return { ...res, ok: false, error: 'no GIC CPU interface (guest.ext.gic): the VM has no vGIC' };
  }
  const stop = opts.stopAfter ?? Infinity;
  const { results } = guest;
  while (res.lpis < stop) {
    for (;;) {
      const intid = gic.ack();
      if (!Number.isInteger(intid) || intid < 0 || (intid >= FIRST_SPECIAL_INTID && intid <= LAST_SPECIAL_INTID)) break;
      if (intid >= GIC_LPI_OFFSET) {
        res.lpis++;
        Atomics.add(results, RESULT_LPI_TOTAL, 1);
        const i = lpiResultIndex(intid);
        if (i < results.length) Atomics.add(results, i, 1);
        Atomics.notify(results, RESULT_LPI_TOTAL); // lets the VMM Atomics.waitAsync on the total
      } else {
        res.other++;
      }
      gic.eoi(intid);
      if (res.lpis >= stop) return res;
    }
    guest.wfi();
    res.wakeups++;
  }
  return res;
}
