/**
 * Save -> snapshot file -> restore in a new process. The source VM's guest
 * maps device 7 (events 0, 1 -> LPIs 8192, 8193 on vCPUs 0, 1) and handles
 * LPIs. The VMM pauses it, signals event 1 while it is paused (LPI 8193 is
 * left pending: a paused vCPU cannot take it), saves it (saveVm: SAVE_TABLES,
 * SAVE_PENDING_TABLES, registers, RAM) and writes the snapshot file and the
 * source's translation view. Then this script runs itself again in a new
 * Node process with --restore: restoreVm brings the VM back, the destination
 * must be translation-equivalent to the source, the pending LPI must be
 * delivered there, and fresh MSIs too.
 *
 *   npm run build && node examples/snapshot-restore.mjs [--keep DIR]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  compareTranslation, createVm, errnoName, readSnapshotFile, restoreVm, saveVm, translationView, waitForItsSetup, waitForResult,
  writeSnapshotFile,
} from 'vgic-lab';

const events = [{ eventId: 0, intid: 8192, icid: 0 }, { eventId: 1, intid: 8193, icid: 1 }]; // LPI 8192 + v on vCPU v
const msi = (vm, eventId) => vm.signalMsi({ address: vm.gic.its[0].baseAddress + 0x1_0040, data: eventId, devid: 7 });
/** LPIs vCPU `v` has handled (the built-in guests' results word 0). */
const handled = (vm, v) => vm.results(v)[0];

async function source(dir) {
  const vm = await createVm({
    vcpus: 2,
    memory: 16 * 2 ** 20,
    guest: { module: 'its-setup', args: { devices: [{ deviceId: 7, events }], handle: true } },
  });
  try {
    await vm.start();
    const setup = await waitForItsSetup(vm);
    if (setup !== 0) throw new Error(`guest ITS setup: ${errnoName(setup)}`);
    await msi(vm, 0);
    await waitForResult(vm, 0, 0, (n) => n >= 1);
    console.log(`source (pid ${process.pid}): LPI 8192 delivered to vCPU 0`);
    await vm.pause();
    console.log(`source: paused; MSI for event 1 while paused: ${await msi(vm, 1)} (LPI 8193 stays pending)`);
    const snap = await saveVm(vm); // the VM is already paused; saveVm pauses it otherwise
    const file = join(dir, 'vm.snap');
    await writeSnapshotFile(file, snap);
    writeFileSync(join(dir, 'view.json'), JSON.stringify(await translationView(vm.gic)));
    console.log(`source: saved ${snap.header.its.length} ITS, ${snap.header.vm.vcpus} vCPUs to ${file} (${readFileSync(file).length} bytes)`);
  } finally {
    await vm.destroy();
  }
}

async function destination(dir) {
  const snap = await readSnapshotFile(join(dir, 'vm.snap'));
  // A guest's JS stack does not migrate: the destination's vCPUs start a program afresh (results words and RAM are carried).
  const vm = await restoreVm(snap, { guest: { module: 'lpi-handler', args: { waitForSetup: false } }, start: false });
  try {
    const diff = compareTranslation(JSON.parse(readFileSync(join(dir, 'view.json'), 'utf8')), await translationView(vm.gic));
    console.log(`destination (pid ${process.pid}, a new process): translation-equivalent to the source: ${diff.length === 0 ? 'yes' : `no, ${diff.length} differences`}`);
    const before = [handled(vm, 0), handled(vm, 1)];
    await vm.start();
    const pendingDelivered = await waitForResult(vm, 1, 0, (n) => n >= before[1] + 1, 10_000);
    console.log(`destination: LPI 8193 (pending at save) delivered to vCPU 1: ${pendingDelivered ? 'yes' : 'no'}`);
    let fresh = 0;
    for (const e of events) fresh += (await msi(vm, e.eventId)) === 1 ? 1 : 0;
    const ok0 = await waitForResult(vm, 0, 0, (n) => n >= before[0] + 1, 10_000);
    const ok1 = await waitForResult(vm, 1, 0, (n) => n >= before[1] + 2, 10_000);
    console.log(`destination: fresh MSIs delivered: ${fresh}/${events.length}, handled: ${ok0 && ok1 ? 'yes' : 'no'}`);
    return diff.length === 0 && pendingDelivered && fresh === events.length && ok0 && ok1 ? 0 : 1;
  } finally {
    await vm.destroy();
  }
}

const at = process.argv.indexOf('--restore');
if (at >= 0) {
  process.exitCode = await destination(process.argv[at + 1]);
} else {
  const keep = process.argv.indexOf('--keep');
  const dir = keep >= 0 ? process.argv[keep + 1] : mkdtempSync(join(tmpdir(), 'vgic-lab-snapshot-'));
  try {
    await source(dir);
    // Only the files cross to the new process.
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--restore', dir], { stdio: 'inherit' });
    process.exitCode = child.status ?? 1;
  } finally {
    if (keep < 0) rmSync(dir, { recursive: true, force: true });
  }
}
