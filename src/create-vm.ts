/**
 * createVm(): the façade that assembles a VM with its interrupt controller.
 * The kvm layer knows no GIC; this is where the two meet (as KVM_CREATE_VM,
 * KVM_CREATE_VCPU and KVM_CREATE_DEVICE meet in a VMM).
 */
import { Vm } from './kvm/vm.js';
import type { VmOptions } from './kvm/options.js';
import { Gic, gicSetup, type GicOptions } from './vgic/gic.js';
import { VGIC_DEVICE_KEY, type VgicShared } from './vgic/layout.js';
import type { KvmMsi } from './vgic/msi.js';
import type { LockProtocol } from './vgic/lock-protocol.js';

export interface CreateVmOptions extends VmOptions {
  /** The vGICv3 and its ITSs. Default: one ITS at the default base. `false`: no interrupt controller. */
  gic?: GicOptions | false;
}

/** A VM with a vGICv3: the Vm API plus the GIC devices and KVM_SIGNAL_MSI. */
export interface GicVm extends Vm {
  readonly gic: Gic;
  /** KVM_SIGNAL_MSI: 1 delivered, 0 blocked by guest state, -errno (-ENODEV no ITS, -EINVAL, -EBUSY). */
  signalMsi(msi: KvmMsi): Promise<number>;
}

export async function createVm(options: CreateVmOptions & { gic: false }): Promise<Vm>;
export async function createVm(options?: CreateVmOptions): Promise<GicVm>;
export async function createVm(options: CreateVmOptions = {}): Promise<Vm | GicVm> {
  if (options.gic === false) {
    const vm = await Vm.create(options);
    if (options.schedule !== undefined) await vm.beginSchedule();
    return vm;
  }
  const gicOptions = options.gic ?? {};
  if (gicOptions === null || typeof gicOptions !== 'object') throw new TypeError('options.gic must be an object or false');
  const setup = gicSetup(options.vcpus ?? 1, gicOptions);
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
