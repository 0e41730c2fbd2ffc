/**
 * Where an ID lives in the guest's ITS tables, and whether KVM would accept
 * it: the check_id and check_event_id helpers of spec 2.3. Both only compute
 * and probe guest memory; neither changes any state. Every input is
 * guest-controlled, so nothing here throws: a bad ID, a bad table or an
 * address outside RAM is simply "no slot" (-1).
 */
import type { GuestMemory } from '../../mem/guest-memory.js';
import { gitsBaserEntrySize } from '../../uapi/gic-fields.js';
import { ABI_0_ESZ, itsTableLookup, KVM_ITS_L1E_ADDR_MASK, KVM_ITS_L1E_VALID_MASK } from '../../uapi/its-abi.js';

/** What check_id needs to know about a device to validate an EventID. */
export interface ItsIttGeometry {
  /** 256-byte aligned ITT GPA (not validated at MAPD time). */
  readonly ittAddr: number;
  /** EventID bits (Size + 1 of the MAPD that created the device), 1..16. */
  readonly eventIdBits: number;
}

/**
 * vgic_its_check_id: the GPA of `id`'s entry in the table described by
 * `baser` (BASER0 = device table, flat or two-level; BASER1 = collection
 * table, always flat), or -1 if the ID cannot be stored there:
 *   - the ID exceeds the 16-bit DeviceID / collection ID space, or the BASER
 *     has another type;
 *   - flat: the ID is beyond the table; two-level: the level-1 index is beyond
 *     the table, the level-1 entry is unreadable or has Valid = 0;
 *   - the final entry lies outside every memslot.
 * BASER.Valid is deliberately not looked at (KVM does not either).
 */
export function itsCheckId(mem: GuestMemory, baser: bigint, id: number): number {
  if (!Number.isInteger(id) || id < 0) return -1;
  const lookup = itsTableLookup(baser, id, gitsBaserEntrySize(baser));
  if (!lookup.ok) return -1;
  let gpa: number;
  if (!lookup.indirect) {
    gpa = lookup.entryGpa;
  } else {
    const l1 = mem.read64(lookup.l1Gpa);
    // read64 reports a fault as a negative value; entries are unsigned.
    if (l1 < 0n || (l1 & KVM_ITS_L1E_VALID_MASK) === 0n) return -1;
    gpa = Number(l1 & KVM_ITS_L1E_ADDR_MASK) + lookup.l2Offset;
  }
  return mem.isVisible(gpa, 1) ? gpa : -1;
}

/**
 * vgic_its_check_event_id (today's version): the GPA of `eventId`'s ITT slot
 * of device `dev`, or -1 if the EventID is beyond the device's EventID range
 * or the slot is outside every memslot. (Older kernels only did the range
 * test.)
 */
export function itsCheckEventId(mem: GuestMemory, dev: ItsIttGeometry, eventId: number,
  iteEsz: number = ABI_0_ESZ): number {
  if (!Number.isInteger(eventId) || eventId < 0 || eventId >= 2 ** dev.eventIdBits) return -1;
  const gpa = dev.ittAddr + eventId * iteEsz;
  return mem.isVisible(gpa, 1) ? gpa : -1;
}
