/**
 * Injector threads: worker threads that call KVM_SIGNAL_MSI in a loop, like
 * the device threads of the kernel's vgic_lpi_stress selftest. Each runs a
 * plan (a list of MSIs, repeated `rounds` times) and counts the results in
 * shared memory: delivered (1), blocked by the guest (0), errors (< 0).
 */
import { Worker } from 'node:worker_threads';
import { checkMsi, type InjectorHandle, type KvmMsi } from './msi.js';
import { activeSchedule, KEY_INJECTOR, threadKey } from '../sync/schedule.js';

const INJECTOR_WORKER = new URL('../../workers/msi-injector.js', import.meta.url);

/** What one injector thread sends: a list of MSIs, `rounds` times over. */
export interface InjectorPlan {
  /** The MSIs, in the order they are sent. */
  msis: KvmMsi[];
  /** How many times the list is sent, 0..2^31-1. Default 1. */
  rounds?: number;
}

/** What one injector thread counted. */
export interface InjectorResult {
  /** signalMsi returned 1. */
  delivered: number;
  /** signalMsi returned 0 (blocked by guest state: LPI disabled, no target ...). */
  blocked: number;
  /** signalMsi returned -errno. */
  errors: number;
  /** The first error code seen, if any. */
  firstError?: number;
  /** Wall time of the whole plan on the injector's clock. */
  elapsedMs: number;
}

/** @internal */
export interface InjectorWorkerData {
  handle: InjectorHandle;
  index: number;
  plan: InjectorPlan;
  counters: SharedArrayBuffer;
}

export const CNT_DELIVERED = 0, CNT_BLOCKED = 1, CNT_ERRORS = 2, CNT_FIRST_ERROR = 3;

/**
 * Run one injector worker thread per plan, all at once (the handle comes from
 * `vm.gic.injectorHandle()`); resolves when every one has finished, with
 * their counts in plan order. Plans are checked before any thread starts.
 */
export async function runInjectors(handle: InjectorHandle, plans: InjectorPlan[]): Promise<InjectorResult[]> {
  if (handle === null || typeof handle !== 'object' || handle.shared === undefined) {
    throw new TypeError('runInjectors: handle must be what vm.gic.injectorHandle() returned');
  }
  if (!Array.isArray(plans)) throw new TypeError('runInjectors: plans must be an array of { msis, rounds? }');
  plans.forEach((p, i) => {
    if (p === null || typeof p !== 'object' || !Array.isArray(p.msis)) throw new TypeError(`plans[${i}].msis must be an array of KvmMsi`);
    p.msis.forEach((m, j) => checkMsi(m, `plans[${i}].msis[${j}]`));
    const rounds = p.rounds ?? 1;
    if (typeof rounds !== 'number' || !Number.isInteger(rounds)) throw new TypeError(`plans[${i}].rounds must be an integer`);
    if (rounds < 0 || rounds > 2 ** 31 - 1) throw new RangeError(`plans[${i}].rounds must be in 0..2^31-1 (got ${rounds})`);
  });
  // Under a controlled schedule, choosing an injector before its thread arrives waits for it.
  const sched = activeSchedule();
  plans.forEach((_, index) => sched?.expect(threadKey(KEY_INJECTOR, index)));
  const exits = Promise.all(plans.map((plan, index) => new Promise<InjectorResult>((resolve, reject) => {
    const counters = new SharedArrayBuffer(16);
    const data: InjectorWorkerData = { handle, index, plan, counters };
    const w = new Worker(INJECTOR_WORKER, { workerData: data });
    let elapsedMs = 0;
    w.on('message', (m: { elapsedMs: number }) => (elapsedMs = m.elapsedMs));
    w.on('error', reject);
    w.on('exit', () => {
      const c = new Int32Array(counters);
      resolve({
        delivered: c[CNT_DELIVERED]!, blocked: c[CNT_BLOCKED]!, errors: c[CNT_ERRORS]!,
        ...(c[CNT_ERRORS]! > 0 ? { firstError: c[CNT_FIRST_ERROR]! } : {}), elapsedMs,
      });
    });
  })));
  // A worker's exit is no scheduling point: wait through the scheduler until each has left, then for the exits.
  if (sched !== null) for (let i = 0; i < plans.length; i++) await sched.leftAsync(threadKey(KEY_INJECTOR, i));
  return exits;
}

/** The loop an injector worker runs (called from workers/msi-injector.ts). */
export async function injectorMain(d: InjectorWorkerData, post: (m: unknown) => void): Promise<void> {
  const { MsiInjector } = await import('./msi.js');
  const inj = MsiInjector.attach(d.handle, d.index);
  const c = new Int32Array(d.counters);
  const rounds = d.plan.rounds ?? 1;
  let delivered = 0, blocked = 0, errors = 0;
  const t0 = performance.now();
  inj.rt.sched?.enter();
  for (let r = 0; r < rounds; r++) {
    for (const msi of d.plan.msis) {
      const ret = inj.signalMsi(msi);
      if (ret === 1) delivered++;
      else if (ret === 0) blocked++;
      else if (errors++ === 0) c[CNT_FIRST_ERROR] = ret;
    }
  }
  const elapsedMs = performance.now() - t0;
  Atomics.store(c, CNT_DELIVERED, delivered);
  Atomics.store(c, CNT_BLOCKED, blocked);
  Atomics.store(c, CNT_ERRORS, errors);
  inj.rt.sched?.leave();
  post({ elapsedMs });
}
