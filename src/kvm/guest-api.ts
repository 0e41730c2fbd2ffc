/**
 * The API a guest program sees on its vCPU thread: guest RAM, trapped MMIO,
 * WFI, its vcpu_id, a results area, and the device extensions (e.g. `gic`).
 * Every call is a point where the vCPU may leave KVM_RUN (pause) and come
 * back with the guest's JS stack intact, like a guest preempted by a host
 * exit. A guest program is a module whose default export is a GuestMain.
 */

/** The guest's view of its vCPU. `E` types the device extensions. */
export interface Guest<E = Record<string, any>> {
  /** This vCPU's vcpu_id (also its GICR_TYPER.Processor_Number). */
  readonly vcpuId: number;
  /** vCPUs in the VM. */
  readonly nrVcpus: number;
  /** Shared Int32 words this vCPU reports through; the VMM reads them with vm.results(). */
  readonly results: Int32Array;
  /** Per-vCPU device code loaded by device types (e.g. the GIC CPU interface as `ext.gic`). */
  readonly ext: E;

  /** Guest RAM loads: the value, or -EFAULT (-14) outside memory. */
  read8(gpa: number): number;
  /** 16-bit little-endian load, or -EFAULT. */
  read16(gpa: number): number;
  /** 32-bit little-endian load (unsigned), or -EFAULT. */
  read32(gpa: number): number;
  /** 64-bit little-endian load, or -EFAULT as a bigint. */
  read64(gpa: number): bigint;
  /** Guest RAM stores: 0, or -EFAULT outside memory. */
  write8(gpa: number, value: number): number;
  /** 16-bit little-endian store: 0 or -EFAULT. */
  write16(gpa: number, value: number): number;
  /** 32-bit little-endian store: 0 or -EFAULT. */
  write32(gpa: number, value: number): number;
  /** 64-bit little-endian store: 0 or -EFAULT. */
  write64(gpa: number, value: bigint): number;
  /** Copy guest RAM at `gpa` into `dst`: 0 or -EFAULT (nothing copied). */
  readBytes(gpa: number, dst: Uint8Array): number;
  /** Copy `src` into guest RAM at `gpa`: 0 or -EFAULT (nothing copied). */
  writeBytes(gpa: number, src: Uint8Array): number;
  /** Int32 view of guest RAM for atomics shared between vCPUs (undefined if not RAM or misaligned). */
  atomics32(gpa: number, count: number): Int32Array | undefined;

  /** A trapped load of `size` bytes (1, 2, 4 or 8): served by the device owning `gpa`; RAZ if none. */
  mmioRead(gpa: number, size: 1 | 2 | 4 | 8): bigint;
  /** A trapped store of `size` bytes: served by the device owning `gpa`; ignored if none. */
  mmioWrite(gpa: number, size: 1 | 2 | 4 | 8, value: bigint | number): void;
  /** mmioRead(gpa, 4) as a number. */
  mmioRead32(gpa: number): number;
  /** mmioWrite(gpa, 4, value). */
  mmioWrite32(gpa: number, value: number): void;
  /** mmioRead(gpa, 8). */
  mmioRead64(gpa: number): bigint;
  /** mmioWrite(gpa, 8, value). */
  mmioWrite64(gpa: number, value: bigint): void;

  /** Wait for interrupt: returns when an interrupt is pending for this vCPU (or spuriously). */
  wfi(): void;
  /** A point where the vCPU honours pause/exit requests (cpu_relax in a polling loop). */
  relax(): void;
  /**
   * Wait for event: sleep while word `index` of `view` (guest RAM from atomics32) still
   * holds `value`, at most `timeoutMs` (default 1); may return early. For polling loops.
   */
  wfe(view: Int32Array, index: number, value: number, timeoutMs?: number): void;
  /** True once the VMM asked this vCPU to exit for good; the next call unwinds the guest. */
  readonly exiting: boolean;
}

/** A guest program: the default export of a guest module. Runs on the vCPU thread. */
export type GuestMain<A = any, R = unknown, E = Record<string, any>> = (guest: Guest<E>, args: A) => R;
