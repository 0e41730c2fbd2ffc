/**
 * Operation names (src/sync/operations.ts): a static table whose ids never
 * move, the register and attribute mappings the ITS actor and the VMM use,
 * and asyncOperation's rule on the main thread: an operation that has ended
 * never names a later lock.
 */
import { describe, expect, it } from 'vitest';
import { LockArena, ThreadContext } from '../dist/src/sync/index.js';
import {
  OPERATIONS, asyncOperation, gitsMmioOperation, itsAttrOperation, operationId, operationName,
} from '../dist/src/sync/operations.js';
import { uapi } from '../dist/src/index.js';

const name = (id: number) => operationName(id);

describe('operation names', () => {
  it('is a static table: ids are positions, the first one is none, unknown ids still print', () => {
    expect(OPERATIONS[0]).toBe('none');
    expect(new Set(OPERATIONS).size).toBe(OPERATIONS.length);
    for (const [i, n] of OPERATIONS.entries()) expect(operationId(n)).toBe(i);
    expect(operationName(999)).toBe('op 999');
    expect(operationId('no such thing')).toBe(-1);
  });

  it('names guest ITS register accesses by register, either half of a 64-bit one', () => {
    expect(name(gitsMmioOperation(true, 0x88))).toBe('CWRITER write');
    expect(name(gitsMmioOperation(true, 0x8c))).toBe('CWRITER write');
    expect(name(gitsMmioOperation(true, 0x00))).toBe('GITS_CTLR write');
    expect(name(gitsMmioOperation(false, 0x00))).toBe('GITS_CTLR read');
    expect(name(gitsMmioOperation(true, 0x80))).toBe('GITS_CBASER write');
    expect(name(gitsMmioOperation(true, 0x138))).toBe('GITS_BASER write');
    expect(name(gitsMmioOperation(true, 0x90))).toBe('MMIO write');
    expect(name(gitsMmioOperation(false, 0x88))).toBe('MMIO read');
  });

  it('names ITS device attributes by group and attribute', () => {
    const ctrl = uapi.KVM_DEV_ARM_VGIC_GRP_CTRL;
    expect(name(itsAttrOperation(ctrl, uapi.KVM_DEV_ARM_ITS_SAVE_TABLES))).toBe('SAVE_TABLES');
    expect(name(itsAttrOperation(ctrl, uapi.KVM_DEV_ARM_ITS_RESTORE_TABLES))).toBe('RESTORE_TABLES');
    expect(name(itsAttrOperation(ctrl, uapi.KVM_DEV_ARM_ITS_CTRL_RESET))).toBe('CTRL_RESET');
    expect(name(itsAttrOperation(uapi.KVM_DEV_ARM_VGIC_GRP_ITS_REGS, 0x88))).toBe('ITS regs uaccess');
    expect(name(itsAttrOperation(uapi.KVM_DEV_ARM_VGIC_GRP_ADDR, 0))).toBe('ITS GRP_ADDR');
  });
});

describe('asyncOperation on one thread word', () => {
  const thread = () => ThreadContext.register(LockArena.create({ classes: 4, threads: 4, locks: 4 }, 'off'), 'vmm', 0, 'VMM');

  it('names the thread while the operation runs and clears the name at its end', async () => {
    const t = thread();
    let inside = -1;
    await asyncOperation(t, operationId('pause'), async () => {
      await Promise.resolve();
      inside = t.operation;
    });
    expect(name(inside)).toBe('pause');
    expect(t.operation).toBe(0);
    expect(t.arena.threadInfo(t.tid).operation).toBe(0);
  });

  it('overlapping operations: the one that ends first does not clear the other\'s name, the last leaves none', async () => {
    const t = thread();
    let releaseA!: () => void, releaseB!: () => void;
    const a = asyncOperation(t, operationId('pause'), () => new Promise<void>((r) => (releaseA = r)));
    const b = asyncOperation(t, operationId('SAVE_TABLES'), () => new Promise<void>((r) => (releaseB = r)));
    expect(name(t.operation)).toBe('SAVE_TABLES');
    releaseA();
    await a;
    expect(name(t.operation)).toBe('SAVE_TABLES');
    releaseB();
    await b;
    expect(t.operation).toBe(0);
  });

  it('a failing operation clears its name too', async () => {
    const t = thread();
    await expect(asyncOperation(t, operationId('lockAllVcpus'), () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(t.operation).toBe(0);
  });
});
