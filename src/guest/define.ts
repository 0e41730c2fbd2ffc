/**
 * Typing a guest program: defineGuest() is the identity at run time; it
 * gives the program's `guest` and `args` their types (the GIC CPU interface
 * as `guest.ext.gic`), and GuestArgs / GuestResult let the VMM side name
 * what it passes (GuestSpec.args) and gets back (vcpuExit(id).result).
 */
import type { Guest, GuestMain } from '../kvm/guest-api.js';
import type { GicCpuInterface } from '../vgic/cpu-interface.js';

/** The device extensions a guest of a VM with a vGIC has (`createVm` without `gic: false`). */
export interface GicGuestExt {
  /** The GIC CPU interface: ack (ICC_IAR1_EL1), eoi (ICC_EOIR1_EL1). Undefined on a VM created with `gic: false`. */
  readonly gic: GicCpuInterface;
}

/** The guest API of a vCPU of a VM with a vGIC. */
export type GicGuest = Guest<GicGuestExt>;

/**
 * Declare a guest program: `export default defineGuest<Args, Result>((guest, args) => ...)`.
 * `args` is GuestSpec.args, structured-cloned to every vCPU; the return
 * value reaches the VMM as `vm.vcpuExit(id).result` (structured-cloned, so
 * plain data). The function runs on the vCPU's thread and must call the
 * guest API (wfi, relax, MMIO, RAM) in its loops: those calls are where the
 * vCPU can be paused or destroyed.
 */
export function defineGuest<Args = undefined, Result = void>(main: (guest: GicGuest, args: Args) => Result): GuestMain<Args, Result, GicGuestExt> {
  if (typeof main !== 'function') throw new TypeError('defineGuest(main): main must be a function (guest, args) => result');
  return main;
}

/** The args type of a guest program (for GuestSpec.args on the VMM side). */
export type GuestArgs<G> = G extends (guest: never, args: infer A) => unknown ? A : never;

/** The result type of a guest program (what `vm.vcpuExit(id).result` holds once it returned). */
export type GuestResult<G> = G extends (guest: never, args: never) => infer R ? R : never;
