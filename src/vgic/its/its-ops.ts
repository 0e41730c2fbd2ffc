/** Mailbox ops the ITS actor serves besides MMIO (numbered from OP_DEVICE). */
import { OP_DEVICE } from '../../actors/protocol.js';

/** MSI slow path (vgic_its_inject_msi after the cache probe): args [devid, eventid] -> 1, 0 or -errno. */
export const OP_ITS_MSI = OP_DEVICE;

/**
 * Counters of the ITS (inspection, for tests and the demo): no args ->
 * result 0, values ITS_STAT_* below. Takes no lock (the actor owns the state).
 */
export const OP_ITS_STATS = OP_DEVICE + 1;
export const ITS_STAT_PROCESSED = 0, ITS_STAT_UNREADABLE = 1, ITS_STAT_FAILED = 2, ITS_STAT_MSI_DELIVERED = 3,
  ITS_STAT_MSI_BLOCKED = 4, ITS_STAT_MSI_BUSY = 5, ITS_STAT_DEVICES = 6, ITS_STAT_COLLECTIONS = 7, ITS_STAT_ITES = 8,
  ITS_STAT_ENABLED = 9, ITS_STAT_CREADR = 10, ITS_STAT_CWRITER = 11;
export const ITS_STAT_VALUES = 12;

/**
 * How often a command returned a given handler result: args [opcode, result]
 * (opcode -1: any command; result 0, an E_ITS_* code or -errno) -> the count.
 */
export const OP_ITS_RESULT_COUNT = OP_DEVICE + 2;
/** GRP_CTRL on the ITS under the VM's lock protocol: args [attr] -> 0 or -errno. */
export const OP_ITS_CTRL = OP_DEVICE + 3;
/** GRP_ITS_REGS under the lock protocol: args [write, offset, lo, hi, baseSet] -> ret, values [lo, hi]. */
export const OP_ITS_UACCESS = OP_DEVICE + 4;
/** SAVE_PENDING_TABLES on the distributor actor under the lock protocol: -> 0 or -errno. */
export const OP_DIST_SAVE_PENDING = OP_DEVICE + 8;
/** A copy of the ITS's registers and translation state, as bulk data: args [queryId] -> 0. */
export const OP_ITS_SNAPSHOT = OP_DEVICE + 5;
