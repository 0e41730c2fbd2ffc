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

export const SNAPSHOT_MAGIC = 'VGLSNAP\0';
export const SNAPSHOT_VERSION = 1;

export interface RedistState {
  vcpu: number;
  /** GICR_CTLR (EnableLPIs). */
  ctlr: number;
  /** GICR_PENDBASER as stored (PTZ included), hex. */
  pendbaser: string;
}

export interface ItsRegisterState {
  index: number;
  /** GRP_ADDR base, hex; undefined if never set. */
  base?: string;
  iidr: string;
  cbaser: string;
  creadr: string;
  cwriter: string;
  /** GITS_BASER0..7, hex. */
  baser: string[];
  ctlr: string;
}

export interface VmSnapshotHeader {
  format: 'vgic-lab-vm-snapshot';
  version: typeof SNAPSHOT_VERSION;
  createdAt: string;
  vm: {
    vcpus: number;
    memory: MemslotSpec[];
    resultWords: number;
    gic: { its: number; iodevRegistration: IodevRegistration; lockProtocol: LockProtocol; cacheCapacity: number };
  };
  /** VM-wide GICR_PROPBASER, hex. */
  propbaser: string;
  gicdCtlr: number;
  redists: RedistState[];
  its: ItsRegisterState[];
  /** Each vCPU's results area (what its guest reported so far). */
  results: number[][];
}

export interface VmSnapshot {
  header: VmSnapshotHeader;
  /** Guest RAM, one buffer per memslot. */
  ram: Uint8Array[];
}

export function hex(v: bigint | number): string {
  return `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
}

/** Serialise to the version-1 binary format. */
export function encodeSnapshot(s: VmSnapshot): Uint8Array {
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

export async function writeSnapshotFile(path: string, s: VmSnapshot): Promise<void> {
  await writeFile(path, encodeSnapshot(s));
}

export async function readSnapshotFile(path: string): Promise<VmSnapshot> {
  return decodeSnapshot(new Uint8Array(await readFile(path)));
}
