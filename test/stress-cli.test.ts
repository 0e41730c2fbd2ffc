/**
 * The stress commands as a user runs them (node dist/src/cli/main.js in a
 * child process): `stress upstream --json` prints one JSON document and
 * exits 0; an unknown scenario is a usage error (exit 2) listing the
 * scenarios; `replay` reruns a token; `campaign` over three seeds reports
 * b1's hierarchy finding once, with the first seed that found it.
 */
import { describe, expect, it } from 'vitest';
import { cli } from './helpers/run-node.js';



describe('vgic-lab stress / replay / campaign', () => {
  it('stress upstream --json: one JSON document on stdout, exit 0', async () => {
    const r = await cli(['stress', 'upstream', '--json', '--seconds', '0.3', '--seed', '9']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ command: 'stress', seed: 9, summary: { scenarios: 1, passed: 1, failed: 0 } });
    expect(doc.outcomes[0]).toMatchObject({ scenario: 'upstream', verdict: 'pass', token: 'v1.upstream.2.1.300.f.9.3.200000' });
  });

  it('an unknown scenario exits 2 and lists the scenarios; so does a bad number', async () => {
    const r = await cli(['stress', 'no-such-scenario']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/unknown scenario 'no-such-scenario'; the scenarios are:/);
    expect(r.stderr).toMatch(/b2 +v7-2017-blocking/);
    const n = await cli(['stress', '--vcpus', 'many']);
    expect(n.code).toBe(2);
    expect(n.stderr).toMatch(/--vcpus must be an integer/);
  });

  it('replay reruns the token of a run; a bad token exits 2', async () => {
    const r = await cli(['replay', 'v1.v7-2017-blocking.2.1.300.f.4.3.200000']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^PASS {2}b2 +v7-2017-blocking/);
    expect(r.stdout).toMatch(/deadlock: a cycle of waits/);
    expect(r.stdout).toMatch(/ITS 0 waits for vcpu\.mutex#0 \(held by vCPU 0\); holds kvm\.lock#0, its\.its_lock#0/);
    expect(r.stdout).toMatch(/replay: vgic-lab replay v1\.v7-2017-blocking\.2\.1\.300\.f\.4\.3\.200000/);
    const bad = await cli(['replay', 'v9.upstream']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unsupported version 'v9'/);
  });

  it('campaign over three seeds of b1 dedupes its hierarchy finding to one entry with the first seed', async () => {
    const r = await cli(['campaign', 'v7-2017', '--seeds', '3', '--from', '11', '--seconds', '0.3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ command: 'campaign', runs: 3, pass: 3, fail: 0 });
    expect(doc.findings).toHaveLength(1);
    expect(doc.findings[0]).toMatchObject({
      key: 'hierarchy: its.its_lock > vcpu.mutex by trylock', count: 3,
      first: { scenario: 'v7-2017', seed: 11, token: 'v1.v7-2017.2.1.300.f.11.3.200000' },
    });
  });
});
