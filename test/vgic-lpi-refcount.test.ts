/**
 * LPI references across threads: getLpi() raises the count of an existing
 * LPI without the LPI-set lock (as today's vgic_add_lpi), which must never
 * revive an LPI a racing putLpi() is freeing. Three threads take and drop
 * references on one INTID with no other reference held, so it is created
 * and freed all the time under them.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { VcpuBlock } from '../dist/src/kvm/vcpu-block.js';
import { D_GICD_CTLR, L_GEN, L_REFS, L_TARGET, VgicState } from '../dist/src/vgic/vgic-state.js';

const X = 8300;
const THREADS = 3;
const ITERATIONS = 300_000;

describe('LPI references: the lock-free get vs create and free', () => {
  it('a thread holding a reference always sees a live LPI; the count ends at 0 and the LPI freed', async () => {
    const st = VgicState.create({ nrVcpus: 1, cacheCapacity: 2 });
    const vb = VcpuBlock.create(1, 4);
    const ctl = new SharedArrayBuffer(12);
    const s = new VgicState(st);
    Atomics.store(s.i32, D_GICD_CTLR, 2);
    const url = new URL('./fixtures/lpi-ref-worker.mjs', import.meta.url);
    const workers = Array.from({ length: THREADS }, (_, i) =>
      new Worker(url, { workerData: { st, vb, ctl, tid: 2 + i, intid: X, iterations: ITERATIONS, threads: THREADS } }));
    try {
      await Promise.all(workers.map((w) => new Promise((resolve, reject) => { w.on('exit', resolve); w.on('error', reject); })));
      const c = new Int32Array(ctl);
      expect(c[2]).toBe(THREADS * ITERATIONS);
      expect(c[1], 'times a held reference named a dead LPI').toBe(0);
      const l = s.lpi(X);
      expect(Atomics.load(s.i32, l + L_REFS)).toBe(0);
      expect(Atomics.load(s.i32, l + L_TARGET)).toBe(-1);
      // Created at least once, at most once per reference taken.
      const gen = Atomics.load(s.i32, l + L_GEN);
      expect(gen).toBeGreaterThan(0);
      expect(gen).toBeLessThanOrEqual(THREADS * ITERATIONS);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });
});
