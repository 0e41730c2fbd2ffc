/**
 * Userspace access to the ITS registers: KVM_DEV_ARM_VGIC_GRP_ITS_REGS
 * (spec 6.3), vgic_its_attr_regs_access after its locking, and has_attr.
 *
 * Read and write are called by its-ioctl.ts after it has checked the offset
 * alignment, taken kvm.lock, trylocked every vcpu.mutex, taken config_lock
 * and checked that the ITS base is set. Neither cmd_lock nor its_lock is
 * held: the register handlers take them as a guest access does (CTLR, CBASER,
 * CWRITER: cmd_lock; BASER Valid=0: its_lock), and the userspace CREADR
 * handler takes cmd_lock.
 */
import type { Mutex } from '../../sync/mutex.js';
import { EBUSY, EINVAL, ENXIO, EOWNERDEAD } from '../../uapi/errno.js';
import { itsCmdBufferSize, itsCmdOffset } from '../../uapi/gic-fields.js';
import {
  GITS_CREADR, GITS_IIDR, gitsIidrRevision, gitsRegionAt, itsUaccessLength, itsUaccessOffsetAligned,
} from '../../uapi/gits.js';
import { NR_ITS_ABIS } from '../../uapi/its-abi.js';

/** What the userspace accessors need from an ITS (the Its class provides it). */
export interface ItsUaccessHost {
  readonly cmdLock: Mutex;
  readonly enabled: boolean;
  readonly cbaser: bigint;
  mmioRead(offset: number, size: number): bigint;
  mmioWrite(offset: number, size: number, value: bigint): void;
  /** Store CREADR. Called with cmd_lock held, after the checks below. */
  setCreadr(offset: number): void;
  /** vgic_its_set_abi: select the revision and commit its BASER entry sizes; 0 or -errno. */
  setAbi(rev: number): number;
}

function offsetOk(offset: number): boolean {
  return Number.isSafeInteger(offset) && offset >= 0 && itsUaccessOffsetAligned(offset);
}

/**
 * has_attr for GRP_ITS_REGS (vgic_its_has_attr_regs): -EINVAL for a
 * misaligned offset, -ENXIO where no register is, else 0. No locks.
 */
export function itsUaccessHas(offset: number): number {
  if (!offsetOk(offset)) return -EINVAL;
  return gitsRegionAt(offset) === undefined ? -ENXIO : 0;
}

/**
 * A userspace read (locks: see the header): the value a guest read of the
 * register's full width (8 bytes for registers with 64-bit access, else 4)
 * returns. -ENXIO where no register is (GITS_MPIDR, holes, GITS_TRANSLATER).
 */
export function itsUaccessRead(its: ItsUaccessHost, offset: number): { ret: number; value: bigint } {
  if (!offsetOk(offset)) return { ret: -EINVAL, value: 0n }; // its-ioctl checks first; kept for direct callers
  const region = gitsRegionAt(offset);
  if (region === undefined) return { ret: -ENXIO, value: 0n };
  return { ret: 0, value: its.mmioRead(offset, itsUaccessLength(region)) };
}

/**
 * A userspace write (locks: see the header): 0 or -errno. Registers with a
 * userspace handler: GITS_IIDR (Revision >= NR_ITS_ABIS -> -EINVAL, else
 * select that ABI) and GITS_CREADR (under cmd_lock: -EBUSY while enabled,
 * -EINVAL for an offset beyond the queue, else CREADR := offset). TYPER and
 * the ID registers accept and ignore the write. Every other register behaves
 * exactly as a guest store of the register's width: CTLR enabling drains the
 * queue from CREADR to CWRITER (spec 9.29), CBASER resets CREADR/CWRITER,
 * CWRITER runs the queue if enabled, BASER Valid=0 frees mappings, and
 * writes the guest could not make take effect (e.g. CBASER or BASER while
 * enabled) are ignored and still return 0.
 */
export function itsUaccessWrite(its: ItsUaccessHost, offset: number, value: bigint): number {
  if (!offsetOk(offset)) return -EINVAL;
  const region = gitsRegionAt(offset);
  if (region === undefined) return -ENXIO;
  const len = itsUaccessLength(region);
  const v = BigInt.asUintN(len * 8, value);
  switch (region.uaccessWrite) {
    case 'uaccess':
      if (region.offset === GITS_IIDR) return writeIidr(its, v);
      if (region.offset === GITS_CREADR) return writeCreadr(its, v);
      return 0; // unreachable: the table has no other userspace-specific handler
    case 'wi':
      return 0;
    case 'guest':
      its.mmioWrite(offset, len, v);
      return 0;
  }
}

/** vgic_mmio_uaccess_write_its_iidr: only the Revision field matters. */
function writeIidr(its: ItsUaccessHost, v: bigint): number {
  const rev = gitsIidrRevision(v);
  if (rev >= NR_ITS_ABIS) return -EINVAL;
  return its.setAbi(rev);
}

/** vgic_mmio_uaccess_write_its_creadr, under cmd_lock. */
function writeCreadr(its: ItsUaccessHost, v: bigint): number {
  const r = its.cmdLock.lock();
  if (r !== 0 && r !== -EOWNERDEAD) throw new Error(`ITS: acquiring cmd_lock failed (${r})`);
  try {
    if (its.enabled) return -EBUSY;
    const off = itsCmdOffset(v);
    if (off >= itsCmdBufferSize(its.cbaser)) return -EINVAL;
    its.setCreadr(off);
    return 0;
  } finally {
    its.cmdLock.unlock();
  }
}
