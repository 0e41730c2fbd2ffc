/**
 * Every script in examples/ runs as a user runs it (`node examples/x.mjs`, a
 * child process importing 'vgic-lab' by package name) and prints what it
 * claims: delivered MSIs, a guest's results, a VM restored in another
 * process, the inversion a custom lock protocol has, a user benchmark beside
 * its baseline. Expected values follow from each script's parameters.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNode } from './helpers/run-node.js';

const EXAMPLE = (name: string) => fileURLToPath(new URL(`../examples/${name}`, import.meta.url));
/** Child processes start VMs of their own on a loaded machine: generous, it only guards against a hang. */
const CHILD_MS = 90_000;

async function run(name: string, args: string[] = []): Promise<string[]> {
  const r = await runNode(EXAMPLE(name), args, CHILD_MS);
  expect(r.code, `${name} exit code; stderr: ${r.stderr}\nstdout: ${r.stdout}`).toBe(0);
  return r.stdout.trim().split('\n');
}

describe('examples/', () => {
  it('first-vm.mjs: 4 events x 3 rounds signalled, every MSI delivered, each vCPU handled its own LPI 3 times', async () => {
    const out = await run('first-vm.mjs');
    expect(out).toContain('MSIs signalled: 12, delivered: 12');
    for (let v = 0; v < 4; v++) expect(out).toContain(`vCPU ${v}: handled 3 LPIs (LPI ${8192 + v}: 3)`);
  }, CHILD_MS);

  it("custom-guest.mjs: each vCPU's program returns the LPIs of its events, handled twice, and the setup's command count", async () => {
    const out = await run('custom-guest.mjs');
    const results = out.map((l) => /^vCPU (\d): done, result (.*)$/.exec(l)).filter((m) => m !== null).map((m) => JSON.parse(m![2]!));
    expect(results).toEqual([
      // MAPC per vCPU (2), MAPD, MAPTI per event (6), SYNC per vCPU (2).
      { vcpu: 0, handled: { 8200: 2, 8202: 2, 8204: 2 }, commands: 2 + 1 + 6 + 2 },
      { vcpu: 1, handled: { 8201: 2, 8203: 2, 8205: 2 } },
    ]);
  }, CHILD_MS);

  it('snapshot-restore.mjs: restored in another process, equivalent, the LPI pending at save and fresh MSIs delivered', async () => {
    const out = await run('snapshot-restore.mjs');
    const pid = (re: RegExp) => Number(out.map((l) => re.exec(l)?.[1]).find((p) => p !== undefined));
    const src = pid(/^source \(pid (\d+)\)/), dst = pid(/^destination \(pid (\d+), a new process\)/);
    expect(src).toBeGreaterThan(0);
    expect(dst).toBeGreaterThan(0);
    expect(dst).not.toBe(src);
    expect(out).toContain('source: paused; MSI for event 1 while paused: 1 (LPI 8193 stays pending)');
    expect(out.find((l) => l.startsWith('destination ('))).toMatch(/translation-equivalent to the source: yes$/);
    expect(out).toContain('destination: LPI 8193 (pending at save) delivered to vCPU 1: yes');
    expect(out).toContain('destination: fresh MSIs delivered: 2/2, handled: yes');
  }, CHILD_MS);

  it('custom-protocol.mjs: derive names the two paths that disagree; the validator reports the config_lock <-> its_lock inversion with its operations', async () => {
    const out = (await run('custom-protocol.mjs')).join('\n');
    expect(out).toMatch(/^derive: .*'derive' finds no order: its-first's itsCtrl .* takes its\.its_lock before config_lock, its-first's itsRegs .* takes config_lock before its\.its_lock$/m);
    expect(out).toMatch(/^FAIL save-busy under 'its-first': .*unexpected: .*inversion/m);
    expect(out).toMatch(/^inversion: possible circular locking dependency among (its\.its_lock, config_lock|config_lock, its\.its_lock)$/m);
    expect(out).toMatch(/its\.its_lock -> config_lock: .* in (SAVE_TABLES|RESTORE_TABLES|CTRL_RESET) acquired config_lock#0 while holding its\.its_lock#0/);
    expect(out).toMatch(/config_lock -> its\.its_lock: .* in ITS regs uaccess acquired its\.its_lock#0 while holding config_lock#0/);
    expect(out).toMatch(/the validator reported the config_lock <-> its\.its_lock inversion$/);
  }, CHILD_MS);

  it('my-benchmark.mjs --budget smoke --json: both figures measured, the ratio is figure / baseline of the same run', async () => {
    const doc = JSON.parse((await run('my-benchmark.mjs', ['--budget', 'smoke', '--json'])).join('\n'));
    expect(doc.budget).toBe('smoke');
    const [msi, floor] = doc.figures;
    expect(msi).toMatchObject({ name: 'my.signal-msi', unit: 'ns/op', baseline: 'my.await', error: null });
    expect(floor).toMatchObject({ name: 'my.await', baseline: null, error: null });
    expect(msi.median).toBeGreaterThan(0);
    expect(floor.median).toBeGreaterThan(0);
    expect(msi.ratio).toBeCloseTo(msi.median / floor.median, 6);
  }, CHILD_MS);
});
