/**
 * Built-in guest 'its-setup': one guest image for every vCPU, like a kernel.
 * The boot vCPU (args.bootVcpu, default 0) brings up the GIC and ITS(s)
 * (runItsSetup in ../its-setup.ts: LPI tables, redistributors, ITS tables and
 * queue, MAPC/MAPD/MAPTI, distributor) and returns an ItsSetupSummary, or with
 * args.handle stays in the interrupt loop first. Every other vCPU acts as a
 * secondary: it runs the lpi-handler behaviour (../lpi-handler.ts), enabling
 * its own LPIs first when args.enableLpis is 'self', handling interrupts until
 * args.secondary.stopAfter LPIs (default: forever), and returns its
 * LpiHandlerResult. Results layout: ../irq-loop.ts. Args: ItsSetupArgs
 * (../its-setup-args.ts). Progress is published in the setup mailbox (../handshake.ts).
 */
import type { GuestMain } from '../../kvm/guest-api.js';
import { SETUP_MAILBOX_GPA } from '../alloc.js';
import type { ItsSetupArgs } from '../its-setup-args.js';
import { runItsSetup, type ItsSetupSummary } from '../its-setup.js';
import { runLpiHandler, type LpiHandlerResult } from '../lpi-handler.js';

const itsSetup: GuestMain<ItsSetupArgs | undefined, ItsSetupSummary | LpiHandlerResult> = (guest, args) => {
  if (guest.vcpuId === (args?.bootVcpu ?? 0)) return runItsSetup(guest, args);
  const s = args?.secondary ?? {};
  return runLpiHandler(guest, {
    enableLpis: args?.enableLpis === 'self',
    mailbox: args?.mailbox ?? SETUP_MAILBOX_GPA,
    ...(s.timeoutMs !== undefined ? { timeoutMs: s.timeoutMs } : {}),
    ...(s.stopAfter !== undefined ? { stopAfter: s.stopAfter } : {}),
  });
};
export default itsSetup;
