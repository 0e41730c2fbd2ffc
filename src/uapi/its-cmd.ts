/**
 * ITS command queue entries: opcodes, E_ITS_* error codes, and decode/encode
 * of the 32-byte little-endian commands with KVM's field extraction (spec 2.1).
 * Mirrors the GITS_CMD_* and E_ITS_* definitions of include/linux/irqchip/
 * arm-gic-v3.h and the its_cmd_get_* accessors of vgic-its.c.
 */

export const ITS_CMD_BYTES = 32;

export const GITS_CMD_MOVI = 0x01;
export const GITS_CMD_INT = 0x03;
export const GITS_CMD_CLEAR = 0x04;
export const GITS_CMD_SYNC = 0x05;
export const GITS_CMD_MAPD = 0x08;
export const GITS_CMD_MAPC = 0x09;
export const GITS_CMD_MAPTI = 0x0a;
export const GITS_CMD_MAPI = 0x0b;
export const GITS_CMD_INV = 0x0c;
export const GITS_CMD_INVALL = 0x0d;
export const GITS_CMD_MOVALL = 0x0e;
export const GITS_CMD_DISCARD = 0x0f;
// GICv4 opcodes: known to the architecture, unknown to KVM's ITS (no GITS_TYPER.Virtual).
export const GITS_CMD_VMOVI = 0x21;
export const GITS_CMD_VMOVP = 0x22;
export const GITS_CMD_VSGI = 0x23;
export const GITS_CMD_VSYNC = 0x25;
export const GITS_CMD_VMAPP = 0x29;
export const GITS_CMD_VMAPTI = 0x2a;
export const GITS_CMD_VINVALL = 0x2d;
export const GITS_CMD_INVDB = 0x2e;

export const GITS_CMD_NAMES: Readonly<Record<number, string>> = {
  [GITS_CMD_MOVI]: 'MOVI', [GITS_CMD_INT]: 'INT', [GITS_CMD_CLEAR]: 'CLEAR', [GITS_CMD_SYNC]: 'SYNC',
  [GITS_CMD_MAPD]: 'MAPD', [GITS_CMD_MAPC]: 'MAPC', [GITS_CMD_MAPTI]: 'MAPTI', [GITS_CMD_MAPI]: 'MAPI',
  [GITS_CMD_INV]: 'INV', [GITS_CMD_INVALL]: 'INVALL', [GITS_CMD_MOVALL]: 'MOVALL',
  [GITS_CMD_DISCARD]: 'DISCARD',
  [GITS_CMD_VMOVI]: 'VMOVI', [GITS_CMD_VMOVP]: 'VMOVP', [GITS_CMD_VSGI]: 'VSGI', [GITS_CMD_VSYNC]: 'VSYNC',
  [GITS_CMD_VMAPP]: 'VMAPP', [GITS_CMD_VMAPTI]: 'VMAPTI', [GITS_CMD_VINVALL]: 'VINVALL',
  [GITS_CMD_INVDB]: 'INVDB',
};

/** The GICv4 opcodes, which KVM dispatches like any unknown opcode (-ENODEV). */
export const GITS_CMD_GICV4_OPCODES: readonly number[] = Object.freeze([
  GITS_CMD_VMOVI, GITS_CMD_VMOVP, GITS_CMD_VSGI, GITS_CMD_VSYNC,
  GITS_CMD_VMAPP, GITS_CMD_VMAPTI, GITS_CMD_VINVALL, GITS_CMD_INVDB,
]);

/** Mnemonic of an opcode, or a hex string for undefined ones. */
export function itsCmdName(opcode: number): string {
  return GITS_CMD_NAMES[opcode] ?? `0x${opcode.toString(16).padStart(2, '0')}`;
}

// Architected command errors; handlers return them as positive numbers.
export const E_ITS_MOVI_UNMAPPED_INTERRUPT = 0x010107;
export const E_ITS_MOVI_UNMAPPED_COLLECTION = 0x010109;
export const E_ITS_INT_UNMAPPED_INTERRUPT = 0x010307;
export const E_ITS_CLEAR_UNMAPPED_INTERRUPT = 0x010507;
export const E_ITS_MAPD_DEVICE_OOR = 0x010801;
export const E_ITS_MAPD_ITTSIZE_OOR = 0x010802;
export const E_ITS_MAPC_PROCNUM_OOR = 0x010902;
export const E_ITS_MAPC_COLLECTION_OOR = 0x010903;
export const E_ITS_MAPTI_UNMAPPED_DEVICE = 0x010a04;
export const E_ITS_MAPTI_ID_OOR = 0x010a05;
export const E_ITS_MAPTI_PHYSICALID_OOR = 0x010a06;
export const E_ITS_INV_UNMAPPED_INTERRUPT = 0x010c07;
export const E_ITS_INVALL_UNMAPPED_COLLECTION = 0x010d09;
export const E_ITS_MOVALL_PROCNUM_OOR = 0x010e01;
export const E_ITS_DISCARD_UNMAPPED_INTERRUPT = 0x010f07;

const E_ITS_NAMES: Readonly<Record<number, string>> = {
  [E_ITS_MOVI_UNMAPPED_INTERRUPT]: 'E_ITS_MOVI_UNMAPPED_INTERRUPT',
  [E_ITS_MOVI_UNMAPPED_COLLECTION]: 'E_ITS_MOVI_UNMAPPED_COLLECTION',
  [E_ITS_INT_UNMAPPED_INTERRUPT]: 'E_ITS_INT_UNMAPPED_INTERRUPT',
  [E_ITS_CLEAR_UNMAPPED_INTERRUPT]: 'E_ITS_CLEAR_UNMAPPED_INTERRUPT',
  [E_ITS_MAPD_DEVICE_OOR]: 'E_ITS_MAPD_DEVICE_OOR',
  [E_ITS_MAPD_ITTSIZE_OOR]: 'E_ITS_MAPD_ITTSIZE_OOR',
  [E_ITS_MAPC_PROCNUM_OOR]: 'E_ITS_MAPC_PROCNUM_OOR',
  [E_ITS_MAPC_COLLECTION_OOR]: 'E_ITS_MAPC_COLLECTION_OOR',
  [E_ITS_MAPTI_UNMAPPED_DEVICE]: 'E_ITS_MAPTI_UNMAPPED_DEVICE',
  [E_ITS_MAPTI_ID_OOR]: 'E_ITS_MAPTI_ID_OOR',
  [E_ITS_MAPTI_PHYSICALID_OOR]: 'E_ITS_MAPTI_PHYSICALID_OOR',
  [E_ITS_INV_UNMAPPED_INTERRUPT]: 'E_ITS_INV_UNMAPPED_INTERRUPT',
  [E_ITS_INVALL_UNMAPPED_COLLECTION]: 'E_ITS_INVALL_UNMAPPED_COLLECTION',
  [E_ITS_MOVALL_PROCNUM_OOR]: 'E_ITS_MOVALL_PROCNUM_OOR',
  [E_ITS_DISCARD_UNMAPPED_INTERRUPT]: 'E_ITS_DISCARD_UNMAPPED_INTERRUPT',
};

/** Name of an E_ITS_* code, or undefined if `code` is not one. */
export function eItsName(code: number): string | undefined {
  return E_ITS_NAMES[code];
}

// ---------------------------------------------------------------------------
// Decoded commands. IDs are unsigned 32-bit numbers; ittAddr is a GPA (< 2^52).

export interface ItsCmdMapd { cmd: 'MAPD'; deviceId: number; /** EventID bits - 1 (5-bit field). */ size: number; ittAddr: number; valid: boolean }
export interface ItsCmdMapc { cmd: 'MAPC'; icid: number; /** vcpu id (PTA=0); DW2[47:16]. */ rdbase: number; valid: boolean }
export interface ItsCmdMapti { cmd: 'MAPTI'; deviceId: number; eventId: number; pintid: number; icid: number }
export interface ItsCmdMapi { cmd: 'MAPI'; deviceId: number; eventId: number; icid: number }
export interface ItsCmdMovi { cmd: 'MOVI'; deviceId: number; eventId: number; icid: number }
export interface ItsCmdDevEvent { cmd: 'DISCARD' | 'CLEAR' | 'INT' | 'INV'; deviceId: number; eventId: number }
export interface ItsCmdInvall { cmd: 'INVALL'; icid: number }
export interface ItsCmdMovall { cmd: 'MOVALL'; rdbase1: number; rdbase2: number }
export interface ItsCmdSync { cmd: 'SYNC'; rdbase: number }
/** Any other opcode, GICv4 ones included: KVM rejects them with -ENODEV. */
export interface ItsCmdUnknown { cmd: 'UNKNOWN'; opcode: number }

export type ItsCommand =
  | ItsCmdMapd | ItsCmdMapc | ItsCmdMapti | ItsCmdMapi | ItsCmdMovi | ItsCmdDevEvent
  | ItsCmdInvall | ItsCmdMovall | ItsCmdSync | ItsCmdUnknown;

export type ItsCommandName = ItsCommand['cmd'];

/** Four little-endian doublewords DW0..DW3. */
export type ItsCmdWords = readonly [bigint, bigint, bigint, bigint];

const TWO_POW_24 = 0x100_0000;
const TWO_POW_32 = 0x1_0000_0000;

// Field accessors on raw queue bytes, for handlers that want no allocation.
// `off` is the byte offset of the command (DW0) in the view.

export function itsCmdGetCommand(v: DataView, off: number): number {
  return v.getUint8(off);
}
export function itsCmdGetDeviceId(v: DataView, off: number): number {
  return v.getUint32(off + 4, true);
}
/** DW1[31:0]: EventID. */
export function itsCmdGetId(v: DataView, off: number): number {
  return v.getUint32(off + 8, true);
}
/** DW1[4:0]: MAPD Size. */
export function itsCmdGetSize(v: DataView, off: number): number {
  return v.getUint8(off + 8) & 0x1f;
}
/** DW1[63:32]: pINTID. */
export function itsCmdGetPhysicalId(v: DataView, off: number): number {
  return v.getUint32(off + 12, true);
}
/** DW2[15:0]: ICID. */
export function itsCmdGetCollection(v: DataView, off: number): number {
  return v.getUint16(off + 16, true);
}
/** DW2[51:8] kept in place: the ITT GPA. */
export function itsCmdGetIttAddr(v: DataView, off: number): number {
  return ittAddrFromHalves(v.getUint32(off + 16, true), v.getUint32(off + 20, true));
}
/** DW2[47:16] (KVM reads 32 bits of RDbase). */
export function itsCmdGetTargetAddr(v: DataView, off: number): number {
  return v.getUint32(off + 18, true);
}
/** DW2[63]. */
export function itsCmdGetValidBit(v: DataView, off: number): boolean {
  return (v.getUint8(off + 23) & 0x80) !== 0;
}
/** DW3[47:16]: MOVALL RDbase2. */
export function itsCmdGetTargetAddr2(v: DataView, off: number): number {
  return v.getUint32(off + 26, true);
}

function ittAddrFromHalves(lo2: number, hi2: number): number {
  return (hi2 & 0xfffff) * TWO_POW_32 + ((lo2 & 0xffffff00) >>> 0);
}

function decodeHalves(l0: number, h0: number, l1: number, h1: number, l2: number, h2: number,
  l3: number, h3: number): ItsCommand {
  const opcode = l0 & 0xff;
  switch (opcode) {
    case GITS_CMD_MAPD:
      return { cmd: 'MAPD', deviceId: h0, size: l1 & 0x1f, ittAddr: ittAddrFromHalves(l2, h2), valid: h2 >>> 31 === 1 };
    case GITS_CMD_MAPC:
      return { cmd: 'MAPC', icid: l2 & 0xffff, rdbase: ((l2 >>> 16) | ((h2 & 0xffff) << 16)) >>> 0, valid: h2 >>> 31 === 1 };
    case GITS_CMD_MAPTI:
      return { cmd: 'MAPTI', deviceId: h0, eventId: l1, pintid: h1, icid: l2 & 0xffff };
    case GITS_CMD_MAPI:
      return { cmd: 'MAPI', deviceId: h0, eventId: l1, icid: l2 & 0xffff };
    case GITS_CMD_MOVI:
      return { cmd: 'MOVI', deviceId: h0, eventId: l1, icid: l2 & 0xffff };
    case GITS_CMD_DISCARD:
      return { cmd: 'DISCARD', deviceId: h0, eventId: l1 };
    case GITS_CMD_CLEAR:
      return { cmd: 'CLEAR', deviceId: h0, eventId: l1 };
    case GITS_CMD_INT:
      return { cmd: 'INT', deviceId: h0, eventId: l1 };
    case GITS_CMD_INV:
      return { cmd: 'INV', deviceId: h0, eventId: l1 };
    case GITS_CMD_INVALL:
      return { cmd: 'INVALL', icid: l2 & 0xffff };
    case GITS_CMD_MOVALL:
      return {
        cmd: 'MOVALL',
        rdbase1: ((l2 >>> 16) | ((h2 & 0xffff) << 16)) >>> 0,
        rdbase2: ((l3 >>> 16) | ((h3 & 0xffff) << 16)) >>> 0,
      };
    case GITS_CMD_SYNC:
      return { cmd: 'SYNC', rdbase: ((l2 >>> 16) | ((h2 & 0xffff) << 16)) >>> 0 };
    default:
      return { cmd: 'UNKNOWN', opcode };
  }
}

/**
 * Decode one command: from 32 bytes of queue memory at `byteOffset` of a
 * DataView or Uint8Array, or from four doublewords. Fields not used by the
 * opcode are ignored, as KVM ignores them.
 */
export function decodeItsCommand(src: DataView | Uint8Array, byteOffset?: number): ItsCommand;
export function decodeItsCommand(words: ItsCmdWords): ItsCommand;
export function decodeItsCommand(src: DataView | Uint8Array | ItsCmdWords, byteOffset = 0): ItsCommand {
  if (Array.isArray(src)) {
    const w = src as ItsCmdWords;
    return decodeHalves(
      Number(w[0] & 0xffff_ffffn), Number((w[0] >> 32n) & 0xffff_ffffn),
      Number(w[1] & 0xffff_ffffn), Number((w[1] >> 32n) & 0xffff_ffffn),
      Number(w[2] & 0xffff_ffffn), Number((w[2] >> 32n) & 0xffff_ffffn),
      Number(w[3] & 0xffff_ffffn), Number((w[3] >> 32n) & 0xffff_ffffn));
  }
  const v = src instanceof DataView ? src : new DataView(
    (src as Uint8Array).buffer, (src as Uint8Array).byteOffset, (src as Uint8Array).byteLength);
  const o = byteOffset;
  return decodeHalves(
    v.getUint32(o, true), v.getUint32(o + 4, true),
    v.getUint32(o + 8, true), v.getUint32(o + 12, true),
    v.getUint32(o + 16, true), v.getUint32(o + 20, true),
    v.getUint32(o + 24, true), v.getUint32(o + 28, true));
}

/**
 * Write `c` as 32 bytes at `byteOffset` of `dst` (all unused bits zero).
 * Fields are truncated to their encoded widths; ittAddr bits below 8 and
 * above 51 are dropped. 'UNKNOWN' writes just the opcode.
 */
export function encodeItsCommand(c: ItsCommand, dst: DataView | Uint8Array, byteOffset = 0): void {
  const v = dst instanceof DataView ? dst : new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  let l0 = 0, h0 = 0, l1 = 0, h1 = 0, l2 = 0, h2 = 0, l3 = 0, h3 = 0;
  switch (c.cmd) {
    case 'MAPD': {
      l0 = GITS_CMD_MAPD; h0 = c.deviceId;
      l1 = c.size & 0x1f;
      const field = Math.floor(c.ittAddr / 256) % 2 ** 44;
      l2 = (field % TWO_POW_24) * 256;
      h2 = (Math.floor(field / TWO_POW_24) & 0xfffff) | (c.valid ? 0x8000_0000 : 0);
      break;
    }
    case 'MAPC':
      l0 = GITS_CMD_MAPC;
      l2 = (c.icid & 0xffff) | ((c.rdbase & 0xffff) << 16);
      h2 = ((c.rdbase >>> 16) & 0xffff) | (c.valid ? 0x8000_0000 : 0);
      break;
    case 'MAPTI':
      l0 = GITS_CMD_MAPTI; h0 = c.deviceId; l1 = c.eventId; h1 = c.pintid; l2 = c.icid & 0xffff;
      break;
    case 'MAPI':
      l0 = GITS_CMD_MAPI; h0 = c.deviceId; l1 = c.eventId; l2 = c.icid & 0xffff;
      break;
    case 'MOVI':
      l0 = GITS_CMD_MOVI; h0 = c.deviceId; l1 = c.eventId; l2 = c.icid & 0xffff;
      break;
    case 'DISCARD': case 'CLEAR': case 'INT': case 'INV':
      l0 = c.cmd === 'DISCARD' ? GITS_CMD_DISCARD : c.cmd === 'CLEAR' ? GITS_CMD_CLEAR
        : c.cmd === 'INT' ? GITS_CMD_INT : GITS_CMD_INV;
      h0 = c.deviceId; l1 = c.eventId;
      break;
    case 'INVALL':
      l0 = GITS_CMD_INVALL; l2 = c.icid & 0xffff;
      break;
    case 'MOVALL':
      l0 = GITS_CMD_MOVALL;
      l2 = (c.rdbase1 & 0xffff) << 16; h2 = (c.rdbase1 >>> 16) & 0xffff;
      l3 = (c.rdbase2 & 0xffff) << 16; h3 = (c.rdbase2 >>> 16) & 0xffff;
      break;
    case 'SYNC':
      l0 = GITS_CMD_SYNC;
      l2 = (c.rdbase & 0xffff) << 16; h2 = (c.rdbase >>> 16) & 0xffff;
      break;
    case 'UNKNOWN':
      l0 = c.opcode & 0xff;
      break;
  }
  const o = byteOffset;
  v.setUint32(o, l0 >>> 0, true); v.setUint32(o + 4, h0 >>> 0, true);
  v.setUint32(o + 8, l1 >>> 0, true); v.setUint32(o + 12, h1 >>> 0, true);
  v.setUint32(o + 16, l2 >>> 0, true); v.setUint32(o + 20, h2 >>> 0, true);
  v.setUint32(o + 24, l3 >>> 0, true); v.setUint32(o + 28, h3 >>> 0, true);
}

/** Encode into a fresh 32-byte array. */
export function encodeItsCommandBytes(c: ItsCommand): Uint8Array {
  const b = new Uint8Array(ITS_CMD_BYTES);
  encodeItsCommand(c, b, 0);
  return b;
}

/** Read DW0..DW3 as bigints (for logging or raw crafting). */
export function readItsCommandWords(v: DataView, byteOffset = 0): ItsCmdWords {
  return [
    v.getBigUint64(byteOffset, true), v.getBigUint64(byteOffset + 8, true),
    v.getBigUint64(byteOffset + 16, true), v.getBigUint64(byteOffset + 24, true),
  ];
}

/** Write raw DW0..DW3, e.g. to craft commands with reserved bits set. */
export function writeItsCommandWords(v: DataView, byteOffset: number, w: ItsCmdWords): void {
  for (let i = 0; i < 4; i++) v.setBigUint64(byteOffset + 8 * i, BigInt.asUintN(64, w[i]!), true);
}
