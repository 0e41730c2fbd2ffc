/**
 * Agents of the rpc benchmarks: request/response between threads the way a
 * user of Node would write it. A callee answers add1(x) = x + 1 either by
 * hand (postMessage of a number, echoed by a 'message' handler) or through
 * comlink (Comlink.expose / Comlink.wrap over the Node adapter, as the VMM
 * drives vCPU workers); a caller awaits one call at a time. The main thread
 * is the caller of the main -> worker figures (timed in the suite); a caller
 * agent is the caller of the worker -> worker figures, timed on its own clock
 * with the batch protocol of agents/batch.ts (async: its event loop must run
 * for the replies to arrive). The piscina task lives in rpc-task.ts.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { C_DONE, C_GO, F_BATCH_NS, PARK_SLICE_MS, ready } from './batch.js';

/** What every callee offers. */
export interface Callee {
  add1(x: number): number;
}

export type RpcKind = 'postmessage' | 'comlink';

/** A callee on `port`, or on the worker's parentPort when `port` is null. */
export interface CalleeData {
  kind: RpcKind;
  port: MessagePort | null;
}

export function callee(d: CalleeData): void {
  const port = d.port ?? parentPort!;
  if (d.kind === 'comlink') {
    Comlink.expose({ add1: (x: number) => x + 1 } satisfies Callee, nodeEndpoint(port));
  } else {
    port.on('message', (x: number) => port.postMessage(x + 1));
  }
}

/** Something with a Node MessagePort's postMessage/on('message') (a MessagePort or a Worker). */
export interface PortLike {
  postMessage(v: unknown): void;
  on(ev: 'message', f: (v: unknown) => void): unknown;
}

/**
 * The caller's side of a hand-written round trip: post x, resolve with the
 * reply. One call at a time (the caller awaits each), so one pending resolver.
 */
export function echoCaller(port: PortLike): (x: number) => Promise<number> {
  let pending: ((v: number) => void) | null = null;
  port.on('message', (v) => {
    const p = pending;
    pending = null;
    p?.(v as number);
  });
  return (x) => new Promise<number>((resolve) => {
    pending = resolve;
    port.postMessage(x);
  });
}

/** The caller's side of a comlink call: `remote.add1(x)`. */
export function comlinkCaller(port: PortLike): { call: (x: number) => Promise<number>; release: () => void } {
  const remote = Comlink.wrap<Callee>(nodeEndpoint(port));
  return { call: (x) => remote.add1(x), release: () => remote[Comlink.releaseProxy]() };
}

/**
 * A hand-written pipeline of round trips: keep up to `window` requests in
 * flight (post the next one as each reply arrives) until `count` replies are
 * in; resolves when they are, throws unless every reply was x + 1. The same
 * shape as a task pool with `window` tasks in flight per worker.
 */
export function windowedEcho(port: PortLike, window: number): (count: number) => Promise<void> {
  let sent = 0, got = 0, acc = 0, n = 0;
  let done: ((e?: Error) => void) | null = null;
  port.on('message', (v) => {
    acc += v as number;
    if (++got < n) {
      if (sent < n) port.postMessage(sent++);
      return;
    }
    const d = done;
    done = null;
    d?.(acc === (n * (n + 1)) / 2 ? undefined : new Error(`rpc: wrong replies (sum ${acc})`));
  });
  return (count) => new Promise<void>((resolve, reject) => {
    sent = 0;
    got = 0;
    acc = 0;
    n = count;
    done = (e) => (e === undefined ? resolve() : reject(e));
    while (sent < Math.min(window, count)) port.postMessage(sent++);
  });
}

/** `count` awaited calls of `call`; throws unless every reply was x + 1. Resolves to nothing, checks the sum. */
export async function callBatch(call: (x: number) => Promise<number>, count: number): Promise<void> {
  let acc = 0;
  for (let i = 0; i < count; i++) acc += await call(i);
  if (acc !== (count * (count + 1)) / 2) throw new Error(`rpc: wrong replies (sum ${acc})`);
}

export interface CallerData {
  kind: RpcKind;
  port: MessagePort;
  ctl: SharedArrayBuffer;
  count: number;
}

/**
 * The worker -> worker caller: serve repetitions of the batch protocol
 * (GO -> `count` awaited calls -> BATCH_NS, DONE) until terminated, waiting
 * for GO with Atomics.waitAsync so the event loop keeps running.
 */
export async function caller(d: CallerData): Promise<never> {
  const call = d.kind === 'comlink' ? comlinkCaller(d.port).call : echoCaller(d.port);
  const ctl = new Int32Array(d.ctl), f64 = new Float64Array(d.ctl);
  ready(ctl);
  let rep = 0;
  for (;;) {
    const w = Atomics.waitAsync(ctl, C_GO, rep, PARK_SLICE_MS);
    if (w.async) await w.value;
    const go = Atomics.load(ctl, C_GO);
    if (go === rep) continue;
    rep = go;
    const t0 = performance.now();
    await callBatch(call, d.count);
    f64[F_BATCH_NS] = (performance.now() - t0) * 1e6;
    Atomics.store(ctl, C_DONE, rep);
    Atomics.notify(ctl, C_DONE);
  }
}
