/**
 * The command-stream fuzzer (src/reliability/fuzz/commands.ts) on a live VM:
 * a short fixed-seed run passes every property and reaches what they are
 * about (mappings, disabled queues, moved queues, raw CWRITER values,
 * conservation checks, translation probes); the reserved witnesses are never
 * named by a sanitised stream; and with the sanitiser off (sabotage) the
 * conservation/translation checks do fail, with a path that replays.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runFuzz } from '../dist/src/reliability/fuzz/index.js';
import { COMMANDS_LAYOUT } from '../dist/src/reliability/fuzz/commands.js';
import { streamArbitraries } from '../dist/src/reliability/fuzz/commands-stream.js';
import { decodeItsCommand } from '../dist/src/uapi/its-cmd.js';

describe('fuzz target commands', () => {
  it('a fixed-seed run of random command streams with MSIs meanwhile: no property fails, and the cases reach what they check', async () => {
    const r = await runFuzz({ target: 'commands', seed: 20_171, runs: 16 });
    expect(r.failures, JSON.stringify(r.failures)).toEqual([]);
    expect(r.cases).toBe(16);
    const s = r.stats;
    expect(s['conservation checks']).toBe(16);
    expect(s['reserved MSI 1']).toBeGreaterThan(16);
    expect(s['commands written']).toBeGreaterThan(100);
    expect(s['ITEs at the end']! - 4 * 16, 'fuzz ITEs besides the reserved device').toBeGreaterThan(0);
    expect(s['translation probes']).toBeGreaterThan(16 * 16);
    for (const a of ['cmds', 'cwriter', 'disabled', 'cbaser']) expect(s[`action ${a}`], a).toBeGreaterThan(0);
  }, 60_000);

  it('sanitised streams never name the reserved device, LPIs or collection, and no ITT covers protected RAM', () => {
    const l = COMMANDS_LAYOUT;
    const r = l.reserved;
    let seen = 0;
    fc.assert(fc.property(streamArbitraries(l).command, (b) => {
      const c = decodeItsCommand(b);
      if ('deviceId' in c && c.cmd !== 'INV') expect(c.deviceId).not.toBe(r.deviceId);
      if (c.cmd === 'MAPTI') expect(c.pintid >= r.firstIntid && c.pintid < r.firstIntid + r.intids).toBe(false);
      if (c.cmd === 'MAPI') expect(c.eventId >= r.firstIntid && c.eventId < r.firstIntid + r.intids).toBe(false);
      if (c.cmd === 'MAPC') expect(c.icid).not.toBe(r.icid);
      if (c.cmd === 'MAPD') {
        const end = c.ittAddr + 2 ** (c.size + 1) * 8;
        expect(c.ittAddr >= l.protect.base + l.protect.size || end <= l.protect.base, `ITT 0x${c.ittAddr.toString(16)}`).toBe(true);
        seen++;
      }
    }), { seed: 7, numRuns: 3000 });
    expect(seen).toBeGreaterThan(100);
  });

  it('the checks can fail: streams allowed to touch the reserved witnesses are caught, and the failure replays', async () => {
    const r = await runFuzz({ target: 'commands', seed: 3, runs: 40, sabotage: true, shrinkMs: 2_000 });
    expect(r.failures).toHaveLength(1);
    const f = r.failures[0]!;
    expect(f.message).toMatch(/reserved|conservation|translation/);
    expect(f.path).toMatch(/^\d+(:\d+)*$/);
    const again = await runFuzz({ target: 'commands', replay: { seed: f.seed, path: f.path }, sabotage: true });
    expect(again.cases).toBe(1);
    // Which reserved event an MSI hits first after the breakage depends on timing; that it fails does not.
    expect(again.failures).toHaveLength(1);
    expect(again.failures[0]!.message).toMatch(/reserved|conservation|translation/);
  }, 60_000);
});
