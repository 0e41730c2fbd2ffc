/**
 * An MSI storm under the conservation ledger: one worker thread per
 * injector, each calling KVM_SIGNAL_MSI over its list of MSIs until stopped,
 * every accepted MSI recorded in the ledger (conservation.ts). The VMM can
 * hold the storm (every injector parks between two MSIs and says so) while it
 * saves or migrates, so no MSI is in flight when pending state is written out,
 * as QEMU stops its devices before it saves.
 *
 * Main-thread side: startLedgerStorm(); worker side: this module run as a
 * worker (it does nothing when imported on the main thread).
 */
import { isMainThread, Worker, workerData } from 'node:worker_threads';
import type { InjectorHandle, KvmMsi } from '../vgic/msi.js';
import { waitForWord } from '../sync/wait.js';

const ROLE = 'ledger-storm-injector';
const SELF = new URL(import.meta.url);

/** One MSI of an injector's list and the tracked LPI it translates to. */
export interface LedgerMsi { msi: KvmMsi; intid: number }

interface StormData {
  role: typeof ROLE;
  handle: InjectorHandle;
  index: number;
  msis: LedgerMsi[];
  ledger: SharedArrayBuffer;
  words: SharedArrayBuffer;
}

// Control words of one injector (Int32), then its counters (BigInt64: a long soak passes 2^31 MSIs per injector).
const W_STOP = 0, W_HOLD = 1, W_HELD = 2, W_FIRST_ERROR = 3, W_DONE = 4, WORDS = 8;
const C_SENT = 0, C_ACCEPTED = 1, C_REFUSED = 2, COUNTERS = 3;
const counters = (sab: SharedArrayBuffer) => new BigInt64Array(sab, 4 * WORDS, COUNTERS);

export interface StormFigures {
  sent: number;
  accepted: number;
  /** Calls that did not return 1 (e.g. -EINVAL while an ITS is being reset). */
  refused: number;
  /** The first refused call's result. */
  firstError: number;
}

export interface LedgerStorm {
  figures(): StormFigures;
  /** Park every injector between two MSIs; resolves once all of them are parked (false: one did not park in time). */
  hold(timeoutMs?: number): Promise<boolean>;
  release(): void;
  /** Stop and wait for every injector to exit; after `timeoutMs` (default 30 s) terminate them and reject. */
  stop(timeoutMs?: number): Promise<StormFigures>;
}

/** Start `lists.length` injector workers on the VM behind `handle`, recording into the ledger behind `ledger`. */
export function startLedgerStorm(handle: InjectorHandle, ledger: SharedArrayBuffer, lists: LedgerMsi[][]): LedgerStorm {
  const words = lists.map(() => new Int32Array(new SharedArrayBuffer(4 * WORDS + 8 * COUNTERS), 0, WORDS));
  const counts = words.map((w) => counters(w.buffer as SharedArrayBuffer));
  const errors: Error[] = [];
  // Per injector: its worker has exited (it sends nothing more, whatever its words say).
  const gone = lists.map(() => false);
  const workers = lists.map((msis, index) => {
    const data: StormData = { role: ROLE, handle, index, msis, ledger, words: words[index]!.buffer as SharedArrayBuffer };
    const w = new Worker(SELF, { workerData: data, name: `storm injector ${index}` });
    w.on('error', (e) => errors.push(e));
    return w;
  });
  const exited = workers.map((w, index) => new Promise<void>((resolve) => w.once('exit', () => {
    gone[index] = true;
    resolve();
  })));
  const figures = (): StormFigures => {
    const sum = (i: number) => counts.reduce((a, c) => a + Number(Atomics.load(c, i)), 0);
    const failed = words.findIndex((_, k) => Atomics.load(counts[k]!, C_REFUSED) > 0n);
    return { sent: sum(C_SENT), accepted: sum(C_ACCEPTED), refused: sum(C_REFUSED), firstError: failed >= 0 ? Atomics.load(words[failed]!, W_FIRST_ERROR) : 0 };
  };
  let stopped: Promise<StormFigures> | undefined;
  // Each hold has a generation of its own, so a park acknowledged for the last hold does not answer this one.
  let generation = 0;
  return {
    figures,
    async hold(timeoutMs = 30_000) {
      const g = ++generation;
      for (const w of words) Atomics.store(w, W_HOLD, g);
      for (const [k, w] of words.entries()) {
        // An injector whose worker has exited is not sending either.
        if (!(await waitForWord(w, W_HELD, (v) => v === g || gone[k]!, timeoutMs))) return false;
      }
      return true;
    },
    release() {
      for (const w of words) {
        Atomics.store(w, W_HOLD, 0);
        Atomics.notify(w, W_HOLD);
      }
    },
    stop(timeoutMs = 30_000) {
      stopped ??= (async () => {
        for (const w of words) {
          Atomics.store(w, W_STOP, 1);
          Atomics.store(w, W_HOLD, 0);
          Atomics.notify(w, W_HOLD);
        }
        // An injector stuck in signalMsi (a hung VM) is terminated after the grace, and that is an error.
        let timer: NodeJS.Timeout | undefined;
        const late = await Promise.race([
          Promise.all(exited).then(() => false),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
        ]);
        clearTimeout(timer);
        if (late) {
          await Promise.all(workers.map((w) => w.terminate()));
          throw new Error(`storm injectors did not stop within ${timeoutMs} ms (terminated)`);
        }
        if (errors.length > 0) throw errors[0]!;
        const early = words.findIndex((w) => Atomics.load(w, W_DONE) !== 1);
        if (early >= 0) throw new Error(`storm injector ${early} exited before reporting its counts`);
        return figures();
      })();
      return stopped;
    },
  };
}

async function injectorMain(d: StormData): Promise<void> {
  const [{ MsiInjector }, { VgicState, L_DELIVERED }, { ConservationLedger }, { VGIC_DEVICE_KEY }] = await Promise.all([
    import('../vgic/msi.js'), import('../vgic/vgic-state.js'), import('./conservation.js'), import('../vgic/layout.js'),
  ]);
  const inj = MsiInjector.attach(d.handle, d.index, `storm injector ${d.index}`);
  const st = new VgicState((d.handle.shared.devices[VGIC_DEVICE_KEY] as { state: SharedArrayBuffer }).state);
  const probe = { delivered: (intid: number) => Atomics.load(st.i32, st.lpi(intid) + L_DELIVERED) };
  const ledger = ConservationLedger.attach(d.ledger);
  const w = new Int32Array(d.words, 0, WORDS);
  const c = counters(d.words);
  let sent = 0, accepted = 0, refused = 0;
  const publish = () => {
    Atomics.store(c, C_SENT, BigInt(sent));
    Atomics.store(c, C_ACCEPTED, BigInt(accepted));
    Atomics.store(c, C_REFUSED, BigInt(refused));
  };
  while (Atomics.load(w, W_STOP) === 0) {
    for (const m of d.msis) {
      const ret = ledger.signal(inj, m.msi, m.intid, probe);
      sent++;
      if (ret === 1) accepted++;
      else if (refused++ === 0) Atomics.store(w, W_FIRST_ERROR, ret);
      if (Atomics.load(w, W_HOLD) !== 0) break;
    }
    publish();
    // Parked: acknowledge each hold generation, until released or stopped.
    for (let g = Atomics.load(w, W_HOLD); g !== 0 && Atomics.load(w, W_STOP) === 0; g = Atomics.load(w, W_HOLD)) {
      if (Atomics.load(w, W_HELD) !== g) {
        Atomics.store(w, W_HELD, g);
        Atomics.notify(w, W_HELD);
      }
      Atomics.wait(w, W_HOLD, g);
    }
  }
  publish();
  Atomics.store(w, W_DONE, 1);
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) {
  await injectorMain(workerData as StormData);
}
