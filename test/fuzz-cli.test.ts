/**
 * `vgic-lab fuzz` as a user runs it (a child process): --runs with --json
 * prints one JSON document and exits 0; a failing run exits 1 with a replay
 * command that reproduces it; bad flags exit 2 naming the flag.
 */
import { describe, expect, it } from 'vitest';
import { cli } from './helpers/run-node.js';

describe('vgic-lab fuzz', () => {
  it('--target tables --runs 6 --json: one JSON document, every case run, exit 0', async () => {
    const r = await cli(['fuzz', '--target', 'tables', '--runs', '6', '--seed', '11', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ command: 'fuzz', seed: 11, summary: { cases: 6, failures: 0 } });
    expect(doc.targets).toHaveLength(1);
    expect(doc.targets[0]).toMatchObject({ target: 'tables', seed: 11, cases: 6, failures: [] });
  });

  it('a failing run (--self-test breaks the checks) exits 1 and prints the case and the command that replays it', async () => {
    const r = await cli(['fuzz', '--target', 'tables', '--runs', '30', '--seed', '3', '--self-test']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}tables: RESTORE_TABLES returned \S+; the reference restore/m);
    expect(r.stdout).toMatch(/^ {6}case: \{"cfg":/m);
    const replay = /replay: vgic-lab fuzz --target tables --replay (-?\d+:[\d:]+) --self-test/.exec(r.stdout);
    expect(replay, r.stdout).not.toBeNull();
    const again = await cli(['fuzz', '--target', 'tables', '--replay', replay![1]!, '--self-test', '--json']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ summary: { cases: 1, failures: 1 } });
  });

  it('usage errors exit 2 and name the flag', async () => {
    const bad = await cli(['fuzz', '--target', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--target must be commands, tables, registers or all/);
    const replay = await cli(['fuzz', '--replay', '1:2']);
    expect(replay.code).toBe(2);
    expect(replay.stderr).toMatch(/--replay needs a single --target/);
    const both = await cli(['fuzz', '--runs', '3', '--minutes', '1']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/exclude each other/);
  });
});
