import { describe, expect, it } from 'vitest';
import * as u from '../dist/src/uapi/index.js';

describe('uapi/kvm: device-attribute constants', () => {
  it('matches the spec / mainline uapi values', () => {
    expect(u.KVM_DEV_ARM_VGIC_GRP_ADDR).toBe(0);
    expect(u.KVM_DEV_ARM_VGIC_GRP_DIST_REGS).toBe(1);
    expect(u.KVM_DEV_ARM_VGIC_GRP_CTRL).toBe(4);
    expect(u.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS).toBe(5);
    expect(u.KVM_DEV_ARM_VGIC_GRP_ITS_REGS).toBe(8);
    expect(u.KVM_VGIC_V3_ADDR_TYPE_DIST).toBe(2);
    expect(u.KVM_VGIC_V3_ADDR_TYPE_REDIST).toBe(3);
    expect(u.KVM_VGIC_ITS_ADDR_TYPE).toBe(4);
    expect(u.KVM_DEV_ARM_VGIC_CTRL_INIT).toBe(0);
    expect(u.KVM_DEV_ARM_ITS_SAVE_TABLES).toBe(1);
    expect(u.KVM_DEV_ARM_ITS_RESTORE_TABLES).toBe(2);
    expect(u.KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES).toBe(3);
    expect(u.KVM_DEV_ARM_ITS_CTRL_RESET).toBe(4);
    expect(u.KVM_MSI_VALID_DEVID).toBe(1);
    expect(u.SZ_64K).toBe(0x10000);
    expect(u.KVM_VGIC_V3_ITS_SIZE).toBe(0x20000);
    expect(u.VGIC_ADDR_UNDEF).toBe(0xffffffffffffffffn);
    expect(u.KVM_DEV_TYPE_ARM_VGIC_V3).toBe(7);
    expect(u.KVM_DEV_TYPE_ARM_VGIC_ITS).toBe(8);
    expect(u.KVM_DEVICE_TYPE_NAMES[u.KVM_DEV_TYPE_ARM_VGIC_ITS]).toBe('kvm-arm-vgic-its');
    expect(u.KVM_DEVICE_TYPE_NAMES[u.KVM_DEV_TYPE_ARM_VGIC_V3]).toBe('kvm-arm-vgic-v3');
  });

  it('builds kvm_msi doorbells above 4 GiB', () => {
    const msi = u.makeKvmMsi(0x8_0801_0040, 0xffffffff, 0xffff);
    expect(msi).toEqual({ address_lo: 0x0801_0040, address_hi: 8, data: 0xffff, flags: 1, devid: 0xffffffff });
    expect(u.kvmMsiAddress(msi)).toBe(0x8_0801_0040);
  });

  it('re-exports errno', () => {
    expect(u.EBUSY).toBe(16);
    expect(u.errnoName(-u.EEXIST)).toBe('-EEXIST');
  });
});
