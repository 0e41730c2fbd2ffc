/**
 * LPI lifetime against the lock-free MSI path: a freed LPI is on no ap_list,
 * and re-creating it never leaves a second copy queued, whatever a racing
 * cache-hit setPending() does (found in review: freeing used to unqueue
 * before clearing the pending state).
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { VcpuBlock } from '../dist/src/kvm/vcpu-block.js';
import { C_AP_COUNT, D_GICD_CTLR, VgicState } from '../dist/src/vgic/vgic-state.js';
import { Vgic } from '../dist/src/vgic/vgic.js';

const X = 8200;

describe('LPI lifetime vs the cache-hit MSI path', () => {
  it('a freed LPI is never left on an ap_list, and never queued twice after re-creation', async () => {
    const st = VgicState.create({ nrVcpus: 1, cacheCapacity: 2 });
    const vb = VcpuBlock.create(1, 4);
    const ctl = new SharedArrayBuffer(12);
    const s = new VgicState(st);
    Atomics.store(s.i32, D_GICD_CTLR, 2);
    const mem = { read8: () => 0xa1, write8: () => 0 };
    new Vgic(s, new VcpuBlock(vb), mem as never, 1).getLpi(X, 0);
    const url = new URL('./fixtures/lpi-race-worker.mjs', import.meta.url);
    const workers = ['inject', 'its'].map((role, i) =>
      new Worker(url, { workerData: { st, vb, ctl, role, tid: 2 + i, intid: X, iterations: 20_000 } }));
    try {
      await Promise.all(workers.map((w) => new Promise((resolve, reject) => { w.on('exit', resolve); w.on('error', reject); })));
      const c = new Int32Array(ctl);
      expect(c[2]).toBe(20_000);
      expect(c[1], 'times the freed LPI was still listed').toBe(0);
      const n = Atomics.load(s.i32, s.cpu(0) + C_AP_COUNT);
      const copies = Array.from({ length: n }, (_, k) => Atomics.load(s.i32, s.apEntry(0, k))).filter((i) => i === X).length;
      expect(copies).toBeLessThanOrEqual(1);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });
});
