/**
 * Built-in guest 'lpi-handler': handles interrupts forever (or until
 * args.stopAfter LPIs): drain the CPU interface (ack until 1023, count, EOI),
 * then WFI. Counts in guest.results: [0] = LPIs handled by this vCPU,
 * [1 + intid - 8192] += 1 per LPI `intid` that fits (../irq-loop.ts).
 * Args: LpiHandlerArgs (../lpi-handler.ts): enableLpis (own redistributor,
 * after the setup mailbox allows it), waitForSetup, mailbox, timeoutMs, stopAfter.
 * Returns { ok, vcpu, lpis, other, wakeups, error? }.
 */
import type { GuestMain } from '../../kvm/guest-api.js';
import { runLpiHandler, type LpiHandlerArgs, type LpiHandlerResult } from '../lpi-handler.js';

const lpiHandler: GuestMain<LpiHandlerArgs | undefined, LpiHandlerResult> = (guest, args) => runLpiHandler(guest, args);
export default lpiHandler;
