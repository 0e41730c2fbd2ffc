/**
 * The table-image fuzzer (src/reliability/fuzz/tables.ts) on a VM with
 * paused vCPUs: a short fixed-seed run passes (RESTORE_TABLES returns only
 * spec 5.4's errnos and what the reference restore says, all or nothing,
 * unmutated images round-trip) and reaches every outcome; fixed known-bad
 * images are handled; a broken reference is caught.
 */
import { describe, expect, it } from 'vitest';
import { runFuzz } from '../dist/src/reliability/fuzz/index.js';
import { tablesTarget } from '../dist/src/reliability/fuzz/tables.js';
import type { TablesCase } from '../dist/src/reliability/fuzz/tables-image.js';

const cfg: TablesCase['cfg'] = {
  indirect: false, dtSize: 0, extraL1: 0, dtAtEnd: false, ctAtEnd: false, ctSize: 0,
  collections: [{ icid: 1, target: 0 }, { icid: 2, target: 0xffff_ffff }],
  devices: [{ id: 5, bits: 3, events: [{ ev: 1, pintid: 8200, icidIdx: 0 }, { ev: 6, pintid: 8300, icidIdx: 1 }] }],
  pending: [{ vcpu: 0, intid: 8300 }],
};

describe('fuzz target tables', () => {
  it('a fixed-seed run of generated and mutated images: no property fails, and every restore outcome is reached', async () => {
    const r = await runFuzz({ target: 'tables', seed: 5_2017, runs: 50 });
    expect(r.failures, JSON.stringify(r.failures)).toEqual([]);
    const s = r.stats;
    for (const k of ['restore 0', 'restore -EINVAL', 'restore -EFAULT', 'restore -EEXIST', 'round trips']) expect(s[k], k).toBeGreaterThan(0);
    expect(s['mappings restored']).toBeGreaterThan(10);
  }, 60_000);

  it('known-bad images on one VM: a pINTID below 8192, an ITT outside RAM, a duplicate ICID, next past the ITT; then a clean one', async () => {
    const s = tablesTarget.open({});
    try {
      for (const mutations of [
        [{ m: 'ite-pintid' as const, dev: 0, ev: 0, pintid: 8191 }],
        [{ m: 'dte-itt' as const, dev: 0, where: 'outside' as const }],
        [{ m: 'cte-dup' as const, idx: 0 }],
        [{ m: 'ite-next' as const, dev: 0, ev: 0, next: 7 }],
        [],
      ]) await s.run({ cfg, mutations, mode: 'once' });
      await s.run({ cfg, mutations: [], mode: 'twice' });
      await s.run({ cfg, mutations: [], mode: 'running' });
    } finally {
      await s.close();
    }
    expect(s.stats['restore -EINVAL']).toBe(2);
    expect(s.stats['restore -EFAULT']).toBe(1);
    expect(s.stats['restore -EEXIST']).toBe(2); // the duplicate, and the second restore of 'twice'
    expect(s.stats['round trips']).toBe(1);
  }, 60_000);

  it('the checks can fail: a reference restore that takes an empty ITE slot for an error is caught', async () => {
    const r = await runFuzz({ target: 'tables', seed: 3, runs: 30, sabotage: true, shrinkMs: 2_000 });
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]!.message).toMatch(/the reference restore \(spec 5\.3\) says -EINVAL/);
    expect(r.failures[0]!.path).not.toBe('');
  }, 60_000);
});
