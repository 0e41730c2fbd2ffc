/**
 * Micro-benchmark agent: runs one single-thread batch function under
 * tinybench on its own thread, so each micro figure has its own isolate and
 * JIT state (a Mutex.lock() optimised with lock_stat 'full' feedback would
 * otherwise slow the 'off' figure). The batch comes from a factory exported
 * by an agent module; requests and replies travel over parentPort.
 */
import { parentPort } from 'node:worker_threads';
import { Bench } from 'tinybench';

/**
 * What a micro factory returns: `batch` performs `ops` operations per call.
 * An async batch (async: true) is awaited inside tinybench's timed window.
 */
export type MicroBatch =
  | { ops: number; async?: false; batch: () => void }
  | { ops: number; async: true; batch: () => Promise<void> };

export interface MicroData { module: string; factory: string; arg: unknown }
export interface MicroRequest { timeMs: number; warmupMs: number; minSamples: number }
export type MicroReply = { ready: true } | { samplesMs: number[] } | { error: string };

const sinkWords = new Int32Array(new SharedArrayBuffer(64));

/** Publish a value so the computation producing it cannot be eliminated. */
export function sink(v: number): void {
  Atomics.store(sinkWords, 0, v | 0);
}

export async function serve(d: MicroData): Promise<void> {
  const mod = (await import(d.module)) as Record<string, (arg: unknown) => MicroBatch>;
  const micro = mod[d.factory]!(d.arg);
  const port = parentPort!;
  port.on('message', async (req: MicroRequest) => {
    try {
      const bench = new Bench({
        time: req.timeMs,
        iterations: req.minSamples,
        warmup: req.warmupMs > 0,
        warmupTime: req.warmupMs,
        warmupIterations: 5,
        retainSamples: true,
        throws: true,
      });
      bench.add(d.factory, micro.batch, { async: micro.async === true });
      const r = (micro.async === true ? await bench.run() : bench.runSync())[0]!.result;
      if (r.state !== 'completed' || r.latency.samples === undefined) throw new Error(`tinybench: task ended ${r.state}`);
      port.postMessage({ samplesMs: [...r.latency.samples] } satisfies MicroReply);
    } catch (e) {
      port.postMessage({ error: String((e as Error)?.stack ?? e) } satisfies MicroReply);
    }
  });
  port.postMessage({ ready: true } satisfies MicroReply);
}
