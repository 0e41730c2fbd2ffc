/**
 * The VM snapshot: what migration carries from one VM (or process) to
 * another, and its file format.
 *
 * Format version 1, a binary file:
 *   bytes 0..7   magic "VGLSNAP\0"
 *   bytes 8..11  format version (u32 LE) = 1
 *   bytes 12..15 header length N (u32 LE)
 *   N bytes      header: UTF-8 JSON (VmSnapshotHeader); 64-bit registers as hex strings
 *   then         each memslot's bytes, in header.vm.memory order
 * Guest RAM carries the ITS tables and pending tables written by
 * SAVE_TABLES / SAVE_PENDING_TABLES; the header carries registers and vCPU
 * results. A guest program's JS stack is not state: the destination's vCPUs
 * start their guest program afresh, so guests keep their state in RAM.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { MemslotSpec } from '../mem/guest-memory.js';
import type { LockProtocol } from '../vgic/lock-protocol.js';
import type { IodevRegistration } from '../vgic/layout.js';

/** @internal The file's first 8 bytes. */
export const SNAPSHOT_MAGIC = 'VGLSNAP\0';
/** The snapshot format version this build writes and reads. */
export const SNAPSHOT_VERSION = 1;

/** A redistributor's migrated state. */
export interface RedistState {
  /** The vCPU it belongs to. */
  vcpu: number;
  /** GICR_CTLR (EnableLPIs). */
  ctlr: number;
  /** GICR_PENDBASER as stored (PTZ included), hex. */
  pendbaser: string;
}

/** An ITS's migrated registers (what GRP_ITS_REGS reads), 64-bit values as hex strings. */
export interface ItsRegisterState {
  /** The ITS's index in the VM. */
  index: number;
  /** GRP_ADDR base, hex; undefined if never set. */
  base?: string;
  /** GITS_IIDR (its Revision selects the table ABI on restore). */
  iidr: string;
  /** GITS_CBASER. */
  cbaser: string;
  /** GITS_CREADR. */
  creadr: string;
  /** GITS_CWRITER. */
  cwriter: string;
  /** GITS_BASER0..7, hex. */
  baser: string[];
  /** GITS_CTLR (restored last). */
  ctlr: string;
}

/** Everything a snapshot carries except RAM: the VM's shape and the registers, as JSON. */
export interface VmSnapshotHeader {
  /** Always 'vgic-lab-vm-snapshot'. */
  format: 'vgic-lab-vm-snapshot';
  /** The format version ({@link SNAPSHOT_VERSION}). */
  version: typeof SNAPSHOT_VERSION;
  /** When the snapshot was taken (ISO 8601). */
  createdAt: string;
  /** The source VM's shape: the destination is created the same. */
  vm: {
    /** vCPUs. */
    vcpus: number;
    /** Memslots (RAM follows the header in this order). */
    memory: MemslotSpec[];
    /** Result words per vCPU. */
    resultWords: number;
    /** The GIC: ITS count, MMIO registration policy, lock protocol, translation-cache size. */
    gic: {
      /** ITS devices. */
      its: number;
      /** When ITS frames decode. */
      iodevRegistration: IodevRegistration;
      /** The lock protocol (the destination runs the same). */
      lockProtocol: LockProtocol;
      /** Translation-cache slots per ITS. */
      cacheCapacity: number;
    };
  };
  /** VM-wide GICR_PROPBASER, hex. */
  propbaser: string;
  /** GICD_CTLR. */
  gicdCtlr: number;
  /** One per vCPU. */
  redists: RedistState[];
  /** One per ITS. */
  its: ItsRegisterState[];
  /** Each vCPU's results area (what its guest reported so far). */
  results: number[][];
}

/** A saved VM: what saveVm returns, restoreVm takes, and the snapshot file holds. */
export interface VmSnapshot {
  /** The VM's shape and registers. */
  header: VmSnapshotHeader;
  /** Guest RAM, one buffer per memslot. */
  ram: Uint8Array[];
}

/**
 * The shape of a snapshot, checked before it is written or restored from:
 * TypeError naming what is wrong (`snapshot.header`, `snapshot.ram[1]`, ...).
 */
export function checkSnapshot(s: VmSnapshot, name = 'snapshot'): void {
  if (s === null || typeof s !== 'object') throw new TypeError(`${name} must be a VmSnapshot (from saveVm or readSnapshotFile)`);
  const h = s.header;
  if (h === null || typeof h !== 'object' || h.format !== 'vgic-lab-vm-snapshot') throw new TypeError(`${name}.header is not a vgic-lab VM snapshot header`);
  if (h.version !== SNAPSHOT_VERSION) throw new TypeError(`${name}.header.version ${String(h.version)} is not ${SNAPSHOT_VERSION}`);
  if (h.vm === null || typeof h.vm !== 'object' || !Array.isArray(h.vm.memory)) throw new TypeError(`${name}.header.vm.memory must be an array of memslots`);
  if (!Array.isArray(s.ram) || s.ram.length !== h.vm.memory.length) throw new TypeError(`${name}.ram must hold one Uint8Array per memslot (${h.vm.memory.length})`);
  s.ram.forEach((r, i) => {
    if (!(r instanceof Uint8Array) || r.length !== h.vm.memory[i]?.size) throw new TypeError(`${name}.ram[${i}] must be a Uint8Array of the memslot's size`);
  });
  for (const f of ['redists', 'its', 'results'] as const) {
    if (!Array.isArray(h[f])) throw new TypeError(`${name}.header.${f} must be an array`);
  }
}

/** @internal A u64 as the header writes it. */
export function hex(v: bigint | number): string {
  return `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
}

/** Serialise to the version-1 binary format. */
export function encodeSnapshot(s: VmSnapshot): Uint8Array {
  checkSnapshot(s);
  const header = new TextEncoder().encode(JSON.stringify(s.header));
  const total = 16 + header.length + s.ram.reduce((a, r) => a + r.length, 0);
  const out = new Uint8Array(total);
  out.set(new TextEncoder().encode(SNAPSHOT_MAGIC), 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, SNAPSHOT_VERSION, true);
  dv.setUint32(12, header.length, true);
  out.set(header, 16);
  let at = 16 + header.length;
  for (const r of s.ram) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}

/** Parse the binary format; throws a clear error on anything else. */
export function decodeSnapshot(bytes: Uint8Array): VmSnapshot {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
  if (bytes.length < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== SNAPSHOT_MAGIC) {
    throw new TypeError('not a vgic-lab VM snapshot (bad magic)');
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== SNAPSHOT_VERSION) throw new TypeError(`unsupported snapshot version ${version} (this build reads ${SNAPSHOT_VERSION})`);
  const len = dv.getUint32(12, true);
  if (16 + len > bytes.length) throw new TypeError('truncated snapshot header');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + len))) as VmSnapshotHeader;
  if (header.format !== 'vgic-lab-vm-snapshot') throw new TypeError('not a vgic-lab VM snapshot (bad header)');
  const ram: Uint8Array[] = [];
  let at = 16 + len;
  for (const slot of header.vm.memory) {
    if (at + slot.size > bytes.length) throw new TypeError('truncated snapshot RAM');
    ram.push(bytes.slice(at, at + slot.size));
    at += slot.size;
  }
  return { header, ram };
}

/** Write `s` to a file in the binary format (replacing the file). */
export async function writeSnapshotFile(path: string, s: VmSnapshot): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a non-empty string');
  await writeFile(path, encodeSnapshot(s));
}

/** Read a snapshot file; rejects with a TypeError if it is not one this build reads. */
export async function readSnapshotFile(path: string): Promise<VmSnapshot> {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a non-empty string');
  return decodeSnapshot(new Uint8Array(await readFile(path)));
}
