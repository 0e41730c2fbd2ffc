/**
 * KVM device-attribute ABI for the arm64 vgic-v3 and vgic-its devices: group
 * and attribute numbers, address types, frame sizes, device types and the
 * KVM_SIGNAL_MSI argument. Mirrors arch/arm64/include/uapi/asm/kvm.h and
 * include/uapi/linux/kvm.h (values only).
 */

export const SZ_4K = 0x1000;
export const SZ_64K = 0x10000;

/** A base address that userspace has not set yet (all-ones u64). */
export const VGIC_ADDR_UNDEF = 0xffff_ffff_ffff_ffffn;

// struct kvm_device_attr.group for the vgic devices.
/** Attribute group: base addresses (attr: an address type such as KVM_VGIC_ITS_ADDR_TYPE). */
export const KVM_DEV_ARM_VGIC_GRP_ADDR = 0;
/** Attribute group: distributor registers (not modelled: -ENXIO). */
export const KVM_DEV_ARM_VGIC_GRP_DIST_REGS = 1;
/** Attribute group: CPU interface registers (not modelled: -ENXIO). */
export const KVM_DEV_ARM_VGIC_GRP_CPU_REGS = 2;
/** Attribute group: number of SPIs (not modelled: -ENXIO). */
export const KVM_DEV_ARM_VGIC_GRP_NR_IRQS = 3;
/** Attribute group: control (CTRL_INIT, SAVE_TABLES, RESTORE_TABLES, CTRL_RESET, SAVE_PENDING_TABLES). */
export const KVM_DEV_ARM_VGIC_GRP_CTRL = 4;
/** Not given by the spec; mainline uapi value. */
/** Attribute group: redistributor registers (mainline value; not modelled: -ENXIO). */
export const KVM_DEV_ARM_VGIC_GRP_REDIST_REGS = 5;
/** Attribute group: CPU interface system registers (not modelled: -ENXIO). */
export const KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS = 6;
/** Attribute group: line levels (not modelled: -ENXIO). */
export const KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO = 7;
/** Attribute group: ITS registers (attr: a GITS_* offset; the ITS device only). */
export const KVM_DEV_ARM_VGIC_GRP_ITS_REGS = 8;
/** Attribute group: maintenance interrupt (not modelled: -ENXIO). */
export const KVM_DEV_ARM_VGIC_GRP_MAINT_IRQ = 9;

/**
 * GRP_DIST_REGS / GRP_REDIST_REGS attributes carry the vCPU MPIDR in the upper
 * word and the register offset in the lower word.
 */
export const KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT = 32;
export const KVM_DEV_ARM_VGIC_V3_MPIDR_MASK = 0xffff_ffffn << 32n;
export const KVM_DEV_ARM_VGIC_OFFSET_MASK = 0xffff_ffff;

// GRP_ADDR attributes (address types).
export const KVM_VGIC_V2_ADDR_TYPE_DIST = 0;
export const KVM_VGIC_V2_ADDR_TYPE_CPU = 1;
/** GRP_ADDR attribute of the vgic-v3 device: the distributor's base. */
export const KVM_VGIC_V3_ADDR_TYPE_DIST = 2;
/** GRP_ADDR attribute of the vgic-v3 device: the redistributors' base. */
export const KVM_VGIC_V3_ADDR_TYPE_REDIST = 3;
/** GRP_ADDR attribute of an ITS device: its base (64 KiB aligned; set once). */
export const KVM_VGIC_ITS_ADDR_TYPE = 4;
/** GRP_ADDR attribute of the vgic-v3 device: a redistributor region. */
export const KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION = 5;

// GRP_CTRL attributes. SAVE_PENDING_TABLES is an attribute of the vgic-v3
// device, not of the ITS, although it shares the number space.
/** GRP_CTRL: initialise the device (a no-op on an ITS since v4.12). */
export const KVM_DEV_ARM_VGIC_CTRL_INIT = 0;
/** GRP_CTRL of an ITS: write its device, collection and ITT tables to guest RAM. */
export const KVM_DEV_ARM_ITS_SAVE_TABLES = 1;
/** GRP_CTRL of an ITS: rebuild its mappings from the tables in guest RAM. */
export const KVM_DEV_ARM_ITS_RESTORE_TABLES = 2;
/** GRP_CTRL of the vgic-v3 device: write every LPI's pending bit to the pending tables. */
export const KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES = 3;
/** GRP_CTRL of an ITS: reset it (registers, queue, mappings). */
export const KVM_DEV_ARM_ITS_CTRL_RESET = 4;

// MMIO frame sizes.
/** Size of the distributor frame. */
export const KVM_VGIC_V3_DIST_SIZE = SZ_64K;
/** RD_base + SGI_base frames. */
export const KVM_VGIC_V3_REDIST_SIZE = 2 * SZ_64K;
/** Control frame + translation (doorbell) frame. */
export const KVM_VGIC_V3_ITS_SIZE = 2 * SZ_64K;

/**
 * Default guest IPA width when the VM type does not request one (mainline
 * default, not from the spec). GRP_ADDR rejects frames beyond it with -E2BIG.
 */
export const KVM_PHYS_SHIFT = 40;

/** struct kvm_msi.flags: `devid` is meaningful. Required by the vgic ITS. */
export const KVM_MSI_VALID_DEVID = 1;

// enum kvm_device_type (subset).
export const KVM_DEV_TYPE_ARM_VGIC_V2 = 5;
/** KVM_CREATE_DEVICE type of the vgic-v3 device. */
export const KVM_DEV_TYPE_ARM_VGIC_V3 = 7;
/** KVM_CREATE_DEVICE type of an ITS device. */
export const KVM_DEV_TYPE_ARM_VGIC_ITS = 8;

/** struct kvm_device_ops.name of the devices, as listed in /proc or traces. */
export const KVM_DEV_NAME_ARM_VGIC_V3 = 'kvm-arm-vgic-v3';
export const KVM_DEV_NAME_ARM_VGIC_ITS = 'kvm-arm-vgic-its';

export const KVM_DEVICE_TYPE_NAMES: Readonly<Record<number, string>> = {
  [KVM_DEV_TYPE_ARM_VGIC_V2]: 'kvm-arm-vgic-v2',
  [KVM_DEV_TYPE_ARM_VGIC_V3]: KVM_DEV_NAME_ARM_VGIC_V3,
  [KVM_DEV_TYPE_ARM_VGIC_ITS]: KVM_DEV_NAME_ARM_VGIC_ITS,
};

/** struct kvm_msi (KVM_SIGNAL_MSI argument); doorbell = address_hi:address_lo. */
export interface KvmMsi {
  address_lo: number;
  address_hi: number;
  data: number;
  flags: number;
  devid: number;
}

/** Guest-physical doorbell address of a kvm_msi, as a number (< 2^53). */
export function kvmMsiAddress(msi: Pick<KvmMsi, 'address_lo' | 'address_hi'>): number {
  return (msi.address_hi >>> 0) * 0x1_0000_0000 + (msi.address_lo >>> 0);
}

/** Build a kvm_msi aimed at `doorbell` (GPA) with DeviceID/EventID. */
export function makeKvmMsi(doorbell: number, devid: number, eventId: number,
  flags: number = KVM_MSI_VALID_DEVID): KvmMsi {
  return {
    address_lo: doorbell % 0x1_0000_0000 >>> 0,
    address_hi: Math.floor(doorbell / 0x1_0000_0000) >>> 0,
    data: eventId >>> 0,
    flags,
    devid: devid >>> 0,
  };
}
