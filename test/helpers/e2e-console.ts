/**
 * Test side of the console guest (test/fixtures/guest-e2e-console.mjs): boot
 * a real VM whose vCPUs all run it, post scripts of guest-driver steps to a
 * vCPU through its mailbox in guest RAM, and wait (on the vCPU's results
 * word, never on time) for the per-step results. Also the LPI accounting the
 * e2e tests assert on: per vCPU, per INTID acknowledge counts kept by the
 * guest, and the model's own LPI state (vm.gic.vgic).
 *
 * Posting a script is: write the JSON into the mailbox, bump the sequence
 * word, kick the vCPU out of WFI (KVM_REQ_IRQ_PENDING + kick, the console's
 * doorbell interrupt). The guest handles every interrupt queued for it before
 * it runs the script, so a script round trip on vCPU v is also a barrier: any
 * LPI queued for v before it was posted has been acknowledged when it returns.
 */
import { expect } from 'vitest';
import { createVm, type CreateVmOptions, type GicVm } from '../../dist/src/index.js';
import { REQ_IRQ_PENDING } from '../../dist/src/kvm/vcpu-block.js';
import { defaultItsBase } from '../../dist/src/vgic/layout.js';
import { F_ENABLED, F_PENDING } from '../../dist/src/vgic/vgic-state.js';
import { HANG_MS, waitForWord } from './wait.js';

export const CONSOLE_GUEST = new URL('../fixtures/guest-e2e-console.mjs', import.meta.url).href;

// Keep in step with the fixture.
const RAM_BASE = 0x4000_0000;
export const CONSOLE_GPA = RAM_BASE + 0x200_0000;
const SLOT_BYTES = 0x4_0000;
const OP_OFFSET = 64;
const RESULT_OFFSET = 0x2_0000;
export const R_TOTAL = 0, R_DONE = 1, R_VIOLATIONS = 2, R_PROGRESS = 3, R_LPI_BASE = 16;
/** Results words per vCPU: room to count INTIDs 8192 .. 8192 + RESULT_WORDS - R_LPI_BASE - 1. */
export const RESULT_WORDS = 4096;
/** Free guest RAM for test data (phase words, stop flags) above the mailboxes of up to 16 vCPUs. */
export const SCRATCH_GPA = CONSOLE_GPA + 16 * SLOT_BYTES;

export const LPI = 8192;

/** GITS_TRANSLATER of ITS n (the doorbell a device would write). */
export function doorbell(n: number): number {
  return defaultItsBase(n) + 0x1_0040;
}

/** One step of a console script (see the fixture for every op). */
export type Step = { op: string; [k: string]: unknown };
/** What a step returns: ret 0 on success, a negative errno from the driver otherwise, plus step data. */
export type StepResult = { ret: number; error?: { errno: number; name: string; where: string; detail: string }; exception?: string; [k: string]: any };

function replacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? { $b: `0x${BigInt.asUintN(64, v).toString(16)}` } : v;
}
function reviver(_k: string, v: any): unknown {
  return v !== null && typeof v === 'object' && typeof v.$b === 'string' ? BigInt(v.$b) : v;
}

/** The console of one vCPU. Scripts on one vCPU run one after the other. */
export class GuestConsole {
  private seq = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly slot: number;

  constructor(readonly vm: GicVm, readonly vcpu: number) {
    this.slot = CONSOLE_GPA + vcpu * SLOT_BYTES;
  }

  /** Run `script` on this vCPU; resolves with one result per step (a step that throws ends the script). */
  run(script: Step[]): Promise<StepResult[]> {
    const p = this.chain.then(() => this.runNow(script));
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** run(), then fail the test unless every step returned 0 without a driver error. */
  async ok(script: Step[]): Promise<StepResult[]> {
    const out = await this.run(script);
    out.forEach((r, i) => {
      if (r.ret !== 0 || r.error !== undefined || r.exception !== undefined || out.length !== script.length) {
        throw new Error(`vCPU ${this.vcpu} step ${i} ${JSON.stringify(script[i], replacer)} failed: ${JSON.stringify(r, replacer)}`);
      }
    });
    return out;
  }

  private async runNow(script: Step[]): Promise<StepResult[]> {
    const { vm } = this;
    const mem = vm.rt.mem;
    const bytes = new TextEncoder().encode(JSON.stringify(script, replacer));
    if (bytes.length > RESULT_OFFSET - OP_OFFSET) throw new RangeError('console script too large');
    const mbox = mem.atomics32(this.slot, 2)!;
    expect(mem.write(this.slot + OP_OFFSET, bytes)).toBe(0);
    Atomics.store(mbox, 1, bytes.length);
    const seq = ++this.seq;
    Atomics.store(mbox, 0, seq);
    vm.rt.vcpus.kick(this.vcpu, REQ_IRQ_PENDING);
    const results = vm.results(this.vcpu);
    await waitForWord(results, R_DONE, (s) => s === seq || vm.vcpuExit(this.vcpu) !== undefined,
      `vCPU ${this.vcpu} to run script ${seq} (${script.map((s) => s.op).join(', ')})`, HANG_MS);
    if (Atomics.load(results, R_DONE) !== seq) {
      throw new Error(`vCPU ${this.vcpu} exited while running a script: ${JSON.stringify(vm.vcpuExit(this.vcpu))}`);
    }
    const len = mem.read32(this.slot + RESULT_OFFSET);
    const out = new Uint8Array(len);
    mem.readInto(this.slot + RESULT_OFFSET + 16, out);
    return JSON.parse(new TextDecoder().decode(out), reviver) as StepResult[];
  }
}

export interface ConsoleVm {
  vm: GicVm;
  con: GuestConsole[];
}

/** Create and start a VM whose every vCPU runs the console guest. */
export async function bootConsoleVm(options: CreateVmOptions & { vcpus: number }, start = true): Promise<ConsoleVm> {
  const vm = await createVm({ resultWords: RESULT_WORDS, ...options, guest: { module: CONSOLE_GUEST } });
  const con = Array.from({ length: options.vcpus }, (_, v) => new GuestConsole(vm, v));
  if (start) expect(await vm.start()).toBe(0);
  return { vm, con };
}

/** Guest-side acknowledge count of LPI `intid` on vCPU `v`. */
export function acks(vm: GicVm, v: number, intid: number): number {
  const i = R_LPI_BASE + intid - LPI;
  const r = vm.results(v);
  if (i < R_LPI_BASE || i >= r.length) throw new RangeError(`INTID ${intid} is not counted per vCPU`);
  return Atomics.load(r, i);
}

/** Acknowledge counts of `intid` on every vCPU. */
export function acksPerVcpu(vm: GicVm, intid: number): number[] {
  return Array.from({ length: vm.nrVcpus }, (_, v) => acks(vm, v, intid));
}

/** Wait until vCPU `v` has acknowledged `intid` at least `n` times. */
export function waitAcks(vm: GicVm, v: number, intid: number, n: number): Promise<number> {
  return waitForWord(vm.results(v), R_LPI_BASE + intid - LPI, (c) => c >= n, `vCPU ${v} to handle LPI ${intid} ${n} time(s)`);
}

/** A script round trip on every vCPU: afterwards every LPI queued before the call has been handled. */
export async function barrier(c: GuestConsole[]): Promise<void> {
  await Promise.all(c.map((x) => x.ok([])));
}

/** The model's view of an LPI. */
export function lpiState(vm: GicVm, intid: number): { exists: boolean; pending: boolean; enabled: boolean; target: number; delivered: number } {
  const g = vm.gic.vgic;
  const f = g.lpiFlags(intid);
  return {
    exists: g.lpiExists(intid), pending: (f & F_PENDING) !== 0, enabled: (f & F_ENABLED) !== 0,
    target: g.lpiTarget(intid), delivered: g.delivered(intid),
  };
}

/**
 * Exactly-once check after a barrier: LPI `intid` was acknowledged `n` times,
 * all on vCPU `v` (never on another), and the model counted as many
 * deliveries; it is no longer pending.
 */
export function expectDeliveredOn(vm: GicVm, intid: number, v: number, n = 1): void {
  const per = acksPerVcpu(vm, intid);
  const want = per.map((_, i) => (i === v ? n : 0));
  expect(per, `acknowledges of LPI ${intid} per vCPU`).toEqual(want);
  expect(lpiState(vm, intid).delivered, `model deliveries of LPI ${intid}`).toBe(n);
  expect(lpiState(vm, intid).pending, `LPI ${intid} still pending`).toBe(false);
}

/** Shorthand for vm.signalMsi at ITS n's doorbell. */
export function msi(vm: GicVm, its: number, devid: number, eventId: number): Promise<number> {
  return vm.signalMsi({ address: doorbell(its), devid, data: eventId });
}

/** Steps that make the guest map `events` ([eventId, intid, icid]) of `devid` on ITS `its`: config bytes, MAPD, MAPTIs. */
export function mapSteps(its: number, devid: number, events: [number, number, number][], enabled = true, bits = 4): Step[] {
  return [
    { op: 'lpi', list: events.map(([, intid]) => [intid, enabled]) },
    { op: 'cmds', its, list: [['mapd', devid, bits], ...events.map(([e, intid, icid]) => ['mapti', devid, e, intid, icid])] },
  ];
}

/** A step issuing ITS commands on ITS `its`. */
export const cmdsStep = (its: number, ...list: unknown[][]): Step => ({ op: 'cmds', its, list });

/** An MSI that must be accepted (1) and then handled once more by vCPU `v`. */
export async function deliverOn(vm: GicVm, its: number, devid: number, eventId: number, intid: number, v: number): Promise<void> {
  const before = acks(vm, v, intid);
  expect(await msi(vm, its, devid, eventId), `MSI ${its}/${devid}/${eventId}`).toBe(1);
  await waitAcks(vm, v, intid, before + 1);
}

/** After each test on a shared console VM: everything queued was handled, no fault, no misdelivery. */
export async function expectQuiet(vm: GicVm, con: GuestConsole[]): Promise<void> {
  await barrier(con);
  expect(vm.faults).toEqual([]);
  for (let v = 0; v < con.length; v++) expect(Atomics.load(vm.results(v), R_VIOLATIONS)).toBe(0);
}
