/**
 * createVm(): the façade that assembles a VM with its interrupt controller.
 * The kvm layer knows no GIC; this is where the two meet (as KVM_CREATE_VM,
 * KVM_CREATE_VCPU and KVM_CREATE_DEVICE meet in a VMM).
 */
import { Vm } from './kvm/vm.js';
import { resolveVmOptions, type VmOptions } from './kvm/options.js';
import { Gic, gicSetup, resolveGicOptions, type GicOptions } from './vgic/gic.js';
import { VGIC_DEVICE_KEY, type VgicShared } from './vgic/layout.js';
import type { KvmMsi } from './vgic/msi.js';
import type { LockProtocol } from './vgic/lock-protocol.js';

/** What {@link createVm} takes: the VM's options plus its interrupt controller's. Every field is optional. */
export interface CreateVmOptions extends VmOptions {
  /** The vGICv3 and its ITSs. Default: one ITS at the default base. `false`: no interrupt controller. */
  gic?: GicOptions | false;
}

/** A VM with a vGICv3: the Vm API plus the GIC devices and KVM_SIGNAL_MSI. */
export interface GicVm extends Vm {
  /** The interrupt controller: its ITS devices, the vgic-v3 device, injector handles. */
  readonly gic: Gic;
  /**
   * KVM_SIGNAL_MSI: 1 delivered, 0 blocked by guest state, -errno (-ENODEV no ITS, -EINVAL, -EBUSY).
   * Rejects with a TypeError/RangeError naming the field (`msi.data`, ...) for a malformed `msi`.
   */
  signalMsi(msi: KvmMsi): Promise<number>;
}

/**
 * Create a VM without an interrupt controller (`gic: false`): vCPUs, guest
 * RAM and the MMIO bus only. The vCPUs are created, not running: call
 * `vm.start()`.
 */
export async function createVm(options: CreateVmOptions & { gic: false }): Promise<Vm>;
/**
 * Create a VM with a vGICv3 and its ITSs (KVM_CREATE_VM, KVM_CREATE_VCPU,
 * KVM_CREATE_DEVICE): one worker thread per vCPU, one actor per device. The
 * vCPUs are created, not running: call `vm.start()`, and `vm.destroy()` when
 * done. Rejects with a TypeError/RangeError naming the option when an option
 * is invalid (before any thread starts).
 */
export async function createVm(options?: CreateVmOptions): Promise<GicVm>;
export async function createVm(options: CreateVmOptions = {}): Promise<Vm | GicVm> {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  if (options.gic === false) {
    const vm = await Vm.create(options);
    if (options.schedule !== undefined) await vm.beginSchedule();
    return vm;
  }
  // Both layers validated before any thread starts: a bad option never leaves a half-built VM behind.
  const vmOptions = resolveVmOptions(options);
  const gicOptions = resolveGicOptions(options.gic ?? {});
  const setup = gicSetup(vmOptions.vcpus, gicOptions);
  const vm = await Vm.create(withProtocolHierarchy(options, (setup.devices[VGIC_DEVICE_KEY] as VgicShared).lockProtocol.hierarchy), setup);
  try {
    const gic = await Gic.attach(vm, gicOptions);
    Object.defineProperty(vm, 'gic', { value: gic, enumerable: true });
    Object.defineProperty(vm, 'signalMsi', { value: (msi: KvmMsi) => gic.signalMsi(msi) });
    // The devices exist (their actors are spawned): from here on the schedule controls every thread.
    if (options.schedule !== undefined) await vm.beginSchedule();
    return vm as GicVm;
  } catch (e) {
    await vm.destroy();
    throw e;
  }
}

/** `validator: true` (or options without a hierarchy) checks the lock protocol's declared hierarchy, when it has one. */
function withProtocolHierarchy(options: CreateVmOptions, hierarchy: LockProtocol['hierarchy']): CreateVmOptions {
  const v = options.validator;
  if (hierarchy === undefined || hierarchy === 'derive' || v === undefined || v === false) return options;
  if (v === true) return { ...options, validator: { hierarchy } };
  if (v !== null && typeof v === 'object' && v.hierarchy === undefined) return { ...options, validator: { ...v, hierarchy } };
  return options;
}
