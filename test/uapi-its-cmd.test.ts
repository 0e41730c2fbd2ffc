import { describe, expect, it } from 'vitest';
import * as u from '../dist/src/uapi/index.js';
import type { ItsCommand } from '../dist/src/uapi/index.js';

const M32 = 0xffff_ffff;

function wordsOf(c: ItsCommand): readonly [bigint, bigint, bigint, bigint] {
  const b = u.encodeItsCommandBytes(c);
  return u.readItsCommandWords(new DataView(b.buffer));
}

const samples: ItsCommand[] = [
  { cmd: 'MAPD', deviceId: 0, size: 0, ittAddr: 0, valid: false },
  { cmd: 'MAPD', deviceId: M32, size: 31, ittAddr: 0xf_ffff_ffff_ff00, valid: true },
  { cmd: 'MAPD', deviceId: 0x1234, size: 15, ittAddr: 0x8_0000_0100, valid: true },
  { cmd: 'MAPC', icid: 0xffff, rdbase: M32, valid: true },
  { cmd: 'MAPC', icid: 0, rdbase: 0, valid: false },
  { cmd: 'MAPC', icid: 7, rdbase: 0x1_0003, valid: true },
  { cmd: 'MAPTI', deviceId: M32, eventId: M32, pintid: M32, icid: 0xffff },
  { cmd: 'MAPTI', deviceId: 1, eventId: 2, pintid: 8192, icid: 3 },
  { cmd: 'MAPI', deviceId: M32, eventId: M32, icid: 0xffff },
  { cmd: 'MOVI', deviceId: M32, eventId: 0xffff, icid: 0x8000 },
  { cmd: 'DISCARD', deviceId: M32, eventId: M32 },
  { cmd: 'CLEAR', deviceId: 5, eventId: 6 },
  { cmd: 'INT', deviceId: 0x8000_0000, eventId: 0x8000_0000 },
  { cmd: 'INV', deviceId: 0, eventId: M32 },
  { cmd: 'INVALL', icid: 0xffff },
  { cmd: 'MOVALL', rdbase1: M32, rdbase2: 0 },
  { cmd: 'MOVALL', rdbase1: 0x1_0001, rdbase2: 0xfffe_ffff },
  { cmd: 'SYNC', rdbase: M32 },
  { cmd: 'UNKNOWN', opcode: 0 },
  { cmd: 'UNKNOWN', opcode: 0xff },
  { cmd: 'UNKNOWN', opcode: u.GITS_CMD_VMAPP },
];

describe('uapi/its-cmd: constants', () => {
  it('opcodes and names', () => {
    expect([u.GITS_CMD_MOVI, u.GITS_CMD_INT, u.GITS_CMD_CLEAR, u.GITS_CMD_SYNC, u.GITS_CMD_MAPD, u.GITS_CMD_MAPC,
      u.GITS_CMD_MAPTI, u.GITS_CMD_MAPI, u.GITS_CMD_INV, u.GITS_CMD_INVALL, u.GITS_CMD_MOVALL, u.GITS_CMD_DISCARD])
      .toEqual([1, 3, 4, 5, 8, 9, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf]);
    expect(u.GITS_CMD_GICV4_OPCODES).toEqual([0x21, 0x22, 0x23, 0x25, 0x29, 0x2a, 0x2d, 0x2e]);
    expect(u.itsCmdName(0x0a)).toBe('MAPTI');
    expect(u.itsCmdName(0x29)).toBe('VMAPP');
    expect(u.itsCmdName(0x02)).toBe('0x02');
  });
  it('E_ITS codes', () => {
    expect(u.E_ITS_MAPD_DEVICE_OOR).toBe(0x010801);
    expect(u.E_ITS_MAPTI_PHYSICALID_OOR).toBe(0x010a06);
    expect(u.E_ITS_DISCARD_UNMAPPED_INTERRUPT).toBe(0x010f07);
    expect(u.eItsName(0x010e01)).toBe('E_ITS_MOVALL_PROCNUM_OOR');
    expect(u.eItsName(22)).toBeUndefined();
  });
});

describe('uapi/its-cmd: round trips', () => {
  it('encode -> decode is the identity for every command (bytes and words)', () => {
    for (const c of samples) {
      const bytes = u.encodeItsCommandBytes(c);
      expect(u.decodeItsCommand(bytes)).toEqual(c);
      expect(u.decodeItsCommand(new DataView(bytes.buffer))).toEqual(c);
      expect(u.decodeItsCommand(wordsOf(c))).toEqual(c);
    }
  });

  it('works at an offset inside a larger queue, without touching neighbours', () => {
    const q = new Uint8Array(32 * 4).fill(0xee);
    const v = new DataView(q.buffer);
    u.encodeItsCommand(samples[1]!, v, 64);
    expect(u.decodeItsCommand(v, 64)).toEqual(samples[1]);
    expect(q.subarray(0, 64).every((b) => b === 0xee)).toBe(true);
    expect(q.subarray(96).every((b) => b === 0xee)).toBe(true);
    // A Uint8Array view with its own byteOffset.
    const sub = q.subarray(64, 96);
    expect(u.decodeItsCommand(sub)).toEqual(samples[1]);
  });

  it('unknown opcodes, including GICv4, decode as UNKNOWN', () => {
    for (const op of [0, 2, 6, 7, 0x10, ...u.GITS_CMD_GICV4_OPCODES, 0xff]) {
      expect(u.decodeItsCommand([BigInt(op) | 0xffff_ffff_0000_ff00n, 1n, 2n, 3n])).toEqual({ cmd: 'UNKNOWN', opcode: op });
    }
  });
});

describe('uapi/its-cmd: field locations (spec 2.1)', () => {
  it('MAPD', () => {
    const w = wordsOf({ cmd: 'MAPD', deviceId: 0xdead_beef, size: 0x1f, ittAddr: 0xf_ffff_ffff_ff00, valid: true });
    expect(w).toEqual([0xdead_beef_0000_0008n, 0x1fn, (1n << 63n) | (0xf_ffff_ffff_ffn << 8n), 0n]);
    // ITT bits 7:0 and 63:52 of DW2 are not part of the address; size is 5 bits.
    const d = u.decodeItsCommand([0x8n, 0xffff_ffff_ffff_ffe3n, 0x7ff0_0000_0000_00ffn, 0n]);
    expect(d).toEqual({ cmd: 'MAPD', deviceId: 0, size: 3, ittAddr: 0, valid: false });
    const d2 = u.decodeItsCommand([0x8n, 0n, 0x0000_0000_0000_0100n, 0n]);
    expect(d2).toMatchObject({ ittAddr: 0x100 });
  });

  it('MAPC: RDbase is DW2[47:16], 32 bits', () => {
    expect(wordsOf({ cmd: 'MAPC', icid: 0xabcd, rdbase: 0x1234_5678, valid: true }))
      .toEqual([0x9n, 0n, 0x8000_1234_5678_abcdn, 0n]);
    // Bits 50:48 (architected RDbase width) are ignored by KVM.
    expect(u.decodeItsCommand([0x9n, 0n, 0x0007_0000_0002_0001n, 0n]))
      .toEqual({ cmd: 'MAPC', icid: 1, rdbase: 2, valid: false });
  });

  it('MAPTI / MOVALL / INVALL', () => {
    expect(wordsOf({ cmd: 'MAPTI', deviceId: 1, eventId: 2, pintid: 0x2000, icid: 4 }))
      .toEqual([0x0000_0001_0000_000an, 0x0000_2000_0000_0002n, 4n, 0n]);
    expect(wordsOf({ cmd: 'MOVALL', rdbase1: 0xaabb_ccdd, rdbase2: 0x1122_3344 }))
      .toEqual([0xen, 0n, 0x0000_aabb_ccdd_0000n, 0x0000_1122_3344_0000n]);
    expect(wordsOf({ cmd: 'INVALL', icid: 0xffff })).toEqual([0xdn, 0n, 0xffffn, 0n]);
  });

  it('allocation-free getters agree with the decoder', () => {
    const b = new DataView(new ArrayBuffer(64));
    u.writeItsCommandWords(b, 32, [0xdead_beef_ffff_ff0an, 0x1234_5678_9abc_def0n, 0xffff_ffff_ffff_ffffn, 0x0000_4321_8765_0000n]);
    expect(u.itsCmdGetCommand(b, 32)).toBe(0x0a);
    expect(u.itsCmdGetDeviceId(b, 32)).toBe(0xdead_beef);
    expect(u.itsCmdGetId(b, 32)).toBe(0x9abc_def0);
    expect(u.itsCmdGetSize(b, 32)).toBe(0x10);
    expect(u.itsCmdGetPhysicalId(b, 32)).toBe(0x1234_5678);
    expect(u.itsCmdGetCollection(b, 32)).toBe(0xffff);
    expect(u.itsCmdGetIttAddr(b, 32)).toBe(0xf_ffff_ffff_ff00);
    expect(u.itsCmdGetTargetAddr(b, 32)).toBe(0xffff_ffff);
    expect(u.itsCmdGetValidBit(b, 32)).toBe(true);
    expect(u.itsCmdGetTargetAddr2(b, 32)).toBe(0x4321_8765);
  });

  it('encode truncates fields to their widths', () => {
    const c = u.decodeItsCommand(u.encodeItsCommandBytes({ cmd: 'MAPD', deviceId: 2 ** 32 + 5, size: 0x25, ittAddr: 0x10_0000_0000_01ff, valid: true }));
    expect(c).toEqual({ cmd: 'MAPD', deviceId: 5, size: 5, ittAddr: 0x100, valid: true });
  });
});
