/**
 * The distributor/redistributor actor: the GICD frame and every vCPU's
 * redistributor frame (RD_base + SGI_base), reached by trapped vCPU MMIO.
 * It owns these registers; LPI state itself lives in shared memory (Vgic),
 * so this actor changes it with the same operations the ITS actors use.
 * A GICR write is served on behalf of the requesting vCPU, which holds its
 * vcpu.mutex; GICR_CTLR needs no lock of its own (a CAS, as in KVM).
 *
 * Mirrors vgic-mmio-v3.c (GICD_CTLR/TYPER/IIDR, GICR_CTLR/TYPER/PROPBASER/
 * PENDBASER/INVLPIR/INVALLR/SYNCR).
 */
import { M_ARGS, M_OP, OP_MMIO_READ, OP_MMIO_WRITE } from '../actors/protocol.js';
import type { Actor, ActorContext } from '../actors/host.js';
import type { VmRuntime } from '../kvm/shared.js';
import {
  GICR_CTLR, GICR_CTLR_CES, GICR_CTLR_IR, GICR_IIDR, GICR_INVALLR, GICR_INVLPIR, GICR_PENDBASER, GICR_PENDBASER_PTZ,
  GICR_PIDR2, GICR_PROPBASER, GICR_SYNCR, GICR_TYPER, GICR_WAKER, gicrTyperValue, vgicPendbaserReadValue,
  vgicPendbaserWrite, vgicPropbaserWrite,
} from '../uapi/gic-fields.js';
import { extractBytes64 } from '../uapi/reg64.js';
import { ItsCache } from './its-cache.js';
import { OP_DIST_SAVE_PENDING } from './its/its-ops.js';
import { acquire, pathLocks } from './lock-protocol.js';
import { OPN_SAVE_PENDING_TABLES } from '../sync/operations.js';
import { VGIC_DEVICE_KEY, type VgicShared } from './layout.js';
import { GICR_CTLR_ENABLE_LPIS, GICR_CTLR_RWP, Vgic } from './vgic.js';
import {
  GICD_CTLR, GICD_CTLR_ARE_NS, GICD_CTLR_ENABLE_G1, GICD_IIDR, GICD_PIDR2, GICD_TYPER, GICD_TYPER2,
} from '../uapi/gic-fields.js';
import { C_GICR_CTLR, C_PTZ, D_GICD_CTLR, D_NR_ITS, GIC_INTID_BITS, VgicState } from './vgic-state.js';

export { GICD_CTLR, GICD_TYPER, GICD_IIDR, GICD_TYPER2, GICD_PIDR2 } from '../uapi/gic-fields.js';
/** GICD_IIDR/GICR_IIDR: ProductID 'K', implementation revision 3 (KVM_VGIC_IMP_REV_3), implementer ARM. */
export const VGIC_IIDR = (0x4b << 24) | (3 << 12) | 0x43b;
/** PIDR2.ArchRev = GICv3. */
const PIDR2_GICV3 = 0x3b;

/** Region ids this actor serves: 0 = GICD, 1 + n = redistributor of vCPU n. */
export const REGION_GICD = 0;

interface Reg {
  /** Allowed access sizes in bytes. */
  sizes: readonly number[];
  read(vcpu: number, offset: number, size: number): bigint;
  write?(vcpu: number, offset: number, size: number, value: bigint): void;
}

export default function createDistActor(ctx: ActorContext<VmRuntime>): Actor {
  const rt = ctx.env;
  const shared = rt.shared.devices[VGIC_DEVICE_KEY] as VgicShared;
  const st = new VgicState(shared.state);
  const vgic = new Vgic(st, rt.vcpus, rt.devMem, rt.tid);
  const cache = new ItsCache(st, rt.tid);
  const i32 = st.i32;
  const w32 = (v: bigint) => Number(v & 0xffffffffn);

  const gicd = new Map<number, Reg>([
    [GICD_CTLR, {
      sizes: [4],
      read: () => BigInt((Atomics.load(i32, D_GICD_CTLR) & GICD_CTLR_ENABLE_G1) | GICD_CTLR_ARE_NS),
      write: (_v, _o, _s, value) => {
        const was = vgic.distEnabled();
        Atomics.store(i32, D_GICD_CTLR, w32(value) & GICD_CTLR_ENABLE_G1);
        if (!was && vgic.distEnabled()) vgic.requeueAll(); // vgic_kick_vcpus after enabling
      },
    }],
    [GICD_TYPER, {
      sizes: [4],
      read: () => {
        const its = vgic.st.hasIts();
        // ITLinesNumber 0 (no SPIs modelled), LPIS when an ITS exists, IDbits = 16 (or 10) - 1.
        return BigInt(((its ? GIC_INTID_BITS : 10) - 1) << 19 | (its ? 1 << 17 : 0));
      },
    }],
    [GICD_IIDR, { sizes: [4], read: () => BigInt(VGIC_IIDR) }],
    [GICD_TYPER2, { sizes: [4], read: () => 0n }],
    [GICD_PIDR2, { sizes: [4], read: () => BigInt(PIDR2_GICV3) }],
  ]);

  const gicr = new Map<number, Reg>([
    [GICR_CTLR, {
      sizes: [4],
      read: (v) => BigInt(Atomics.load(i32, st.cpu(v) + C_GICR_CTLR) | GICR_CTLR_CES | GICR_CTLR_IR),
      write: (v, _o, _s, value) => writeGicrCtlr(v, (w32(value) & GICR_CTLR_ENABLE_LPIS) !== 0),
    }],
    [GICR_IIDR, { sizes: [4], read: () => BigInt(VGIC_IIDR) }],
    [GICR_TYPER, {
      sizes: [4, 8],
      read: (v, o, s) => extractBytes64(gicrTyperValue({ vcpuId: v, last: v === st.nrVcpus - 1, hasIts: st.hasIts() }), o - GICR_TYPER, s),
    }],
    [GICR_WAKER, { sizes: [4], read: () => 0n, write: () => {} }],
    [GICR_PROPBASER, {
      sizes: [4, 8],
      read: (_v, o, s) => extractBytes64(st.propbaser(), o - GICR_PROPBASER, s),
      write: (v, o, s, value) => {
        // Frozen once this vCPU has LPIs enabled (or a disable is in progress).
        if (Atomics.load(i32, st.cpu(v) + C_GICR_CTLR) !== 0) return;
        st.setPropbaser(vgicPropbaserWrite(st.propbaser(), o - GICR_PROPBASER, s, value));
      },
    }],
    [GICR_PENDBASER, {
      sizes: [4, 8],
      read: (v, o, s) => extractBytes64(vgicPendbaserReadValue(st.pendbaser(v)), o - GICR_PENDBASER, s),
      write: (v, o, s, value) => {
        if (Atomics.load(i32, st.cpu(v) + C_GICR_CTLR) !== 0) return;
        const next = vgicPendbaserWrite(st.pendbaser(v), o - GICR_PENDBASER, s, value);
        st.setPendbaser(v, next);
        Atomics.store(i32, st.cpu(v) + C_PTZ, (next & GICR_PENDBASER_PTZ) !== 0n ? 1 : 0);
      },
    }],
    [GICR_INVLPIR, {
      sizes: [4, 8],
      read: () => 0n,
      write: (_v, o, _s, value) => {
        if (o !== GICR_INVLPIR) return;
        const intid = w32(value);
        if (vgic.lpiExists(intid)) vgic.reloadConfig(intid);
      },
    }],
    [GICR_INVALLR, {
      sizes: [4, 8],
      read: () => 0n,
      write: (v, o) => {
        if (o !== GICR_INVALLR) return;
        for (const intid of vgic.lpis(v)) vgic.reloadConfig(intid);
      },
    }],
    [GICR_SYNCR, { sizes: [4], read: () => 0n }],
    [GICR_PIDR2, { sizes: [4], read: () => BigInt(PIDR2_GICV3) }],
  ]);

  /** GICR_CTLR.EnableLPIs, today's state machine (spec 1.4). Ignored without an ITS. */
  function writeGicrCtlr(v: number, enable: boolean): void {
    if (!st.hasIts()) return;
    const w = st.cpu(v) + C_GICR_CTLR;
    if (enable) {
      if (Atomics.compareExchange(i32, w, 0, GICR_CTLR_ENABLE_LPIS) === 0) vgic.syncPendingTable(v);
      return;
    }
    if (Atomics.compareExchange(i32, w, GICR_CTLR_ENABLE_LPIS, GICR_CTLR_RWP) !== GICR_CTLR_ENABLE_LPIS) return;
    vgic.flushPendingLpis(v);
    cache.invalidateAll(Atomics.load(i32, D_NR_ITS));
    Atomics.store(i32, w, 0);
  }

  /** Find the register covering [offset, offset+size) honouring the access rule; undefined = RAZ/WI. */
  function lookup(table: Map<number, Reg>, offset: number, size: number): Reg | undefined {
    if (offset % size !== 0) return undefined;
    const reg = table.get(offset) ?? table.get(offset - 4);
    if (reg === undefined || !reg.sizes.includes(size)) return undefined;
    // The upper half of a 64-bit register is reachable with a 32-bit access only when 8 is allowed.
    if (!table.has(offset) && !reg.sizes.includes(8)) return undefined;
    return reg;
  }

  function access(region: number, offset: number, size: number, value: bigint | undefined): bigint {
    const isDist = region === REGION_GICD;
    const vcpu = region - 1;
    const table = isDist ? gicd : gicr;
    const regOffset = isDist ? offset : offset;
    const reg = lookup(table, regOffset, size);
    if (reg === undefined) return 0n;
    if (value === undefined) return reg.read(vcpu, regOffset, size);
    reg.write?.(vcpu, regOffset, size, value);
    return 0n;
  }

  return {
    handle(m, b) {
      const op = m[b + M_OP];
      const region = m[b + M_ARGS]!, offset = m[b + M_ARGS + 1]! >>> 0, size = m[b + M_ARGS + 2]!;
      if (op === OP_MMIO_READ) {
        const v = access(region, offset, size, undefined);
        ctx.reply(m, b, 0, Number(v & 0xffffffffn) | 0, Number(v >> 32n) | 0);
      } else if (op === OP_MMIO_WRITE) {
        const v = (BigInt(m[b + M_ARGS + 4]! >>> 0) << 32n) | BigInt(m[b + M_ARGS + 3]! >>> 0);
        access(region, offset, size, v);
        ctx.reply(m, b, 0);
      } else if (op === OP_DIST_SAVE_PENDING) {
        ctx.reply(m, b, savePending());
      } else {
        ctx.reply(m, b, -22);
      }
    },
  };

  /** SAVE_PENDING_TABLES under the VM's lock protocol (kvm.lock -> trylock vCPUs -> config_lock today). */
  function savePending(): number {
    rt.thread.setOperation(OPN_SAVE_PENDING_TABLES); // the host clears it after the message
    const release = acquire(shared.lockProtocol.savePending, pathLocks(rt), shared.blockingVcpuLocks);
    if (typeof release === 'number') return release;
    try {
      return vgic.savePendingTables();
    } finally {
      release();
    }
  }
}
