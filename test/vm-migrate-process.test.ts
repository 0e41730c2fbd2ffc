/**
 * A snapshot written by one process restores in another: this process runs
 * the source (guests with interrupts pending at pause), saves it, writes the
 * snapshot file (writeSnapshotFile) and the source's translation view; a
 * separate `node` process (test/fixtures/snapshot-restore.mjs) restores it,
 * checks equivalence, resumes, injects MSIs and prints a JSON verdict.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { runNode } from './helpers/run-node.js';
import { SNAPSHOT_VERSION, writeSnapshotFile, type GicVm } from '../dist/src/index.js';
import { RAM_BYTES, VM_GUEST } from './helpers/vm-boot.js';
import { DEST_ARGS, makeSource, PENDING_AT_PAUSE } from './helpers/vm-migrate.js';

const RESTORER = fileURLToPath(new URL('./fixtures/snapshot-restore.mjs', import.meta.url));

let vms: GicVm[] = [];
afterEach(async () => {
  await Promise.all(vms.map((vm) => vm.destroy()));
  vms = [];
});


it('5/6.4 a snapshot written by one process restores in another: translation-equivalent, LPIs pending at pause delivered, fresh MSIs delivered', async () => {
  const src = await makeSource((vm) => vms.push(vm));
  const dir = await mkdtemp(join(tmpdir(), 'vgic-lab-snap-'));
  try {
    const snapPath = join(dir, 'vm.snap'), viewsPath = join(dir, 'views.json'), planPath = join(dir, 'plan.json');
    await writeSnapshotFile(snapPath, src.snap);
    const bytes = await readFile(snapPath);
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('VGLSNAP\0');
    expect(bytes.readUInt32LE(8)).toBe(SNAPSHOT_VERSION);
    expect(bytes.length).toBe(16 + bytes.readUInt32LE(12) + RAM_BYTES);

    // A copy of the view with one mapping moved to the other vCPU: the child must report exactly that.
    const tampered = structuredClone(src.view);
    const m = tampered.its[1]!.mappings[0]!;
    m.vcpu = m.vcpu === 0 ? 1 : 0;
    await writeFile(viewsPath, JSON.stringify({ view: src.view, tampered }));
    const msis = [
      { its: 0, devid: 7, event: 3, intid: 8195, vcpu: 1 },
      { its: 0, devid: 7, event: 2, intid: 8194, vcpu: 0 },
      { its: 1, devid: 9, event: 1, intid: 8201, vcpu: 0 },
    ];
    await writeFile(planPath, JSON.stringify({ guest: { module: VM_GUEST, args: DEST_ARGS }, migrated: PENDING_AT_PAUSE, msis, timeoutMs: 20_000 }));
    // The source is done with: only the files go across.
    await src.vm.destroy();

    const { code, stdout, stderr } = await runNode(RESTORER, [snapPath, viewsPath, planPath]);
    expect(code, stderr).toBe(0);
    const verdict = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(verdict.error, verdict.error).toBeUndefined();
    expect(verdict.pid).not.toBe(process.pid);
    expect(verdict).toMatchObject({
      snapshot: { version: SNAPSHOT_VERSION, vcpus: 2, its: 2, ramBytes: RAM_BYTES },
      equivalent: true, differences: [], tamperedDifferences: 1,
      start: 0, migratedDelivered: true, msis: [1, 1, 1], freshDelivered: true, faults: [],
    });
    // Handled counts in the child: migrated LPIs once; 8194 once on the source + once fresh.
    expect(verdict.handled).toEqual({ '1:8192': 1, '0:8193': 1, '1:8200': 1, '1:8195': 1, '0:8194': 2, '0:8201': 1 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
