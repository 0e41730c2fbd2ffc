/**
 * ITS table save/restore (issue 4).
 *
 * Throughput, ns per ITE (lower is better; 1e9 / this = entries/s), for
 * 1K, 64K and 1M ITEs: KVM_DEV_ARM_ITS_SAVE_TABLES and RESTORE_TABLES of a
 * real Its on one thread (agents/its-tables.ts: the its-harness setup, the
 * state built by restoring a table image written into guest RAM), beside
 * plain DataView loops over the same bytes in the same worker: writing the
 * image (two 32-bit LE stores per 8-byte entry: ITTs, device table,
 * collection table) for save, reading it for restore. "At least 0.25 of
 * the DataView loop's entries/s" is "at most 4x its ns/ITE". One worker
 * per size serves all four figures of that size.
 *
 * Whole cycle, ms: an 8-vCPU VM (idle guest, in WFI) whose ITS holds 64K
 * ITEs: pause -> SAVE_TABLES -> SAVE_PENDING_TABLES -> read BASER0/1 and
 * CTLR -> CTRL_RESET -> write BASER0/1 -> RESTORE_TABLES -> write CTLR ->
 * resume, into the same VM, through the device-attribute paths (locks and
 * all) that QEMU uses; VMs stay running (idle) between samples.
 */
import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { OP_MMIO_WRITE } from '../../actors/protocol.js';
import { createVm, type GicVm } from '../../create-vm.js';
import { VM_DEFAULTS } from '../../kvm/options.js';
import { errnoName } from '../../uapi/errno.js';
import {
  GICR_CTLR, GICR_PENDBASER, GICR_PROPBASER, GITS_BASER_TYPE_COLLECTION, GITS_BASER_TYPE_DEVICE, makeGicrPendbaser,
  makeGicrPropbaser, makeGitsBaser, makeLpiProp,
} from '../../uapi/gic-fields.js';
import { GITS_CTLR, gitsBaserOffset } from '../../uapi/gits.js';
import {
  KVM_DEV_ARM_ITS_CTRL_RESET, KVM_DEV_ARM_ITS_RESTORE_TABLES, KVM_DEV_ARM_ITS_SAVE_TABLES, KVM_DEV_ARM_VGIC_GRP_CTRL,
  KVM_DEV_ARM_VGIC_GRP_ITS_REGS, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES,
} from '../../uapi/kvm.js';
import { GICD_CTLR, REGION_GICD } from '../../vgic/dist-actor.js';
import { COLLECTIONS, imageLayout, writeImage, writePropTable, type TablesOp, type TablesReply, type TablesRequest } from '../agents/its-tables.js';
import type { Benchmark, RunContext, Session } from '../types.js';
import { Agents, agentModule, sleep } from '../xthread.js';

const SIZES = [
  { label: '1k', ites: 1024 },
  { label: '64k', ites: 64 * 1024 },
  { label: '1m', ites: 1024 * 1024 },
] as const;

/** ITEs handled per repetition at least (small tables repeat the operation). */
function entriesPerRep(ctx: RunContext): number {
  return ctx.pick({ full: 1 << 20, quick: 1 << 19, smoke: 1 << 10 });
}

// ---- one its-tables worker per size, shared by that size's figures --------------------------------------

interface Lab {
  refs: number;
  agents: Agents;
  worker: Worker;
}

const labs = new Map<number, Promise<Lab>>();

async function openLab(ites: number): Promise<Lab> {
  const agents = new Agents();
  try {
    const worker = agents.spawn(agentModule('its-tables'), 'serve', { ites });
    const [reply] = (await agents.guard(once(worker, 'message'), `the its-tables worker (${ites} ITEs)`)) as [TablesReply];
    if ('error' in reply) throw new Error(reply.error);
    return { refs: 0, agents, worker };
  } catch (e) {
    await agents.close();
    throw e;
  }
}

async function acquireLab(ites: number): Promise<Lab> {
  let p = labs.get(ites);
  if (p === undefined) {
    p = openLab(ites);
    labs.set(ites, p);
    p.catch(() => labs.delete(ites));
  }
  const lab = await p;
  lab.refs++;
  return lab;
}

async function releaseLab(ites: number, lab: Lab): Promise<void> {
  if (--lab.refs > 0) return;
  labs.delete(ites);
  await lab.agents.close();
}

async function request(lab: Lab, req: TablesRequest): Promise<number> {
  const reply = once(lab.worker, 'message');
  lab.worker.postMessage(req);
  const [r] = (await lab.agents.guard(reply, `its-tables ${req.op}`)) as [TablesReply];
  if ('error' in r) throw new Error(r.error);
  if (!('ms' in r)) throw new Error('its-tables: unexpected reply');
  return r.ms;
}

const OP_TEXT: Record<TablesOp, string> = {
  save: 'KVM_DEV_ARM_ITS_SAVE_TABLES (its_lock held, as the ioctl path): ITTs, device table, collection table',
  restore: 'KVM_DEV_ARM_ITS_RESTORE_TABLES into an emptied ITS (emptying not timed): collections, devices, ITEs, LPI references',
  dvWrite: 'plain DataView loop writing the same bytes as SAVE_TABLES (two setUint32 LE per 8-byte entry, same span)',
  dvRead: 'plain DataView loop reading the same bytes as RESTORE_TABLES (two getUint32 LE per 8-byte entry, same span)',
};

const NAME: Record<TablesOp, string> = { save: 'save-tables', restore: 'restore-tables', dvWrite: 'dataview-write', dvRead: 'dataview-read' };

/** One figure of one table size; also used by the curves command for other sizes (figures of a size share a worker). */
export function tablesBench(op: TablesOp, size: { readonly label: string; readonly ites: number }): Benchmark {
  const name = (o: TablesOp) => `save.${NAME[o]}-${size.label}`;
  const extra: Partial<Benchmark> =
    op === 'save' ? { baseline: name('dvWrite'), targets: [{ maxRatio: 4, source: 'issue 4: >= 0.25 of the DataView loop' }] }
    : op === 'restore' ? { baseline: name('dvRead'), compare: [name('dvWrite')], targets: [{ maxRatio: 4, source: 'issue 4: >= 0.25 of the DataView loop' }] }
    : {};
  return {
    name: name(op),
    group: 'save',
    title: `${OP_TEXT[op]}; ${size.ites.toLocaleString('en-US')} ITEs (${Math.ceil(size.ites / 1024)} device(s) x <= 1,024 events, ${COLLECTIONS} collections); per ITE (1e9 / this = entries/s)`,
    unit: 'ns/ITE',
    ...extra,
    async open(ctx): Promise<Session> {
      const lab = await acquireLab(size.ites);
      try {
        const ops = Math.max(1, Math.round(entriesPerRep(ctx) / size.ites));
        const rep = async () => ((await request(lab, { op, ops })) * 1e6) / (ops * size.ites);
        await rep(); // warm-up
        return {
          rep: `${ops.toLocaleString('en-US')} operation${ops > 1 ? 's' : ''} of ${size.ites.toLocaleString('en-US')} ITEs, timed time / ITEs`,
          sample: async () => [await rep()],
          close: () => releaseLab(size.ites, lab),
        };
      } catch (e) {
        await releaseLab(size.ites, lab);
        throw e;
      }
    },
  };
}

// ---- the whole cycle on a VM -------------------------------------------------------------------------------

const VM_VCPUS = 8;
const VM_ITES = 64 * 1024;

function check(what: string, r: number): void {
  if (r !== 0) throw new Error(`${what}: ${errnoName(r)}`);
}

/** A userspace distributor/redistributor register write (the handlers a guest reaches; see migrate/steps.ts). */
async function distWrite(vm: GicVm, region: number, offset: number, size: number, value: bigint): Promise<void> {
  await vm.rt.client.requestAsync(vm.gic.shared.distActor, OP_MMIO_WRITE, [
    region, offset, size, Number(value & 0xffffffffn) | 0, Number(value >> 32n) | 0,
  ]);
}

const vmCycle: Benchmark = {
  name: 'save.vm-cycle-8x64k',
  group: 'save',
  title: `${VM_VCPUS}-vCPU VM (idle guest), ITS with ${VM_ITES.toLocaleString('en-US')} ITEs: pause -> SAVE_TABLES -> SAVE_PENDING_TABLES -> read BASERs/CTLR -> CTRL_RESET -> write BASERs -> RESTORE_TABLES -> write CTLR -> resume (device attrs, same VM)`,
  unit: 'ms',
  async open(ctx): Promise<Session> {
    const vm = await createVm({ vcpus: VM_VCPUS, guest: 'idle' });
    try {
      check('vm.start()', await vm.start());
      check('vm.pause()', await vm.pause());
      // Guest RAM: the image 16 MiB into RAM; redistributors as a guest would program them.
      const L = imageLayout(VM_DEFAULTS.ramBase + 0x100_0000, VM_ITES);
      const mem = vm.rt.mem;
      const span = mem.span(L.base, L.bytes);
      if (span === undefined) throw new Error('image does not fit in guest RAM');
      writeImage(span.dv, span.offset, L);
      writePropTable(mem, L, makeLpiProp(0xa0, true));
      for (let v = 0; v < VM_VCPUS; v++) {
        await distWrite(vm, 1 + v, GICR_PROPBASER, 8, makeGicrPropbaser({ address: L.propTable, idBits: 15 }));
        await distWrite(vm, 1 + v, GICR_PENDBASER, 8, makeGicrPendbaser({ address: L.pendTable(v) }));
      }
      for (let v = 0; v < VM_VCPUS; v++) await distWrite(vm, 1 + v, GICR_CTLR, 4, 1n);
      await distWrite(vm, REGION_GICD, GICD_CTLR, 4, 2n);
      const its = vm.gic.its[0]!;
      const baser0 = makeGitsBaser({ valid: true, type: GITS_BASER_TYPE_DEVICE, entrySize: 8, address: L.deviceTable, size: 0 });
      const baser1 = makeGitsBaser({ valid: true, type: GITS_BASER_TYPE_COLLECTION, entrySize: 8, address: L.collectionTable, size: 0 });
      const reg = async (offset: number, v: bigint) => check(`write ITS register 0x${offset.toString(16)}`, await its.setAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, offset, v));
      const ctrl = async (what: string, attr: number) => check(what, await its.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, attr));
      const get = async (offset: number): Promise<bigint> => {
        const r = await its.getAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, offset);
        check(`read ITS register 0x${offset.toString(16)}`, r.ret);
        return r.value ?? 0n;
      };
      await reg(gitsBaserOffset(0), baser0);
      await reg(gitsBaserOffset(1), baser1);
      await ctrl('RESTORE_TABLES (setup)', KVM_DEV_ARM_ITS_RESTORE_TABLES);
      check('vm.resume()', await vm.resume());

      const cycle = async (): Promise<number> => {
        await sleep(2); // vCPUs back in WFI
        const t0 = performance.now();
        check('vm.pause()', await vm.pause());
        await ctrl('SAVE_TABLES', KVM_DEV_ARM_ITS_SAVE_TABLES);
        check('SAVE_PENDING_TABLES', await vm.gic.v3.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES));
        const b0 = await get(gitsBaserOffset(0)), b1 = await get(gitsBaserOffset(1)), ctlr = await get(GITS_CTLR);
        await ctrl('CTRL_RESET', KVM_DEV_ARM_ITS_CTRL_RESET);
        await reg(gitsBaserOffset(0), b0);
        await reg(gitsBaserOffset(1), b1);
        await ctrl('RESTORE_TABLES', KVM_DEV_ARM_ITS_RESTORE_TABLES);
        await reg(GITS_CTLR, ctlr);
        check('vm.resume()', await vm.resume());
        const t1 = performance.now();
        if (vm.faults.length > 0) throw new Error(`VM fault: ${vm.faults[0]!.source}: ${vm.faults[0]!.message}`);
        return t1 - t0;
      };
      const warm = ctx.pick({ full: 2, quick: 1, smoke: 1 });
      for (let i = 0; i < warm; i++) await cycle();
      const perRound = ctx.pick({ full: 2, quick: 1, smoke: 1 });
      return {
        rep: 'one whole cycle, pause() call to resume() resolution',
        async sample() {
          const out: number[] = [];
          for (let i = 0; i < perRound; i++) out.push(await cycle());
          return out;
        },
        close: () => vm.destroy(),
      };
    } catch (e) {
      await vm.destroy();
      throw e;
    }
  },
};

export const saveRestoreBenchmarks: Benchmark[] = [
  ...SIZES.flatMap((s) => (['dvWrite', 'save', 'dvRead', 'restore'] as const).map((op) => tablesBench(op, s))),
  vmCycle,
];
