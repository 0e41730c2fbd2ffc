/**
 * Sizing, allocation and programming of one ITS table through GITS_BASER<n>,
 * the way a guest driver does it: the BASER read first gives Type and
 * EntrySize; try 64 KiB pages and follow PageSize if it reads back different;
 * a two-level device table (Indirect=1, one L1 page, 64 KiB L2 pages added on
 * demand by the ITS driver) falls back to flat if Indirect does not stick;
 * flat device tables are capped to what BASER.Size (256 pages) can describe.
 * Mirrors its_setup_baser / its_parse_indirect_baser of Linux irq-gic-v3-its.c.
 */
import type { Guest } from '../kvm/guest-api.js';
import { EFAULT, EINVAL } from '../uapi/errno.js';
import {
  GITS_BASER_PAGE_SIZE_16K, GITS_BASER_PAGE_SIZE_4K, GITS_BASER_PAGE_SIZE_64K, GITS_BASER_TYPE_DEVICE, gitsBaserAddress,
  gitsBaserEntrySize, gitsBaserIndirect, gitsBaserPageSize, gitsBaserSize, gitsBaserType, gitsBaserValid, makeGitsBaser,
} from '../uapi/gic-fields.js';
import { gitsBaserOffset } from '../uapi/gits.js';
import type { GpaAllocator } from './alloc.js';
import { fillGuest, hex } from './driver-util.js';
import type { FailFn } from './its-queue.js';

const SZ_64K = 0x1_0000;
const MAX_BASER_PAGES = 256;
const PAGE_SIZE_FIELD: Readonly<Record<number, bigint>> = {
  0x1000: GITS_BASER_PAGE_SIZE_4K, 0x4000: GITS_BASER_PAGE_SIZE_16K, [SZ_64K]: GITS_BASER_PAGE_SIZE_64K,
};

/** A table programmed through a GITS_BASER<n>. */
export interface ItsTableInfo {
  /** Which GITS_BASER<n> (0..7). */
  baser: number;
  /** GITS_BASER.Type: 1 Device, 4 Collection. */
  type: number;
  /** Table (flat) or level-1 table (indirect) GPA, 64 KiB aligned, and its size in bytes. */
  gpa: number;
  /** Size in bytes of that table. */
  bytes: number;
  /** Bytes per entry (GITS_BASER.Entry_Size + 1). */
  entrySize: number;
  /** Page size programmed (4, 16 or 64 KiB). */
  pageSize: number;
  /** Two-level table (Indirect = 1). */
  indirect: boolean;
  /** IDs the table can hold. */
  ids: number;
  /** The BASER as read back. */
  value: bigint;
}

export interface BaserRequest {
  itsBase: number;
  n: number;
  /** BASER<n> as read before programming (Type, EntrySize). */
  initial: bigint;
  where: string;
  twoLevel: boolean;
  /** DeviceID bits to cover (already capped by GITS_TYPER.Devbits). */
  deviceIdBits: number;
  cidBits: number;
  collectionTableBytes: number;
}

/** Program BASER<n> for a Device or Collection table: the table info, or a negative errno. */
export function setupItsBaser(guest: Guest, alloc: GpaAllocator, q: BaserRequest, fail: FailFn): ItsTableInfo | number {
  const type = gitsBaserType(q.initial);
  const esz = gitsBaserEntrySize(q.initial);
  const isDev = type === GITS_BASER_TYPE_DEVICE;
  const reg = q.itsBase + gitsBaserOffset(q.n);
  let psz = SZ_64K;
  let indirect = isDev && q.twoLevel;
  let ids = q.deviceIdBits;
  let gpa = -1;
  let have = 0;
  for (let attempt = 0; attempt < 4; attempt++) {
    if (indirect && psz !== SZ_64K) indirect = false; // L1 entries here encode 64 KiB L2 pages only
    let bytes: number;
    let nIds: number;
    if (!isDev) {
      bytes = q.collectionTableBytes;
      nIds = Math.min(Math.floor(bytes / esz), 2 ** q.cidBits);
    } else if (indirect) {
      nIds = 2 ** ids;
      bytes = Math.ceil(nIds / (psz / esz)) * 8;
    } else {
      while (Math.ceil((2 ** ids * esz) / psz) > MAX_BASER_PAGES && ids > 1) ids--;
      nIds = 2 ** ids;
      bytes = nIds * esz;
    }
    const pages = Math.min(MAX_BASER_PAGES, Math.max(1, Math.ceil(bytes / psz)));
    const tableBytes = pages * psz;
    if (tableBytes > have) {
      gpa = alloc.alloc(tableBytes, SZ_64K);
      if (gpa < 0) return fail(gpa, q.where, `cannot allocate ${tableBytes} bytes`);
      have = tableBytes;
    }
    if (fillGuest(guest, gpa, tableBytes) !== 0) return fail(-EFAULT, q.where, `${hex(gpa)} is not guest RAM`);
    const want = makeGitsBaser({
      valid: true, indirect, type, entrySize: esz, address: gpa, size: pages - 1, pageSize: PAGE_SIZE_FIELD[psz]!,
    });
    guest.mmioWrite64(reg, want);
    const back = guest.mmioRead64(reg);
    if (gitsBaserPageSize(back) !== psz) {
      psz = gitsBaserPageSize(back);
      continue;
    }
    if (indirect && !gitsBaserIndirect(back)) {
      indirect = false;
      continue;
    }
    if (!gitsBaserValid(back) || gitsBaserAddress(back) !== gpa || gitsBaserSize(back) !== pages - 1
      || gitsBaserType(back) !== type || gitsBaserEntrySize(back) !== esz || gitsBaserIndirect(back) !== indirect) {
      return fail(-EINVAL, q.where, `wrote ${hex(want)}, read back ${hex(back)}`);
    }
    return { baser: q.n, type, gpa, bytes: tableBytes, entrySize: esz, pageSize: psz, indirect, ids: nIds, value: back };
  }
  return fail(-EINVAL, q.where, 'PageSize/Indirect never settled');
}
