/**
 * `vgic-lab/guest`: what a guest program imports. A guest program is a
 * module whose default export runs on each vCPU's thread (defineGuest); it
 * talks to the VM only through the guest API (RAM, trapped MMIO, WFI,
 * guest.ext.gic) and this driver library, which does what a guest OS does:
 * allocate tables in guest RAM, program the redistributors and the ITS,
 * issue ITS commands, handle LPIs. Driver calls return 0 or a negative
 * errno and record the first failure in `driver.error`; they never throw.
 * Guide: docs/guides/writing-a-guest.md.
 */
// Declaring a program.
export { defineGuest, type GicGuest, type GicGuestExt, type GuestArgs, type GuestResult } from './define.js';
export type { Guest, GuestMain } from '../kvm/guest-api.js';
export type { GicCpuInterface } from '../vgic/cpu-interface.js';
// Guest RAM.
export {
  GpaAllocator, perVcpuRegion, GUEST_RAM, SETUP_MAILBOX_GPA, DEFAULT_GIC_REGION, DEFAULT_FREE_REGION, type GpaRegion,
} from './alloc.js';
export { DriverBase, fillGuest, type DriverError } from './driver-util.js';
// The GIC: LPI tables, redistributors, distributor.
export { GicDriver, LPI_DEFAULT_PRIORITY, type GicDriverOptions, type LpiTables } from './gic-driver.js';
// The ITS: tables, command queue, one method per command.
export { ItsDriver, type ItsDriverOptions, type ItsSummary, type ItsDeviceInfo, type ItsTableInfo, type ItsTableArea, type GpaRange } from './its-driver.js';
// The whole bring-up in one call (what the built-in 'its-setup' program runs).
export { runItsSetup, type ItsSetupSummary } from './its-setup.js';
export type { ItsSetupArgs, ItsSetupDevice, ItsSetupEvent, ItsSetupCollection } from './its-setup-args.js';
export { waitForSetup, SETUP_REDISTS_READY, SETUP_DONE } from './handshake.js';
// Handling interrupts.
export { irqLoop, lpiResultIndex, RESULT_LPI_TOTAL, type IrqLoopOptions, type IrqLoopResult } from './irq-loop.js';
export { runLpiHandler, type LpiHandlerArgs, type LpiHandlerResult } from './lpi-handler.js';
// Where things are.
export { defaultItsBase } from '../vgic/layout.js';
export { GIC_LPI_OFFSET } from '../uapi/gic-fields.js';
export { errnoName } from '../uapi/errno.js';
