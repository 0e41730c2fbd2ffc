/**
 * Replay under a controlled schedule: a run's token (scenario, options,
 * schedule, seed, and its trace hash) reruns the same interleaving, 10 times
 * in a row; the CLI says so, and says so loudly when a hash differs.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './helpers/run-node.js';
import { runScenario } from '../dist/src/stress/runner.js';
import { findScenario } from '../dist/src/stress/scenarios/index.js';
import { decodeToken } from '../dist/src/stress/token.js';



describe('replay of a controlled schedule', () => {
  it('the same replay token gives the same trace hash 10 times in a row (b1 under random, with its finding)', async () => {
    const scenario = findScenario('v7-2017')!;
    const first = await runScenario(scenario, { vcpus: 2, its: 1, seconds: 0.1, schedule: { strategy: 'random', seed: 21 } });
    expect(first.verdict).toBe('pass');
    expect(first.findings.map((f) => f.kind)).toEqual(['hierarchy']);
    const spec = decodeToken(first.token);
    expect(spec.traceHash).toBe(first.traceHash);
    expect(first.decisions).toBeGreaterThan(100);
    for (let i = 0; i < 10; i++) {
      const again = await runScenario(findScenario(spec.scenario)!, { vcpus: spec.vcpus, its: spec.its, seconds: spec.seconds, schedule: spec.schedule });
      expect(again.traceHash).toBe(first.traceHash);
      expect(again.decisions).toBe(first.decisions);
      expect(again.observed).toBe(first.observed);
    }
  });

  it('vgic-lab replay confirms the interleaving, and exits 1 on a different trace hash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgic-replay-'));
    const run = await cli(['stress', 'v7-2017', 'v7-2017-blocking', '--schedule', 'pct', '--seed', '4', '--seconds', '0.2', '--json',
      '--graph', join(dir, 'g.svg'), '--timeline', join(dir, 't.json')]);
    expect(run.code, run.stderr).toBe(0);
    const outcome = JSON.parse(run.stdout).outcomes[1];
    expect(outcome).toMatchObject({ verdict: 'pass', endedBy: 'deadlock', scheduleEnd: 'deadlock' });
    const same = await cli(['replay', outcome.token]);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toContain(`same interleaving as the token (trace hash ${outcome.traceHash})`);
    const tampered = outcome.token.replace(/[0-9a-f]$/, (c: string) => (c === '0' ? '1' : '0'));
    const other = await cli(['replay', tampered]);
    expect(other.code).toBe(1);
    expect(other.stdout).toMatch(/DIFFERENT interleaving/);
    // The pictures of the runs: the lock graph with b1's offending edge in red, and a trace Perfetto opens.
    const svg = readFileSync(join(dir, 'g.svg'), 'utf8');
    expect(svg.startsWith('<?xml')).toBe(true);
    expect(svg).toContain('its.its_lock');
    expect(svg).toContain('red');
    const trace = JSON.parse(readFileSync(join(dir, 't.json'), 'utf8'));
    const threads = trace.traceEvents.filter((e: { name: string }) => e.name === 'thread_name').map((e: { args: { name: string } }) => e.args.name);
    expect(threads).toEqual(expect.arrayContaining(['VMM', 'vCPU 0', 'ITS 0']));
    expect(trace.traceEvents.some((e: { name: string }) => e.name === 'KVM_RUN')).toBe(true);
  });
});
