/**
 * The soak (issue 7): a short run of the whole thing on a small VM, every
 * figure checked; and the CLI's rows, JSON and usage errors.
 */
import { describe, expect, it } from 'vitest';
import { runSoak } from '../dist/src/reliability/soak.js';
import { cli } from './helpers/run-node.js';

describe('soak', () => {
  it('storm + churn + SAVE attempts + pause/resume + save/restore in place + migration: nothing lost, no phantom, no finding, no fault', async () => {
    const rows: number[] = [];
    const r = await runSoak({
      seconds: 4, vcpus: 4, its: 2, events: 8, intervalSeconds: 1, saveEverySeconds: 0.7, migrateEverySeconds: 1.8, seed: 3,
      onRow: (row) => rows.push(row.interval),
    });
    expect(r.errors).toEqual([]);
    expect(r.rows.length).toBeGreaterThanOrEqual(3);
    expect(rows).toEqual(r.rows.map((x) => x.interval));
    expect(r.totals.msis).toBeGreaterThan(0);
    expect(r.totals.lpis).toBeGreaterThan(0);
    expect(r.totals.commandRounds).toBeGreaterThan(0);
    expect(r.totals.saves).toBeGreaterThanOrEqual(2 * 2); // at least one in place and one migration, both ITSs
    expect(r.totals.migrations).toBeGreaterThanOrEqual(1);
    expect(r.totals.saveAttempts).toBeGreaterThan(0);
    expect(r.totals.ebusy).toBe(r.totals.saveAttempts);
    expect(r.conservation.accepted).toBe(r.totals.msis);
    expect(r.conservation).toMatchObject({ lost: 0, phantom: 0 });
    expect(r.totals).toMatchObject({ lost: 0, phantom: 0, findings: 0, faults: 0 });
    expect(r.memory).toMatchObject({ gc: true, judged: false, flat: true }); // 4 s say nothing about retention
    expect(r.ok).toBe(true);
  });

  it('bad options are RangeErrors naming the option', async () => {
    await expect(runSoak({ vcpus: 1 })).rejects.toThrow(/options\.vcpus/);
    await expect(runSoak({ its: 5 })).rejects.toThrow(/options\.its/);
    await expect(runSoak({ seconds: -1 })).rejects.toThrow(/options\.seconds/);
  });

  it('vgic-lab soak --json prints one document with rows and totals; bad flags exit 2', async () => {
    const r = await cli(['soak', '--seconds', '2', '--vcpus', '2', '--its', '1', '--interval-s', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { ok: boolean; rows: unknown[]; totals: { lost: number; phantom: number } };
    expect(doc.ok).toBe(true);
    expect(doc.rows.length).toBeGreaterThanOrEqual(1);
    expect(doc.totals).toMatchObject({ lost: 0, phantom: 0 });
    const bad = await cli(['soak', '--its', '9']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--its/);
  });
});
