/**
 * A scratch MMIO device actor for tests and benchmarks: a bank of 64-bit
 * registers, read and written by trapped vCPU accesses (8/16/32/64-bit,
 * naturally aligned; anything else is RAZ/WI like an unclaimed access).
 * Optionally takes a lock of the VM around every write, so tests can make a
 * device path contend with other threads through a real shared-memory lock.
 */
import { M_ARGS, M_OP, OP_MMIO_READ, OP_MMIO_WRITE } from '../actors/protocol.js';
import type { Actor, ActorContext } from '../actors/host.js';
import type { VmRuntime } from '../kvm/shared.js';

export interface ScratchInit {
  /** Number of 64-bit registers (the frame is registers * 8 bytes). */
  registers: number;
  /** Lock index taken around each write (optional). */
  lock?: number;
}

export default function createScratch(ctx: ActorContext<VmRuntime>, init: ScratchInit): Actor {
  const regs = new BigUint64Array(init.registers);
  const lock = init.lock === undefined ? undefined : ctx.env.thread.mutex(init.lock);
  return {
    handle(i32, b) {
      const op = i32[b + M_OP];
      const offset = i32[b + M_ARGS + 1]! >>> 0;
      const size = i32[b + M_ARGS + 2]!;
      const aligned = [1, 2, 4, 8].includes(size) && offset % size === 0 && offset + size <= regs.length * 8;
      const reg = offset >>> 3, shift = BigInt((offset & 7) * 8), mask = (1n << BigInt(size * 8)) - 1n;
      if (op === OP_MMIO_READ) {
        const v = aligned ? (regs[reg]! >> shift) & mask : 0n;
        ctx.reply(i32, b, 0, Number(v & 0xffffffffn) | 0, Number(v >> 32n) | 0);
      } else if (op === OP_MMIO_WRITE) {
        if (aligned) {
          const v = ((BigInt(i32[b + M_ARGS + 4]! >>> 0) << 32n) | BigInt(i32[b + M_ARGS + 3]! >>> 0)) & mask;
          lock?.lock();
          regs[reg] = (regs[reg]! & ~(mask << shift)) | (v << shift);
          lock?.unlock();
        }
        ctx.reply(i32, b, 0);
      } else {
        ctx.reply(i32, b, -22);
      }
    },
  };
}

/** Module URL to pass to vm.spawnActor(). */
export const SCRATCH_DEVICE = new URL('./scratch.js', import.meta.url).href;
