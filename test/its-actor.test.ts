/**
 * The ITS actor module on a real actor-host worker: spawned from its URL,
 * driven through mailbox requests (MMIO read/write, MSI, inspection) from the
 * main thread, with guest memory and vGIC state shared with the test.
 * No vCPU runs; full end-to-end tests with guest programs live elsewhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vm } from '../dist/src/kvm/vm.js';
import { ITS_CMD_LOCK, ITS_ITS_LOCK } from '../dist/src/sync/classes.js';
import * as u from '../dist/src/uapi/index.js';
import { OP_MMIO_READ, OP_MMIO_WRITE, REPLY_NO_ACTOR } from '../dist/src/actors/protocol.js';
import { ITS_ACTOR_MODULE } from '../dist/src/vgic/its/its-actor.js';
import {
  ITS_STAT_COLLECTIONS, ITS_STAT_CREADR, ITS_STAT_CWRITER, ITS_STAT_DEVICES, ITS_STAT_ENABLED, ITS_STAT_FAILED,
  ITS_STAT_ITES, ITS_STAT_MSI_BLOCKED, ITS_STAT_MSI_BUSY, ITS_STAT_MSI_DELIVERED, ITS_STAT_PROCESSED, ITS_STAT_UNREADABLE,
  OP_ITS_MSI, OP_ITS_RESULT_COUNT, OP_ITS_STATS,
} from '../dist/src/vgic/its/its-ops.js';
import {
  HARNESS_PROP_TABLE, HARNESS_RAM, HARNESS_RAM_SIZE, harnessCmdQueue, harnessCollectionTable, harnessDeviceTable,
  harnessItt, harnessPendTable, itsCmd as C,
} from './helpers/its-harness.js';
import { ItsCache } from '../dist/src/vgic/its-cache.js';
import { VGIC_DEVICE_KEY, type VgicShared } from '../dist/src/vgic/layout.js';
import { C_GICR_CTLR, D_GICD_CTLR, F_PENDING, I_ENABLED, L_FLAGS, NR_LPIS, VgicState } from '../dist/src/vgic/vgic-state.js';

describe('ITS actor', () => {
  let vm: Vm;
  let st: VgicState;
  let actor: number;
  let cmdLock: number, itsLock: number;

  const read = async (offset: number, size: number): Promise<bigint> => {
    const r = await vm.rt.client.requestAsync(actor, OP_MMIO_READ, [0, offset, size]);
    expect(r.result).toBe(0);
    return (BigInt(r.values[1]! >>> 0) << 32n) | BigInt(r.values[0]! >>> 0);
  };
  const write = async (offset: number, size: number, v: bigint): Promise<void> => {
    const r = await vm.rt.client.requestAsync(actor, OP_MMIO_WRITE,
      [0, offset, size, Number(v & 0xffff_ffffn) | 0, Number(v >> 32n) | 0]);
    expect(r.result).toBe(0);
  };
  const msi = async (devid: number, eventid: number): Promise<number> =>
    (await vm.rt.client.requestAsync(actor, OP_ITS_MSI, [devid | 0, eventid | 0])).result;
  let queued = 0;
  const run = async (...cmds: u.ItsCommand[]): Promise<void> => {
    for (const c of cmds) {
      vm.rt.mem.write(harnessCmdQueue(0) + queued, u.encodeItsCommandBytes(c));
      queued += 32;
    }
    await write(u.GITS_CWRITER, 8, BigInt(queued));
  };

  beforeAll(async () => {
    const shared: VgicShared = {
      state: VgicState.create({ nrVcpus: 2, cacheCapacity: 64 }),
      iodevRegistration: 'base-address', distActor: -1, movallAllLpis: false,
    };
    vm = await Vm.create({ vcpus: 2, memory: [{ gpa: HARNESS_RAM, size: HARNESS_RAM_SIZE }] },
      { devices: { [VGIC_DEVICE_KEY]: shared } });
    st = new VgicState(shared.state);
    st.setPropbaser(u.makeGicrPropbaser({ address: HARNESS_PROP_TABLE, idBits: 15 }));
    vm.rt.mem.write(HARNESS_PROP_TABLE, new Uint8Array(NR_LPIS).fill(u.makeLpiProp(0xa0, true)));
    for (let v = 0; v < 2; v++) {
      st.setPendbaser(v, u.makeGicrPendbaser({ address: harnessPendTable(v) }));
      Atomics.store(st.i32, st.cpu(v) + C_GICR_CTLR, 1);
    }
    Atomics.store(st.i32, D_GICD_CTLR, 2);
    cmdLock = vm.rt.arena.allocLock(ITS_CMD_LOCK, 0);
    itsLock = vm.rt.arena.allocLock(ITS_ITS_LOCK, 0);
    actor = await vm.spawnActor(ITS_ACTOR_MODULE, { index: 0, cmdLock, itsLock }, 'ITS 0');
  });

  afterAll(async () => {
    await vm?.destroy();
  });

  it('serves guest MMIO: reset values, then programming and enabling the ITS', async () => {
    expect(await read(u.GITS_CTLR, 4)).toBe(0x8000_0000n);
    expect(await read(u.GITS_TYPER, 8)).toBe(0x1ef71n);
    expect(await read(u.GITS_BASER + 8, 8)).toBe(0x1c07_0000_0000_0600n);
    expect(await read(u.GITS_CTLR, 8)).toBe(0n);
    await write(u.GITS_CBASER, 8, u.makeGitsCbaser({ valid: true, address: harnessCmdQueue(0), size: 15 }));
    const b0 = u.makeGitsBaser({ valid: true, type: 1, entrySize: 8, address: harnessDeviceTable(0), size: 0 });
    await write(u.GITS_BASER, 4, b0 & 0xffff_ffffn);
    await write(u.GITS_BASER + 4, 4, b0 >> 32n);
    expect(await read(u.GITS_BASER, 8)).toBe(b0);
    await write(u.GITS_BASER + 8, 8, u.makeGitsBaser({ valid: true, type: 4, entrySize: 8, address: harnessCollectionTable(0), size: 0 }));
    expect(Atomics.load(st.i32, st.its(0) + I_ENABLED)).toBe(0);
    await write(u.GITS_CTLR, 4, 1n);
    expect(await read(u.GITS_CTLR, 4)).toBe(0x8000_0001n);
    expect(Atomics.load(st.i32, st.its(0) + I_ENABLED)).toBe(1);
  });

  it('runs commands on a CWRITER store and translates MSIs; the cache is visible to other threads', async () => {
    await run(C.mapd(7, 5, harnessItt(0, 7)), C.mapc(0, 1), C.mapti(7, 3, 8300, 0), C.mapd(8192, 5, 0));
    expect(await read(u.GITS_CREADR, 8)).toBe(BigInt(queued));
    expect(await msi(7, 3)).toBe(1);
    expect(Atomics.load(st.i32, st.lpi(8300) + L_FLAGS) & F_PENDING).toBe(F_PENDING);
    expect(new ItsCache(st, vm.rt.tid).lookup(0, 7, 3)).toBe(8300);
    expect(await msi(7, 4)).toBe(0);
    expect(await msi(-1, -1)).toBe(0); // 0xFFFFFFFF IDs
    Atomics.store(st.i32, st.cpu(1) + C_GICR_CTLR, 0);
    expect(await msi(7, 3)).toBe(-u.EBUSY);
    Atomics.store(st.i32, st.cpu(1) + C_GICR_CTLR, 1);
  });

  it('reports its counters and per-result counts', async () => {
    const s = await vm.rt.client.requestAsync(actor, OP_ITS_STATS, []);
    expect(s.result).toBe(0);
    const v = s.values;
    expect(v[ITS_STAT_PROCESSED]).toBe(4);
    expect(v[ITS_STAT_UNREADABLE]).toBe(0);
    expect(v[ITS_STAT_FAILED]).toBe(1);
    expect([v[ITS_STAT_MSI_DELIVERED], v[ITS_STAT_MSI_BLOCKED], v[ITS_STAT_MSI_BUSY]]).toEqual([1, 2, 1]);
    expect([v[ITS_STAT_DEVICES], v[ITS_STAT_COLLECTIONS], v[ITS_STAT_ITES], v[ITS_STAT_ENABLED]]).toEqual([1, 1, 1, 1]);
    expect([v[ITS_STAT_CREADR], v[ITS_STAT_CWRITER]]).toEqual([queued, queued]);
    const count = async (op: number, res: number) => (await vm.rt.client.requestAsync(actor, OP_ITS_RESULT_COUNT, [op, res])).result;
    expect(await count(u.GITS_CMD_MAPD, u.E_ITS_MAPD_DEVICE_OOR)).toBe(1);
    expect(await count(u.GITS_CMD_MAPD, 0)).toBe(1);
    expect(await count(-1, 0)).toBe(3);
    expect(await count(u.GITS_CMD_INT, 0)).toBe(0);
  });

  it('answers unknown ops with REPLY_NO_ACTOR and holds no lock between requests', async () => {
    expect((await vm.rt.client.requestAsync(actor, OP_ITS_RESULT_COUNT + 50, [])).result).toBe(REPLY_NO_ACTOR);
    expect(vm.rt.arena.ownerOf(cmdLock)).toBe(0);
    expect(vm.rt.arena.ownerOf(itsLock)).toBe(0);
    // The locks were really taken, by the actor's thread.
    const acq = (name: string) => vm.lockStats().find((c) => c.className === name)?.acquisitions ?? 0;
    // cmd_lock: CBASER write, 2 CTLR reads, CTLR write, CWRITER write. its_lock: 4 commands, 4 MSIs,
    // and the low-half BASER0 store, whose merged value still has Valid=0 (so the device list is freed).
    expect(acq(ITS_CMD_LOCK)).toBe(5);
    expect(acq(ITS_ITS_LOCK)).toBe(9);
  });

  it('refuses to start with bad init data', async () => {
    await expect(vm.spawnActor(ITS_ACTOR_MODULE, { index: 1, cmdLock: -1, itsLock }, 'bad ITS')).rejects.toThrow(/init.cmdLock/);
  });
});
