/**
 * Operation names: what a thread is doing when it takes a lock (the ioctl,
 * the trapped register access, the VMM call), so a lock-order finding can
 * say "in CWRITER write" rather than only "on the ITS actor". A STATIC table:
 * an operation is a small number, the same in every thread and every run (no
 * interning at run time), stored in the thread's T_OP word of the arena
 * (ThreadContext.setOperation) and copied into each edge's provenance.
 *
 * Who sets what: the vCPU runs KVM_RUN (and MMIO read/write around a trapped
 * access); the ITS actor names each request it serves (by register, by
 * attribute); the distributor actor SAVE_PENDING_TABLES; signalMsi names the
 * calling thread; the VMM names pause, lockAllVcpus and the ITS attribute
 * calls. The actor host clears the word after each message.
 */
import {
  KVM_DEV_ARM_ITS_CTRL_RESET, KVM_DEV_ARM_ITS_RESTORE_TABLES, KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_VGIC_GRP_ADDR,
  KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_GRP_ITS_REGS,
} from '../uapi/kvm.js';
import { GITS_BASER, GITS_CBASER, GITS_CTLR, GITS_CWRITER } from '../uapi/gits.js';

/** Every operation name, by id. Append only: ids are stable across versions of the reports. */
export const OPERATIONS = [
  'none',
  'KVM_RUN',
  'MMIO read',
  'MMIO write',
  'GITS_CTLR read',
  'GITS_CTLR write',
  'GITS_CBASER write',
  'CWRITER write',
  'GITS_BASER write',
  'signalMsi',
  'MSI translate',
  'SAVE_TABLES',
  'RESTORE_TABLES',
  'CTRL_RESET',
  'ITS regs uaccess',
  'SAVE_PENDING_TABLES',
  'pause',
  'lockAllVcpus',
  'ITS GRP_ADDR',
  'ITS GRP_CTRL',
] as const;

/** An operation name, as findings and edges report it (`Finding.operation`). */
export type OperationName = (typeof OPERATIONS)[number];

export const OPN_NONE = 0, OPN_KVM_RUN = 1, OPN_MMIO_READ = 2, OPN_MMIO_WRITE = 3, OPN_GITS_CTLR_READ = 4,
  OPN_GITS_CTLR_WRITE = 5, OPN_GITS_CBASER_WRITE = 6, OPN_CWRITER_WRITE = 7, OPN_GITS_BASER_WRITE = 8,
  OPN_SIGNAL_MSI = 9, OPN_MSI_TRANSLATE = 10, OPN_SAVE_TABLES = 11, OPN_RESTORE_TABLES = 12, OPN_CTRL_RESET = 13,
  OPN_ITS_REGS_UACCESS = 14, OPN_SAVE_PENDING_TABLES = 15, OPN_PAUSE = 16, OPN_LOCK_ALL_VCPUS = 17,
  OPN_ITS_GRP_ADDR = 18, OPN_ITS_GRP_CTRL = 19;

/** The name of operation `id` ('op <id>' for an id not in the table, e.g. from a newer writer). */
export function operationName(id: number): string {
  return OPERATIONS[id] ?? `op ${id}`;
}

/** The id of an operation name (-1 if unknown). */
export function operationId(name: string): number {
  return (OPERATIONS as readonly string[]).indexOf(name);
}

/** A guest access to the ITS control frame, by register (accesses that take no lock stay 'MMIO read/write'). */
export function gitsMmioOperation(write: boolean, offset: number): number {
  const reg = offset & ~7; // either half of a 64-bit register
  if (offset === GITS_CTLR) return write ? OPN_GITS_CTLR_WRITE : OPN_GITS_CTLR_READ;
  if (!write) return OPN_MMIO_READ;
  if (reg === GITS_CWRITER) return OPN_CWRITER_WRITE;
  if (reg === GITS_CBASER) return OPN_GITS_CBASER_WRITE;
  if (reg >= GITS_BASER && reg < GITS_BASER + 0x40) return OPN_GITS_BASER_WRITE;
  return OPN_MMIO_WRITE;
}

/** An ITS GRP_CTRL attribute (vgic_its_ctrl). */
export function itsCtrlOperation(attr: number): number {
  if (attr === KVM_DEV_ARM_ITS_SAVE_TABLES) return OPN_SAVE_TABLES;
  if (attr === KVM_DEV_ARM_ITS_RESTORE_TABLES) return OPN_RESTORE_TABLES;
  if (attr === KVM_DEV_ARM_ITS_CTRL_RESET) return OPN_CTRL_RESET;
  return OPN_ITS_GRP_CTRL;
}

/** An ITS device-attribute call (KVM_{SET,GET}_DEVICE_ATTR on the VMM), by group and attribute. */
export function itsAttrOperation(group: number, attr: number): number {
  if (group === KVM_DEV_ARM_VGIC_GRP_CTRL) return itsCtrlOperation(attr);
  if (group === KVM_DEV_ARM_VGIC_GRP_ITS_REGS) return OPN_ITS_REGS_UACCESS;
  return group === KVM_DEV_ARM_VGIC_GRP_ADDR ? OPN_ITS_GRP_ADDR : OPN_NONE;
}

/** What asyncOperation needs of a thread context. */
interface OperationHolder {
  setOperation(op: number): number;
  readonly operation: number;
}

/**
 * Run an async VMM operation as `op` on the main thread. The main thread
 * interleaves async operations on one word, so there is no stack to restore:
 * the word is set when the operation starts and again by the operation after
 * each await that precedes a lock (see Vm.lockAllVcpus); at the end it is
 * cleared only if it still names `op`, so an operation that has ended never
 * names a later lock; overlapping operations can leave one unnamed ('none')
 * or named after the other, still running, operation.
 */
export async function asyncOperation<T>(t: OperationHolder, op: number, fn: () => Promise<T>): Promise<T> {
  t.setOperation(op);
  try {
    return await fn();
  } finally {
    if (t.operation === op) t.setOperation(OPN_NONE);
  }
}
