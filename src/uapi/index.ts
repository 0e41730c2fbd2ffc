/**
 * Kernel-ABI facts for the vgic-its model: errno values, KVM device-attribute
 * constants, GITS/GICR register layouts, ITS command encoding and the ITS
 * save/restore ABI. Pure data and pure functions only (no threads, no I/O).
 */
export * from './errno.js';
export * from './kvm.js';
export * from './gits.js';
export * from './gic-fields.js';
export * from './its-cmd.js';
export * from './its-abi.js';
