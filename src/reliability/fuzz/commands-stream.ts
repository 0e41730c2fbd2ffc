/**
 * What the command-stream fuzzer generates (fast-check arbitraries): ITS
 * commands, valid ones with in-range and out-of-range IDs and malformed ones
 * (unknown opcodes, reserved bits set, random 32-byte blobs, bit flips), raw
 * CWRITER values (wrapped, past the queue end, with Retry), CBASER values
 * (outside RAM, any size), GITS_TRANSLATER stores, and MSIs for the VMM to
 * signal meanwhile.
 *
 * Every command is sanitised against the reserved range (sanitizeCommand):
 * the reserved device, its LPIs and its collection are the fuzzer's
 * conservation witnesses, so the stream must not change their translation;
 * and no ITT may cover the guest's own RAM (DISCARD and MAPD V=0 write to
 * tables, and the guest's tables and channel live there).
 */
import fc from 'fast-check';
import { makeGitsCbaser } from '../../uapi/gic-fields.js';
import {
  decodeItsCommand, encodeItsCommandBytes, GITS_CMD_GICV4_OPCODES, GITS_CMD_NAMES, ITS_CMD_BYTES, type ItsCommand,
} from '../../uapi/its-cmd.js';
import type { CommandAction } from './commands-guest.js';

export interface StreamLayout {
  ramBase: number;
  ramEnd: number;
  /** RAM no ITT may touch. */
  protect: { base: number; size: number };
  /** RAM free for ITTs and moved queues (the end of RAM, so ITTs there run past it). */
  pool: { base: number; size: number };
  nrVcpus: number;
  /** ITSs, each with a stream of its own. */
  nrIts: number;
  /** The reserved witnesses (on ITS 0). */
  reserved: { deviceId: number; icid: number; firstIntid: number; intids: number };
  /** LPIs the fuzz maps (enabled in the property table). */
  lpis: { first: number; count: number };
}

export interface FuzzMsi {
  its: number;
  devid: number;
  data: number;
  /** 'doorbell': GITS_TRANSLATER; 'frame': any offset in the ITS frame; 'outside': no ITS there. */
  at: 'doorbell' | 'frame' | 'outside';
  offset: number;
  flags: number;
}

export interface CommandsCase {
  /** Per ITS, the actions its driver vCPU runs (at the same time as the others'). */
  actions: CommandAction[][];
  msis: FuzzMsi[];
  /** Reserved events an injector thread signals meanwhile (none: no injector). */
  injector: number[];
}

const TWO_POW_32 = 0x1_0000_0000;

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * Make `b` (32 bytes, changed in place) safe for the stream: no command
 * names the reserved device or its LPIs or remaps its collection, and no
 * MAPD's ITT covers protected RAM. Returns `b`. With `touchReserved` (the
 * fuzzer's self-test), the reserved range is left alone.
 */
export function sanitizeCommand(b: Uint8Array, l: StreamLayout, touchReserved = false): Uint8Array {
  const v = new DataView(b.buffer, b.byteOffset, ITS_CMD_BYTES);
  const c = decodeItsCommand(v, 0);
  const r = l.reserved;
  const reservedLpi = (id: number) => id >= r.firstIntid && id < r.firstIntid + r.intids;
  if (!touchReserved) {
    // INT too: a delivery no MSI asked for would be a phantom to the conservation ledger.
    if ((c.cmd === 'MAPD' || c.cmd === 'MAPTI' || c.cmd === 'MAPI' || c.cmd === 'MOVI' || c.cmd === 'DISCARD' || c.cmd === 'CLEAR' || c.cmd === 'INT')
      && c.deviceId === r.deviceId) {
      v.setUint32(4, (r.deviceId ^ 1) >>> 0, true);
    }
    if (c.cmd === 'MAPTI' && reservedLpi(c.pintid)) v.setUint32(12, (c.pintid ^ 0x400) >>> 0, true);
    if (c.cmd === 'MAPI' && reservedLpi(c.eventId)) v.setUint32(8, (c.eventId ^ 0x400) >>> 0, true);
    if (c.cmd === 'MAPC' && c.icid === r.icid) v.setUint16(16, (r.icid ^ 1) & 0xffff, true);
  }
  if (c.cmd === 'MAPD') {
    const span = 2 ** (c.size + 1) * 8;
    const p = l.protect;
    if (c.ittAddr < p.base + p.size && p.base < c.ittAddr + span) {
      const itt = l.pool.base + (Math.floor(c.ittAddr / 256) % (l.pool.size / 256)) * 256;
      v.setUint32(16, ((v.getUint32(16, true) & 0xff) | (itt % TWO_POW_32 & 0xffffff00)) >>> 0, true);
      v.setUint32(20, ((v.getUint32(20, true) & 0xfff0_0000) | Math.floor(itt / TWO_POW_32)) >>> 0, true);
    }
  }
  return b;
}

/** Arbitraries of the stream for layout `l`. */
export function streamArbitraries(l: StreamLayout, o: { touchReserved?: boolean } = {}) {
  const n = l.nrVcpus;
  const dev = fc.oneof(
    { weight: 10, arbitrary: fc.nat(3) },
    { weight: 2, arbitrary: fc.constantFrom(8191, 8192, 65535, 65536, 0xffff_ffff) },
    { weight: 1, arbitrary: fc.nat(0xffff_ffff) },
    { weight: o.touchReserved ? 6 : 0, arbitrary: fc.constant(l.reserved.deviceId) },
  );
  const ev = fc.oneof(
    { weight: 10, arbitrary: fc.nat(15) },
    { weight: 2, arbitrary: fc.constantFrom(31, 32, 255, 256, 65535, 65536, 0xffff_ffff) },
    { weight: o.touchReserved ? 6 : 0, arbitrary: fc.nat(3) },
  );
  const bits = fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 1, max: 5 }) },
    { weight: 1, arbitrary: fc.constant(16) },
    { weight: 1, arbitrary: fc.integer({ min: 17, max: 32 }) },
  );
  const itt = fc.oneof(
    { weight: 8, arbitrary: fc.nat(63).map((k) => l.pool.base + k * 0x1000) },
    { weight: 2, arbitrary: fc.constantFrom(l.ramEnd - 256, l.ramEnd - 8, l.ramEnd, 0, l.ramBase - 0x100, 2 ** 51) },
  );
  const pintid = fc.oneof(
    { weight: 10, arbitrary: fc.integer({ min: l.lpis.first, max: l.lpis.first + l.lpis.count - 1 }) },
    { weight: 2, arbitrary: fc.constantFrom(0, 8191, 65535, 65536, 0xffff_ffff) },
    { weight: o.touchReserved ? 6 : 0, arbitrary: fc.integer({ min: l.reserved.firstIntid, max: l.reserved.firstIntid + l.reserved.intids - 1 }) },
  );
  const icid = fc.oneof(
    { weight: 10, arbitrary: fc.nat(n) },
    { weight: 1, arbitrary: fc.constantFrom(8191, 8192, 0xffff) },
    { weight: o.touchReserved ? 4 : 0, arbitrary: fc.constant(l.reserved.icid) },
  );
  const rdbase = fc.oneof({ weight: 8, arbitrary: fc.nat(n) }, { weight: 1, arbitrary: fc.constantFrom(0xffff, 0xffff_ffff) });
  const unknownOpcode = fc.oneof(
    fc.constantFrom(...GITS_CMD_GICV4_OPCODES),
    fc.nat(255).filter((x) => GITS_CMD_NAMES[x] === undefined),
  );
  const valid: fc.Arbitrary<ItsCommand> = fc.oneof(
    fc.record({ cmd: fc.constant('MAPD' as const), deviceId: dev, size: bits.map((b) => b - 1), ittAddr: itt, valid: fc.boolean() }),
    fc.record({ cmd: fc.constant('MAPC' as const), icid, rdbase, valid: fc.boolean() }),
    fc.record({ cmd: fc.constant('MAPTI' as const), deviceId: dev, eventId: ev, pintid, icid }),
    fc.record({ cmd: fc.constant('MAPI' as const), deviceId: dev, eventId: pintid, icid }),
    fc.record({ cmd: fc.constant('MOVI' as const), deviceId: dev, eventId: ev, icid }),
    fc.record({ cmd: fc.constantFrom('DISCARD' as const, 'CLEAR' as const, 'INT' as const, 'INV' as const), deviceId: dev, eventId: ev }),
    fc.record({ cmd: fc.constant('INVALL' as const), icid }),
    fc.record({ cmd: fc.constant('MOVALL' as const), rdbase1: rdbase, rdbase2: rdbase }),
    fc.record({ cmd: fc.constant('SYNC' as const), rdbase }),
  );
  // Bytes KVM ignores in every command: DW0[31:8], and DW3 except MOVALL's RDbase2 (bits 47:16).
  const reservedBits = fc.tuple(valid, fc.uint8Array({ minLength: 3, maxLength: 3 }), fc.uint8Array({ minLength: 8, maxLength: 8 }))
    .map(([c, dw0, dw3]) => {
      const b = encodeItsCommandBytes(c);
      b.set(dw0, 1);
      if (c.cmd === 'MOVALL') { b[24] = dw3[0]!; b[25] = dw3[1]!; b[30] = dw3[6]!; b[31] = dw3[7]!; } else b.set(dw3, 24);
      return b;
    });
  const flipped = fc.tuple(valid, fc.array(fc.nat(255), { minLength: 1, maxLength: 3 })).map(([c, bitsToFlip]) => {
    const b = encodeItsCommandBytes(c);
    for (const x of bitsToFlip) b[x >> 3]! ^= 1 << (x & 7);
    return b;
  });
  const command: fc.Arbitrary<Uint8Array> = fc.oneof(
    { weight: 12, arbitrary: valid.map(encodeItsCommandBytes) },
    { weight: 2, arbitrary: reservedBits },
    { weight: 2, arbitrary: flipped },
    { weight: 1, arbitrary: unknownOpcode.map((opcode) => encodeItsCommandBytes({ cmd: 'UNKNOWN', opcode })) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: ITS_CMD_BYTES, maxLength: ITS_CMD_BYTES }) },
  ).map((b) => sanitizeCommand(b, l, o.touchReserved));
  // A device mapped with a few events at once: random single commands alone rarely line up into mappings.
  const mapping = fc.record({
    deviceId: fc.nat(3), bits: fc.integer({ min: 2, max: 5 }), ittAddr: itt,
    events: fc.array(fc.record({ eventId: fc.oneof({ weight: 3, arbitrary: fc.nat(3) }, { weight: 1, arbitrary: fc.nat(31) }), pintid, icid }), { minLength: 1, maxLength: 4 }),
  }).map((g) => [
    encodeItsCommandBytes({ cmd: 'MAPD', deviceId: g.deviceId, size: g.bits - 1, ittAddr: g.ittAddr, valid: true }),
    ...g.events.map((e) => encodeItsCommandBytes({ cmd: 'MAPTI', deviceId: g.deviceId, eventId: e.eventId % 2 ** g.bits, pintid: e.pintid, icid: e.icid })),
  ].map((b) => sanitizeCommand(b, l, o.touchReserved)));
  const group = fc.oneof({ weight: 3, arbitrary: command.map((c) => [c]) }, { weight: 1, arbitrary: mapping });
  const commands = (max: number) => fc.array(group, { minLength: 1, maxLength: Math.ceil(max / 2) }).map((gs) => {
    const cs = gs.flat().slice(0, max);
    const b = new Uint8Array(cs.length * ITS_CMD_BYTES);
    cs.forEach((c, i) => b.set(c, i * ITS_CMD_BYTES));
    return toHex(b);
  });
  const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
  const half = fc.record({ size: fc.constantFrom(4 as const, 8 as const), half: fc.constantFrom(0 as const, 1 as const) });
  const cbaserValue = fc.oneof(
    { weight: 3, arbitrary: fc.record({
      valid: fc.boolean(),
      address: fc.constantFrom(l.pool.base, l.pool.base + 0x10_0000, l.ramEnd - 0x1_0000, 0, 0x1000_0000, 2 ** 40, l.protect.base + 0x1_0000),
      size: fc.oneof(fc.nat(3), fc.constant(255), fc.nat(255)),
      innerCache: fc.nat(7), outerCache: fc.nat(7), shareability: fc.nat(3),
    }).map((f) => makeGitsCbaser(f)) },
    { weight: 1, arbitrary: u64 },
  );
  const action: fc.Arbitrary<CommandAction> = fc.oneof(
    { weight: 10, arbitrary: fc.record({ a: fc.constant('cmds' as const), hex: commands(12), batch: fc.boolean() }) },
    { weight: 3, arbitrary: fc.tuple(fc.record({
      a: fc.constant('cwriter' as const), mode: fc.constantFrom('raw' as const, 'back' as const, 'ahead' as const, 'end' as const),
      value: fc.oneof(u64, fc.constantFrom(0n, 1n, 0x20n, 0xfffe0n, 0x10_0000n, 0xffff_ffffn, 2n ** 63n)),
      k: fc.integer({ min: 0, max: 140 }),
    }), half).map(([a, h]) => ({ ...a, ...h })) },
    { weight: 2, arbitrary: fc.record({ a: fc.constant('disabled' as const), hex: commands(8) }) },
    { weight: 2, arbitrary: fc.tuple(fc.record({ a: fc.constant('cbaser' as const), value: cbaserValue, hex: commands(6) }), half)
      .map(([a, h]) => ({ ...a, ...h })) },
    { weight: 1, arbitrary: fc.record({ a: fc.constant('cbaser-enabled' as const), value: cbaserValue }) },
    { weight: 1, arbitrary: fc.record({ a: fc.constant('translater' as const), value: fc.nat(0xffff_ffff) }) },
  );
  const msi: fc.Arbitrary<FuzzMsi> = fc.record({
    its: fc.nat(l.nrIts - 1),
    // Not the reserved device: its MSIs are the ledger's, recorded.
    devid: fc.oneof({ weight: 6, arbitrary: fc.nat(3) }, { weight: 1, arbitrary: dev.map((d) => (d === l.reserved.deviceId && !o.touchReserved ? d ^ 1 : d)) }),
    data: fc.oneof({ weight: 6, arbitrary: fc.nat(3) }, { weight: 1, arbitrary: ev }),
    at: fc.constantFrom('doorbell' as const, 'doorbell' as const, 'frame' as const, 'outside' as const),
    offset: fc.nat(0x1_ffff),
    flags: fc.oneof({ weight: 8, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constantFrom(0, 3) }),
  });
  const stream: fc.Arbitrary<CommandsCase> = fc.record({
    actions: fc.tuple(fc.array(action, { minLength: 1, maxLength: 8 }),
      ...Array.from({ length: l.nrIts - 1 }, () => fc.array(action, { maxLength: 6 }))),
    msis: fc.array(msi, { maxLength: 8 }),
    injector: fc.oneof({ weight: 3, arbitrary: fc.constant([] as number[]) },
      { weight: 1, arbitrary: fc.uniqueArray(fc.nat(l.reserved.intids - 1), { minLength: 1, maxLength: l.reserved.intids }) }),
  });
  return { command, action, msi, stream };
}
