/**
 * Agents of the lpi benchmarks (issue 3).
 *
 * injector: one per device, like the device threads of vgic_lpi_stress: it
 * attaches to the VM (MsiInjector.attach, a registered injector thread) once,
 * then serves repetitions: on GO it signals each of its events `rounds`
 * times with signalMsi (the blocking worker-thread KVM_SIGNAL_MSI), counts
 * every result other than 1, stamps its first and last call
 * (performance.timeOrigin + performance.now(), comparable across threads),
 * and reports. The main thread times a repetition from the earliest start to
 * the latest end over all injectors.
 *
 * msiLatency / pinger + ponger: one operation in flight at a time, the
 * sender stamps just before it signals, the receiving thread stamps when it
 * sees the operation (the guest right after its acknowledge; the ponger right
 * after its Atomics.wait returns); latency = receive stamp - send stamp. The
 * sender settles (sleeps) before each operation so the receiver is parked
 * (the vCPU in WFI, the ponger in Atomics.wait) when it arrives.
 */
import type { InjectorHandle, KvmMsi } from '../../vgic/msi.js';
import { PARK_SLICE_MS } from './batch.js';

// ---- control block of the lpi agents ----------------------------------------------------------

/** Int32 words: GO (repetition number), DONE (agents done, cumulative), FAILED (cumulative), READY. */
export const L_GO = 0, L_DONE = 16, L_FAILED = 17, L_READY = 32;
/** Float64 index where the per-agent / per-operation values start (byte 256). */
export const L_F64 = 32;

/** A control block with room for `values` Float64 values. */
export function lpiControl(values: number): { buffer: SharedArrayBuffer; i32: Int32Array; f64: Float64Array } {
  const buffer = new SharedArrayBuffer(256 + 8 * Math.max(1, values));
  return { buffer, i32: new Int32Array(buffer), f64: new Float64Array(buffer) };
}

export function readyUp(ctl: Int32Array): void {
  Atomics.add(ctl, L_READY, 1);
  Atomics.notify(ctl, L_READY);
}

/** Wait for the next GO; returns the repetition number. */
function nextGo(ctl: Int32Array, rep: number): number {
  for (;;) {
    Atomics.wait(ctl, L_GO, rep, PARK_SLICE_MS);
    const go = Atomics.load(ctl, L_GO);
    if (go !== rep) return go;
  }
}

export function done(ctl: Int32Array, failed: number): void {
  if (failed !== 0) Atomics.add(ctl, L_FAILED, failed);
  Atomics.add(ctl, L_DONE, 1);
  Atomics.notify(ctl, L_DONE);
}

export const stamp = (): number => performance.timeOrigin + performance.now();

// ---- throughput: injector threads --------------------------------------------------------------

export interface InjectorData {
  handle: InjectorHandle;
  /** Injector index (thread registration) and slot in the control block (f64 L_F64 + 2 * slot: start, end). */
  slot: number;
  msis: KvmMsi[];
  rounds: number;
  ctl: SharedArrayBuffer;
}

export async function injector(d: InjectorData): Promise<never> {
  const { MsiInjector } = await import('../../vgic/msi.js');
  const inj = MsiInjector.attach(d.handle, d.slot, `bench injector ${d.slot}`);
  const ctl = new Int32Array(d.ctl), f64 = new Float64Array(d.ctl);
  const msis = d.msis, n = msis.length, rounds = d.rounds;
  readyUp(ctl);
  let rep = 0;
  for (;;) {
    rep = nextGo(ctl, rep);
    let failed = 0;
    const t0 = stamp();
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < n; i++) if (inj.signalMsi(msis[i]!) !== 1) failed++;
    }
    const t1 = stamp();
    f64[L_F64 + 2 * d.slot] = t0;
    f64[L_F64 + 2 * d.slot + 1] = t1;
    done(ctl, failed);
  }
}

// ---- latency ----------------------------------------------------------------------------------------

/** Words of the receive side (a SharedArrayBuffer of RX_BYTES): Int32 sequence seen, Float64 stamp. */
export const RX_SEQ = 0, RX_REQ = 16, RX_F64_STAMP = 1;
export const RX_BYTES = 128;

export interface LatencyData {
  ctl: SharedArrayBuffer;
  rx: SharedArrayBuffer;
  /** Operations per repetition (their latencies, µs, go to f64 L_F64 + i). */
  perRep: number;
  settleMs: number;
}

/**
 * Serve repetitions of `perRep` timed operations: settle, stamp, send(seq),
 * wait until the receiver published seq, latency = its stamp - ours.
 */
function latencyLoop(d: LatencyData, send: (seq: number) => boolean): never {
  const ctl = new Int32Array(d.ctl), f64 = new Float64Array(d.ctl);
  const rx = new Int32Array(d.rx), rxf = new Float64Array(d.rx);
  const settle = new Int32Array(new SharedArrayBuffer(4));
  let seq = Atomics.load(rx, RX_SEQ);
  readyUp(ctl);
  let rep = 0;
  for (;;) {
    rep = nextGo(ctl, rep);
    let failed = 0;
    for (let i = 0; i < d.perRep; i++) {
      Atomics.wait(settle, 0, 0, d.settleMs);
      seq++;
      const t0 = stamp();
      if (!send(seq)) {
        failed++;
        seq = Atomics.load(rx, RX_SEQ);
        f64[L_F64 + i] = NaN;
        continue;
      }
      const deadline = performance.now() + 10_000;
      for (let v = Atomics.load(rx, RX_SEQ); v !== seq; v = Atomics.load(rx, RX_SEQ)) {
        if (performance.now() > deadline) throw new Error(`latency: no answer to operation ${seq} within 10 s (seen ${v})`);
        Atomics.wait(rx, RX_SEQ, v, 50);
      }
      f64[L_F64 + i] = (rxf[RX_F64_STAMP]! - t0) * 1e3;
    }
    done(ctl, failed);
  }
}

export interface MsiLatencyData extends LatencyData {
  handle: InjectorHandle;
  msi: KvmMsi;
  /** If given, operation `seq` signals msis[seq % length] instead of `msi` (spreads the LPIs over vCPUs). */
  msis?: KvmMsi[];
}

/** signalMsi on this injector thread -> the ack-guest's acknowledge on its vCPU thread. */
export async function msiLatency(d: MsiLatencyData): Promise<never> {
  const { MsiInjector } = await import('../../vgic/msi.js');
  const inj = MsiInjector.attach(d.handle, 0, 'bench latency injector');
  const msis = d.msis;
  return latencyLoop(d, (seq) => inj.signalMsi(msis === undefined ? d.msi : msis[seq % msis.length]!) === 1);
}

/** The baseline's sender: store the sequence number and Atomics.notify the parked ponger. */
export function pinger(d: LatencyData): never {
  const rx = new Int32Array(d.rx);
  return latencyLoop(d, (seq) => {
    Atomics.store(rx, RX_REQ, seq);
    Atomics.notify(rx, RX_REQ);
    return true;
  });
}

/** The baseline's receiver: parked in Atomics.wait; stamps as soon as it returns, then publishes. */
export function ponger(d: LatencyData): never {
  const rx = new Int32Array(d.rx), rxf = new Float64Array(d.rx);
  let seen = Atomics.load(rx, RX_REQ);
  readyUp(new Int32Array(d.ctl));
  for (;;) {
    Atomics.wait(rx, RX_REQ, seen, PARK_SLICE_MS);
    const v = Atomics.load(rx, RX_REQ);
    if (v === seen) continue;
    const t = stamp();
    seen = v;
    rxf[RX_F64_STAMP] = t;
    Atomics.store(rx, RX_SEQ, v);
    Atomics.notify(rx, RX_SEQ);
  }
}
