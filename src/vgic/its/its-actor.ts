/**
 * The ITS actor: one per ITS device, on an actor-host worker. It owns the
 * Its (registers, command queue, translation state) and serves
 *   OP_MMIO_READ   [region, offset, size]         -> 0, values [lo, hi]
 *   OP_MMIO_WRITE  [region, offset, size, lo, hi] -> 0
 *   OP_ITS_MSI     [devid, eventid]               -> 1, 0 or -errno
 *   OP_ITS_STATS, OP_ITS_RESULT_COUNT             (inspection, see its-ops.ts)
 *   OP_ITS_SNAPSHOT [queryId]                      -> bulk ItsSnapshot, 0
 *   OP_ITS_CTRL    [attr]                          -> SAVE/RESTORE/RESET under the lock protocol
 *   OP_ITS_UACCESS [write, offset, lo, hi, baseSet] -> GRP_ITS_REGS under the lock protocol
 * A trapped vCPU access arrives here while the vCPU holds its vcpu.mutex and
 * waits; the locks taken here (cmd_lock, its_lock) are the kernel's, taken on
 * this thread on the requester's behalf. The VMM writes the ITS record
 * (I_ACTOR, I_BASE_*, I_LIVE) when it creates the ITS; this actor keeps
 * I_ENABLED current.
 */
import { M_ARGS, M_OP, OP_MMIO_READ, OP_MMIO_WRITE, REPLY_NO_ACTOR } from '../../actors/protocol.js';
import type { Actor, ActorContext } from '../../actors/host.js';
import type { VmRuntime } from '../../kvm/shared.js';
import { ItsCache } from '../its-cache.js';
import { VGIC_DEVICE_KEY, type VgicShared } from '../layout.js';
import { Vgic } from '../vgic.js';
import { VgicState } from '../vgic-state.js';
import { Its } from './its.js';
import { OP_ITS_CTRL, OP_ITS_MSI, OP_ITS_RESULT_COUNT, OP_ITS_SNAPSHOT, OP_ITS_STATS, OP_ITS_UACCESS } from './its-ops.js';
import { ItsIoctl } from './its-ioctl.js';
import { pathLocks } from '../lock-protocol.js';
import { itsResultCount } from './its-stats.js';
import { gitsMmioOperation, itsCtrlOperation, OPN_ITS_REGS_UACCESS, OPN_MSI_TRANSLATE } from '../../sync/operations.js';

export interface ItsActorInit {
  /** This ITS's number in the VM (cache slot, ITS record). */
  index: number;
  /** Arena index of its->cmd_lock. */
  cmdLock: number;
  /** Arena index of its->its_lock. */
  itsLock: number;
}

/** The actor, with its Its exposed for in-thread tests. */
export interface ItsActor extends Actor {
  readonly its: Its;
}

export default function createItsActor(ctx: ActorContext<VmRuntime>, init: ItsActorInit): ItsActor {
  for (const k of ['index', 'cmdLock', 'itsLock'] as const) {
    if (!Number.isInteger(init?.[k]) || init[k] < 0) throw new TypeError(`ITS actor: init.${k} must be a non-negative integer`);
  }
  const rt = ctx.env;
  const shared = rt.shared.devices[VGIC_DEVICE_KEY] as VgicShared | undefined;
  if (shared === undefined) throw new TypeError('ITS actor: the VM has no vGIC (devices[VGIC_DEVICE_KEY])');
  const st = new VgicState(shared.state);
  const its = new Its({
    index: init.index,
    vgic: new Vgic(st, rt.vcpus, rt.devMem, rt.tid),
    cache: new ItsCache(st, rt.tid),
    mem: rt.devMem,
    cmdLock: rt.thread.mutex(init.cmdLock),
    itsLock: rt.thread.mutex(init.itsLock),
    movallAllLpis: shared.movallAllLpis,
  });

  const ioctl = new ItsIoctl(rt, its, pathLocks(rt, init), shared.lockProtocol, shared.blockingVcpuLocks);

  return {
    its,
    handle(m, b) {
      switch (m[b + M_OP]) {
        case OP_MMIO_READ: {
          rt.thread.setOperation(gitsMmioOperation(false, m[b + M_ARGS + 1]! >>> 0)); // the host clears it after the message
          const v = its.mmioRead(m[b + M_ARGS + 1]! >>> 0, m[b + M_ARGS + 2]!);
          ctx.reply(m, b, 0, Number(v & 0xffff_ffffn) | 0, Number((v >> 32n) & 0xffff_ffffn) | 0);
          return;
        }
        case OP_MMIO_WRITE: {
          const v = (BigInt(m[b + M_ARGS + 4]! >>> 0) << 32n) | BigInt(m[b + M_ARGS + 3]! >>> 0);
          rt.thread.setOperation(gitsMmioOperation(true, m[b + M_ARGS + 1]! >>> 0));
          its.mmioWrite(m[b + M_ARGS + 1]! >>> 0, m[b + M_ARGS + 2]!, v);
          ctx.reply(m, b, 0);
          return;
        }
        case OP_ITS_MSI:
          rt.thread.setOperation(OPN_MSI_TRANSLATE);
          ctx.reply(m, b, its.injectMsi(m[b + M_ARGS]! >>> 0, m[b + M_ARGS + 1]! >>> 0));
          return;
        case OP_ITS_STATS: {
          const s = its.stats;
          ctx.reply(m, b, 0, s.processed, s.unreadable, s.failed, s.msi.delivered, s.msi.blocked, s.msi.busy,
            its.tr.devices.size, its.tr.collections.size, its.tr.iteCount(), its.enabled ? 1 : 0, its.creadr, its.cwriter);
          return;
        }
        case OP_ITS_CTRL:
          rt.thread.setOperation(itsCtrlOperation(m[b + M_ARGS]!));
          ctx.reply(m, b, ioctl.ctrl(m[b + M_ARGS]!));
          return;
        case OP_ITS_UACCESS: {
          rt.thread.setOperation(OPN_ITS_REGS_UACCESS);
          const value = (BigInt(m[b + M_ARGS + 3]! >>> 0) << 32n) | BigInt(m[b + M_ARGS + 2]! >>> 0);
          const r = ioctl.regs(m[b + M_ARGS]! !== 0, m[b + M_ARGS + 1]! >>> 0, value, m[b + M_ARGS + 4]! !== 0);
          const v = r.value ?? 0n;
          ctx.reply(m, b, r.ret, Number(v & 0xffff_ffffn) | 0, Number((v >> 32n) & 0xffff_ffffn) | 0);
          return;
        }
        case OP_ITS_SNAPSHOT:
          ctx.sendBulk(m[b + M_ARGS]!, its.snapshot());
          ctx.reply(m, b, 0);
          return;
        case OP_ITS_RESULT_COUNT:
          ctx.reply(m, b, itsResultCount(its.stats, m[b + M_ARGS]!, m[b + M_ARGS + 1]!));
          return;
        default:
          ctx.reply(m, b, REPLY_NO_ACTOR);
      }
    },
  };
}

/** Module URL to pass to vm.spawnActor(). */
export const ITS_ACTOR_MODULE = new URL('./its-actor.js', import.meta.url).href;
