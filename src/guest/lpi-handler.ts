/**
 * The lpi-handler behaviour as a library function: optionally wait for the
 * setup mailbox and set this vCPU's own GICR_CTLR.EnableLPIs, then run the
 * interrupt loop (irq-loop.ts). Used by the 'lpi-handler' program and by
 * 'its-setup' on every vCPU but the boot one (one guest image on all vCPUs,
 * as a kernel's secondary CPUs). Mirrors a secondary CPU's its_cpu_init_lpis
 * followed by its idle loop.
 */
import type { Guest } from '../kvm/guest-api.js';
import { errnoName } from '../uapi/errno.js';
import { SETUP_MAILBOX_GPA } from './alloc.js';
import { GicDriver } from './gic-driver.js';
import { MAILBOX_LPIS_ENABLED, mailboxAdd, SETUP_REDISTS_READY, waitForSetup } from './handshake.js';
import { irqLoop, type IrqLoopResult } from './irq-loop.js';

/** Args of the 'lpi-handler' program and runLpiHandler; every field has a default. */
export interface LpiHandlerArgs {
  /** Set GICR_CTLR.EnableLPIs on this vCPU's own redistributor first. Default false. */
  enableLpis?: boolean;
  /** Before that, wait until the setup mailbox says PROPBASER/PENDBASER are programmed. Default true. */
  waitForSetup?: boolean;
  /** Setup mailbox GPA. Default SETUP_MAILBOX_GPA. */
  mailbox?: number;
  /** Bound on that wait. Default 30000 ms. */
  timeoutMs?: number;
  /** Return after this many LPIs. Default: never. */
  stopAfter?: number;
}

/** What runLpiHandler returns. */
export interface LpiHandlerResult extends IrqLoopResult {
  /** The vCPU it ran on. */
  vcpu: number;
}

/** Optionally enable this vCPU's LPIs (after the setup mailbox allows it), then run irqLoop. */
export function runLpiHandler(guest: Guest, args: LpiHandlerArgs | undefined): LpiHandlerResult {
  const a = args ?? {};
  const vcpu = guest.vcpuId;
  const failed = (error: string): LpiHandlerResult => ({ ok: false, vcpu, lpis: 0, other: 0, wakeups: 0, error });
  if (a.enableLpis === true) {
    if (a.waitForSetup !== false) {
      const st = waitForSetup(guest, a.mailbox ?? SETUP_MAILBOX_GPA, SETUP_REDISTS_READY, a.timeoutMs);
      if (st < 0) return failed(`waiting for the setup mailbox: ${errnoName(st)}`);
    }
    const gic = new GicDriver(guest);
    if (gic.enableLpis(vcpu) < 0) return failed(`${gic.error!.where}: ${gic.error!.detail}`);
    mailboxAdd(guest, a.mailbox ?? SETUP_MAILBOX_GPA, MAILBOX_LPIS_ENABLED, 1);
  }
  return { vcpu, ...irqLoop(guest, a.stopAfter === undefined ? {} : { stopAfter: a.stopAfter }) };
}
