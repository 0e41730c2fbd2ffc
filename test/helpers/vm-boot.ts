/**
 * Shared plumbing for the VM-level tests (test/vm-*.test.ts): boot a real VM
 * whose boot vCPU runs the guest ITS setup (test/fixtures/snapshot-vm-guest.mjs),
 * wait for the guest's setup handshake, and read what the tests compare: lock
 * statistics per class, thread records of the lock arena, guest RAM, LPI
 * state, ITS counters. Every wait is on an event (a shared word); timeouts
 * only turn a hang into a readable failure.
 */
import { expect } from 'vitest';
import { createVm, type CreateVmOptions, type GicVm, type LockClassStats } from '../../dist/src/index.js';
import { SETUP_MAILBOX_GPA } from '../../dist/src/guest/alloc.js';
import { MAILBOX_LPIS_ENABLED, MAILBOX_STATE, SETUP_DONE } from '../../dist/src/guest/handshake.js';
import { OP_ITS_STATS } from '../../dist/src/vgic/its/its-ops.js';
import { defaultItsBase } from '../../dist/src/vgic/layout.js';
import { F_ENABLED, F_PENDING } from '../../dist/src/vgic/vgic-state.js';
import { gicrPendbaserAddress } from '../../dist/src/uapi/index.js';
import { T_WAIT_ACTOR, T_WAIT_LOCK } from '../../dist/src/sync/arena.js';
import { HANG_MS, waitForWord } from './wait.js';

export const VM_GUEST = new URL('../fixtures/snapshot-vm-guest.mjs', import.meta.url).href;
/** Result words of the guest (keep in step with the fixture). */
export const R_ROUNDS = 240, R_SPIN = 241, R_STEP = 242, R_PROPB_LO = 243, R_PROPB_HI = 244, R_ERROR = 245;

export const RAM_BASE = 0x4000_0000;
/** 8 MiB of guest RAM: small snapshots, fast copies. */
export const RAM_BYTES = 8 * 2 ** 20;
/** Where the boot vCPU's its-setup allocates the GIC tables (after the setup mailbox page). */
export const GIC_REGION = { base: RAM_BASE + 0x1_0000, size: 6 * 2 ** 20 };

export const doorbell = (its: number): number => defaultItsBase(its) + 0x1_0040;

export interface SetupEvent { eventId: number; intid: number; icid: number; enabled?: boolean }
export interface SetupDevice { its?: number; deviceId: number; eventIdBits?: number; events: SetupEvent[] }

export interface BootOptions {
  vcpus: number;
  /** Number of ITSs the guest sets up (ITS n at defaultItsBase(n)). Default 1. */
  its?: number;
  devices: SetupDevice[];
  /** Default: icid v -> vCPU v on every ITS. */
  collections?: { its?: number; icid: number; vcpu: number }[];
  /** Per-vCPU step lists (see the fixture); vCPU 0 must start with 'setup'. */
  roles: Record<number, string[]>;
  /** Extra guest args (loop, unmask). */
  args?: Record<string, unknown>;
  gic?: CreateVmOptions['gic'];
  vmOptions?: Partial<CreateVmOptions>;
}

export function guestArgs(o: BootOptions): Record<string, unknown> {
  const its = o.its ?? 1;
  return {
    setup: {
      its: [...Array(its).keys()], devices: o.devices, ...(o.collections ? { collections: o.collections } : {}),
      region: GIC_REGION, deviceIdBits: 8, queueBytes: 0x1_0000,
    },
    roles: o.roles,
    ...o.args,
  };
}

/** Create and start a VM running the fixture guest; resolves once the boot vCPU finished the setup. */
export async function bootVm(o: BootOptions, track: (vm: GicVm) => void): Promise<GicVm> {
  const vm = await createVm({
    vcpus: o.vcpus,
    memory: RAM_BYTES,
    gic: { its: o.its ?? 1, ...(o.gic || {}) },
    guest: { module: VM_GUEST, args: guestArgs(o) },
    ...o.vmOptions,
  });
  track(vm);
  expect(await vm.start()).toBe(0);
  await waitSetup(vm);
  return vm;
}

/** Wait for the guest's setup handshake: SETUP_DONE and every redistributor's EnableLPIs. */
export async function waitSetup(vm: GicVm): Promise<void> {
  const mailbox = vm.rt.mem.atomics32(SETUP_MAILBOX_GPA, 4)!;
  const st = await waitForWord(mailbox, MAILBOX_STATE, (v) => v === SETUP_DONE || v < 0, 'the guest ITS setup');
  if (st !== SETUP_DONE) throw new Error(`guest setup failed (${st}): ${JSON.stringify(vm.vcpuExit(0)?.result ?? vm.faults)}`);
  await waitForWord(mailbox, MAILBOX_LPIS_ENABLED, (v) => v >= vm.nrVcpus, 'EnableLPIs on every redistributor');
}

/** Times LPI `intid` was handled by vCPU `v` (the guest's per-LPI counter). */
export const handled = (vm: GicVm, v: number, intid: number): number => Atomics.load(vm.results(v), 1 + intid - 8192);

/**
 * Wait until `pred()` holds, sleeping on vCPU `v`'s results[0] (the guest's LPI total,
 * notified after every LPI once the per-LPI counter has been bumped too).
 */
export async function waitResults(vm: GicVm, v: number, pred: () => boolean, what: string, timeoutMs = HANG_MS): Promise<void> {
  const r = vm.results(v);
  const deadline = performance.now() + timeoutMs;
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    for (;;) {
      const seen = Atomics.load(r, 0);
      if (pred()) return;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      const w = Atomics.waitAsync(r, 0, seen, left);
      if (w.async) await w.value;
    }
  } finally {
    clearInterval(keepAlive);
  }
}

/** Wait until vCPU `v` has handled LPI `intid` at least `n` times. */
export function waitHandled(vm: GicVm, v: number, intid: number, n: number): Promise<void> {
  return waitResults(vm, v, () => handled(vm, v, intid) >= n, `vCPU ${v} to handle LPI ${intid} ${n} time(s) (now ${handled(vm, v, intid)})`);
}

export function lpi(vm: GicVm, intid: number): { exists: boolean; pending: boolean; enabled: boolean; target: number; delivered: number } {
  const g = vm.gic.vgic;
  const f = g.lpiFlags(intid);
  return {
    exists: g.lpiExists(intid), pending: (f & F_PENDING) !== 0, enabled: (f & F_ENABLED) !== 0,
    target: g.lpiTarget(intid), delivered: g.delivered(intid),
  };
}

/** lock_stat of one lock class (zeros if the class has no lock yet). */
export function lockClass(vm: GicVm, name: string): LockClassStats {
  return vm.lockStats().find((c) => c.className === name) ?? {
    className: name, instances: 0, acquisitions: 0, contentions: 0, trylockFailures: 0,
    waitTotalNs: 0, waitMaxNs: 0, holdTotalNs: 0, holdMaxNs: 0,
  };
}

/** tid of the first thread registered with this kind and name (e.g. the ITS 0 actor host). */
export function threadTid(vm: GicVm, pred: (t: { kind: string; index: number; name: string }) => boolean): number {
  const a = vm.rt.arena;
  for (let tid = 1; tid <= a.threadCount(); tid++) if (pred(a.threadInfo(tid))) return tid;
  throw new Error('no such thread');
}

/** What thread `tid` waits for: a lock index (or -1) and an actor id (or -1), from its arena record. */
export function waitsFor(vm: GicVm, tid: number): { lock: number; actor: number } {
  const a = vm.rt.arena;
  const rec = a.threadRecord(tid);
  return { lock: Atomics.load(a.i32, rec + T_WAIT_LOCK) - 1, actor: Atomics.load(a.i32, rec + T_WAIT_ACTOR) - 1 };
}

/** The ITS actor's counters (OP_ITS_STATS): commands processed, MSIs, enable state, CREADR/CWRITER. */
export async function itsStats(vm: GicVm, n: number): Promise<{ processed: number; enabled: boolean; creadr: number; cwriter: number }> {
  const { result, values } = await vm.rt.client.requestAsync(vm.gic.its[n]!.actor, OP_ITS_STATS, []);
  expect(result).toBe(0);
  return { processed: values[0]!, enabled: values[9] === 1, creadr: values[10]!, cwriter: values[11]! };
}

/** A copy of all guest RAM. */
export function ram(vm: GicVm): Uint8Array {
  return new Uint8Array(vm.shared.memslots[0]!.data).slice();
}

/** GPA of vCPU `v`'s LPI pending table (from its PENDBASER). */
export const pendTable = (vm: GicVm, v: number): number => gicrPendbaserAddress(vm.gic.st.pendbaser(v));

/** Bit of LPI `intid` in vCPU `v`'s pending table, read from guest RAM. */
export function pendBit(vm: GicVm, v: number, intid: number): boolean {
  const b = vm.rt.mem.read8(pendTable(vm, v) + (intid >> 3));
  expect(b).toBeGreaterThanOrEqual(0);
  return (b & (1 << (intid & 7))) !== 0;
}
