/**
 * The storm injector of scenario 'migrate-storm': a worker thread that calls
 * KVM_SIGNAL_MSI over its list of MSIs until told to stop, and accounts for
 * every call per MSI: accepted (1), accepted while the LPI was already
 * pending (those may coalesce into one delivery: the edge latch), refused
 * (anything else). Each LPI belongs to one injector, and only an injector
 * sets an LPI pending, so an MSI that found its LPI not pending starts a
 * pending episode of its own: it must be delivered exactly once.
 *
 * Main-thread side: startStormInjector(); worker side: this module run as a
 * worker (it does nothing when imported on the main thread).
 */
import { isMainThread, Worker, workerData } from 'node:worker_threads';
import type { InjectorHandle } from '../../vgic/msi.js';
import { VGIC_DEVICE_KEY, type VgicShared } from '../../vgic/layout.js';

const ROLE = 'migrate-storm-injector';
const SELF = new URL(import.meta.url);

/** One MSI of an injector's list, with the LPI it translates to (for the pending check). */
export interface StormMsi { address: number; data: number; devid: number; intid: number }

interface StormInjectorData {
  role: typeof ROLE;
  handle: InjectorHandle;
  index: number;
  msis: StormMsi[];
  counters: SharedArrayBuffer;
}

// Counter words: [stop, sent (live), first error, done], then per MSI k: accepted, accepted while pending, refused.
const W_STOP = 0, W_SENT = 1, W_FIRST_ERROR = 2, W_DONE = 3, W_PER_MSI = 4;

export interface StormCounts {
  sent: number;
  /** Per MSI of the list. */
  accepted: number[];
  acceptedWhilePending: number[];
  refused: number[];
  /** The first refused call's result (0 blocked, or -errno); meaningful when some call was refused. */
  firstError: number;
}

export interface StormInjector {
  /** MSIs sent so far (updated after each pass over the list). */
  sent(): number;
  /** Ask the worker to stop; resolves with its counts once it has exited. */
  stop(): Promise<StormCounts>;
}

/** Start one storm injector worker on the VM behind `handle`. */
export function startStormInjector(handle: InjectorHandle, index: number, msis: StormMsi[]): StormInjector {
  const counters = new SharedArrayBuffer(4 * (W_PER_MSI + 3 * msis.length));
  const c = new Int32Array(counters);
  const data: StormInjectorData = { role: ROLE, handle, index, msis, counters };
  const w = new Worker(SELF, { workerData: data });
  let error: Error | undefined;
  w.on('error', (e) => (error = e));
  const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
  return {
    sent: () => Atomics.load(c, W_SENT),
    async stop() {
      Atomics.store(c, W_STOP, 1);
      await exited;
      if (error !== undefined) throw error;
      if (Atomics.load(c, W_DONE) !== 1) throw new Error(`storm injector ${index} exited before reporting its counts`);
      const per = (j: number) => msis.map((_, k) => Atomics.load(c, W_PER_MSI + 3 * k + j));
      return { sent: Atomics.load(c, W_SENT), accepted: per(0), acceptedWhilePending: per(1), refused: per(2), firstError: Atomics.load(c, W_FIRST_ERROR) };
    },
  };
}

async function injectorMain(d: StormInjectorData): Promise<void> {
  const [{ MsiInjector }, { VgicState, F_PENDING, L_FLAGS }] = await Promise.all([import('../../vgic/msi.js'), import('../../vgic/vgic-state.js')]);
  const inj = MsiInjector.attach(d.handle, d.index, `storm injector ${d.index}`);
  const st = new VgicState((d.handle.shared.devices[VGIC_DEVICE_KEY] as VgicShared).state);
  const c = new Int32Array(d.counters);
  const n = d.msis.length;
  const accepted = new Int32Array(n), whilePending = new Int32Array(n), refused = new Int32Array(n);
  const flagWords = d.msis.map((m) => st.lpi(m.intid) + L_FLAGS);
  let sent = 0, firstError = 0, refusedAll = 0;
  while (Atomics.load(c, W_STOP) === 0) {
    for (let k = 0; k < n; k++) {
      const pendingBefore = (Atomics.load(st.i32, flagWords[k]!) & F_PENDING) !== 0;
      const ret = inj.signalMsi(d.msis[k]!);
      if (ret === 1) {
        accepted[k]!++;
        if (pendingBefore) whilePending[k]!++;
      } else {
        refused[k]!++;
        if (refusedAll++ === 0) firstError = ret;
      }
    }
    sent += n;
    Atomics.store(c, W_SENT, sent);
  }
  for (let k = 0; k < n; k++) {
    Atomics.store(c, W_PER_MSI + 3 * k, accepted[k]!);
    Atomics.store(c, W_PER_MSI + 3 * k + 1, whilePending[k]!);
    Atomics.store(c, W_PER_MSI + 3 * k + 2, refused[k]!);
  }
  Atomics.store(c, W_FIRST_ERROR, firstError);
  Atomics.store(c, W_DONE, 1);
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) {
  await injectorMain(workerData as StormInjectorData);
}
