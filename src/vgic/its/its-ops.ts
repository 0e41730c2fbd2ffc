/** Mailbox ops the ITS actor serves besides MMIO (numbered from OP_DEVICE). */
import { OP_DEVICE } from '../../actors/protocol.js';

/** MSI slow path (vgic_its_inject_msi after the cache probe): args [devid, eventid] -> 1, 0 or -errno. */
export const OP_ITS_MSI = OP_DEVICE;
