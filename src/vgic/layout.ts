/**
 * Where the vGIC sits in guest-physical space by default (QEMU virt-like,
 * below RAM at 0x4000_0000), and the shared handle every thread gets under
 * VmShared.devices[VGIC_DEVICE_KEY].
 */
import { KVM_VGIC_V3_ITS_SIZE } from '../uapi/kvm.js';
import type { LockProtocol } from './lock-protocol.js';

export const VGIC_DEVICE_KEY = 'arm-vgic-v3';

export const GICD_BASE = 0x0800_0000;
export const GICD_SIZE = 0x1_0000;
/** Redistributor n (RD_base + SGI_base frames) at GICR_BASE + n * GICR_STRIDE. */
export const GICR_BASE = 0x080a_0000;
export const GICR_STRIDE = 0x2_0000;
/** ITS n at ITS_BASE + n * KVM_VGIC_V3_ITS_SIZE (after room for 256 redistributors). */
export const ITS_BASE = 0x0c00_0000;

/** Where createVm puts ITS `n`'s frames (GRP_ADDR) by default; an MSI's doorbell is any address inside them. */
export function defaultItsBase(n: number): number {
  return ITS_BASE + n * KVM_VGIC_V3_ITS_SIZE;
}

/** Bus region kinds (IoRegion.kind). */
export const IODEV_KIND_DIST = 1, IODEV_KIND_REDIST = 2, IODEV_KIND_ITS = 3;

/** When an ITS frame starts decoding: at GRP_ADDR (KVM >= v4.12) or at map_resources (before). */
export type IodevRegistration = 'base-address' | 'first-run';

/** What every thread of a VM with a vGIC finds in VmShared.devices[VGIC_DEVICE_KEY]. */
export interface VgicShared {
  /** The VgicState buffer. */
  state: SharedArrayBuffer;
  iodevRegistration: IodevRegistration;
  /** Actor id of the distributor/redistributor actor. */
  distActor: number;
  /** MOVALL moves every LPI of the VM, not only those on RDbase1 (the [ITS-new] snapshot's behaviour). */
  movallAllLpis: boolean;
  /** Which locks the userspace-ioctl paths take, and in which order. */
  lockProtocol: LockProtocol;
  /** Negative tests only: the vCPU trylocks of the protocol become blocking locks (spec 7.5's ABBA). */
  blockingVcpuLocks: boolean;
}
