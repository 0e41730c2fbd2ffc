/**
 * `vgic-lab bench` end to end with the smoke budget: every benchmark runs
 * (real workers, real VMs) and the JSON document has the documented shape.
 * Never asserts timings: those belong to `npm run bench`, not to tests.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

async function bench(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'bench', ...args], { timeout: 120_000, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const REQUIRED = [
  'lock.bare-pair', 'lock.mutex-off', 'lock.mutex-counts', 'lock.mutex-full',
  'lock.await-floor', 'lock.async-mutex', 'lock.async-mutex-exclusive', 'lock.mutex-async',
  'mailbox.raw-ring', 'mailbox.raw-ring-batched', 'mailbox.postmessage', 'mailbox.actor',
  'pause.wake-rtt', 'pause.idle-1', 'pause.idle-4', 'pause.idle-8', 'pause.spin-1', 'pause.spin-4', 'pause.spin-8',
  'lpi.raw-two-hop', 'lpi.stress-1-1-1', 'lpi.stress-4-4-16', 'lpi.stress-16-16-16', 'lpi.cache-fits', 'lpi.cache-overflow',
  'lpi.pingpong-oneway', 'lpi.inject-ack',
  ...['1k', '64k', '1m'].flatMap((s) => ['dataview-write', 'save-tables', 'dataview-read', 'restore-tables'].map((f) => `save.${f}-${s}`)),
  'save.vm-cycle-8x64k',
  'validator.lpi-off', 'validator.lpi-on', 'validator.lpi-miss-off', 'validator.lpi-miss-on', 'validator.pairs-off', 'validator.pairs-on',
  'schedule.atomics-hop', 'schedule.decision-random-2', 'schedule.decision-pct-2', 'schedule.decision-random-4', 'schedule.decision-pct-4',
  ...['lpi-miss', 'mmio'].flatMap((f) => [`transport.${f}-shared-memory`, `transport.${f}-postmessage`]),
  'rpc.postmessage-rtt', 'rpc.comlink', 'rpc.postmessage-rtt-w2w', 'rpc.comlink-w2w',
  'rpc.postmessage-pipelined-16', 'rpc.piscina-1', 'rpc.piscina-16',
];

interface JsonFigure {
  name: string; group: string; unit: string; median: number; p5: number; p95: number; min: number; max: number;
  reps: number; rounds: number[]; baseline: string | null; ratio: number | null; error: string | null; pulledIn: boolean;
  targets: { met: boolean | null; maxRatio: number | null; against: string | null }[];
}

describe('vgic-lab bench', () => {
  it('runs every benchmark and prints one JSON document of figures and machine info', async () => {
    const { code, stdout, stderr } = await bench('--smoke', '--json');
    expect(stderr).toBe(''); // progress goes to stderr only on a TTY
    expect(code).toBe(0);
    const doc = JSON.parse(stdout) as { schema: string; budget: string; machine: Record<string, unknown>; figures: JsonFigure[]; summary: { failed: number } };
    expect(doc.schema).toBe('vgic-lab-bench/1');
    expect(doc.budget).toBe('smoke');
    expect(doc.machine).toMatchObject({ node: process.version, cpus: expect.any(Number), os: expect.any(String) });
    expect(doc.summary.failed).toBe(0);
    const byName = new Map(doc.figures.map((f) => [f.name, f]));
    expect([...byName.keys()]).toEqual(expect.arrayContaining(REQUIRED));
    for (const f of doc.figures) {
      expect(f.error, f.name).toBeNull();
      expect(f.unit).toEqual(expect.any(String));
      expect(f.reps).toBeGreaterThan(0);
      expect(f.rounds, `${f.name} per-round medians`).toHaveLength(2); // the smoke budget's rounds
      for (const k of ['median', 'p5', 'p95', 'min', 'max'] as const) expect(Number.isFinite(f[k]), `${f.name}.${k}`).toBe(true);
      expect(f.min).toBeLessThanOrEqual(f.median);
      expect(f.median).toBeLessThanOrEqual(f.max);
      if (f.baseline !== null) {
        expect(byName.has(f.baseline), `${f.name} baseline ${f.baseline} measured in the same run`).toBe(true);
        const expected = f.median / byName.get(f.baseline)!.median; // JSON keeps 4 significant digits
        expect(Math.abs(f.ratio! - expected) / expected, `${f.name} ratio`).toBeLessThan(2e-3);
      }
      for (const t of f.targets) expect([true, false]).toContain(t.met);
    }
    expect(byName.get('lock.mutex-off')!.baseline).toBe('lock.bare-pair');
    expect(byName.get('mailbox.actor')!.targets.map((t) => t.against)).toEqual(['mailbox.raw-ring', 'mailbox.postmessage']);
    expect(byName.get('pause.spin-8')!.baseline).toBe('pause.wake-rtt');
    expect(byName.get('lpi.stress-1-1-1')!.baseline).toBe('lpi.raw-two-hop');
    expect(byName.get('lpi.cache-overflow')!.baseline).toBe('lpi.cache-fits');
    expect(byName.get('lpi.inject-ack')!.baseline).toBe('lpi.pingpong-oneway');
    expect(byName.get('save.save-tables-1m')!.baseline).toBe('save.dataview-write-1m');
    expect(byName.get('save.restore-tables-64k')!.baseline).toBe('save.dataview-read-64k');
    expect(byName.get('schedule.decision-random-2')!.baseline).toBe('schedule.atomics-hop');
    for (const f of ['lpi-miss', 'mmio']) {
      expect(byName.get(`transport.${f}-postmessage`)!.baseline).toBe(`transport.${f}-shared-memory`);
      expect(byName.get(`transport.${f}-shared-memory`)!.targets.map((t) => t.against)).toEqual([`transport.${f}-postmessage`]);
    }
    expect(byName.get('mailbox.raw-ring-batched')!.baseline).toBe('mailbox.raw-ring');
    expect(byName.get('lock.mutex-async')!.baseline).toBe('lock.async-mutex');
    expect(byName.get('rpc.comlink')!.baseline).toBe('rpc.postmessage-rtt');
    expect(byName.get('rpc.comlink-w2w')!.baseline).toBe('rpc.postmessage-rtt-w2w');
    expect(byName.get('rpc.piscina-16')!.baseline).toBe('rpc.postmessage-pipelined-16');
  });

  it('runs a selection together with the baselines it needs, and prints a table', async () => {
    const { code, stdout } = await bench('lock.mutex-off', '--smoke');
    expect(code).toBe(0);
    expect(stdout).toMatch(/lock\.mutex-off .*lock\.bare-pair/);
    expect(stdout).toMatch(/lock\.bare-pair \*/); // pulled in, marked
    expect(stdout).not.toMatch(/mailbox\./);
  });

  it('lists benchmarks, and rejects unknown names and options with exit code 2', async () => {
    const list = await bench('--list');
    expect(list.code).toBe(0);
    for (const n of REQUIRED) expect(list.stdout).toContain(n);
    expect((await bench('no-such-bench')).code).toBe(2);
    expect((await bench('--no-such-option')).code).toBe(2);
  });
});
