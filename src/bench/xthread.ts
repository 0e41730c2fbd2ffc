/**
 * Cross-thread benchmarks, main-thread side: start agent workers (generic
 * bench workers that run one exported function of a src/bench/agents module),
 * wait on shared words without blocking the event loop, and drive the batch
 * protocol of agents/batch.ts. An agent that throws or exits fails the
 * benchmark instead of hanging it; close() terminates every agent.
 */
import { Worker, type TransferListItem } from 'node:worker_threads';
import { C_CONSUMED, C_DONE, C_GO, C_READY, F_BATCH_NS } from './agents/batch.js';
import type { RunContext, Session } from './types.js';

const AGENT_WORKER = new URL('../../workers/bench-agent.js', import.meta.url);

/** Module URL of an agent module (src/bench/agents/<name>.ts, compiled). */
export function agentModule(name: string): URL {
  return new URL(`./agents/${name}.js`, import.meta.url);
}

/** What a bench-agent worker receives. */
export interface AgentData {
  module: string;
  entry: string;
  data: unknown;
}

/** Longest the main thread waits for any single agent step before declaring it hung. */
const STEP_TIMEOUT_MS = 120_000;

export class Agents {
  private readonly workers: Worker[] = [];
  private closing = false;
  private readonly cleanups: (() => void)[] = [];
  /** First agent failure (checked by every wait). */
  error: Error | undefined;

  spawn(module: URL, entry: string, data: unknown, transferList: TransferListItem[] = []): Worker {
    const workerData: AgentData = { module: module.href, entry, data };
    const w = new Worker(AGENT_WORKER, { workerData, transferList });
    w.on('error', (e) => { this.error ??= e; });
    w.on('exit', (code) => {
      if (!this.closing) this.error ??= new Error(`bench agent ${entry} exited early (code ${code})`);
    });
    this.workers.push(w);
    return w;
  }

  /** Resolve `p`, or throw if an agent fails first or nothing happens for STEP_TIMEOUT_MS. */
  async guard<T>(p: Promise<T>, what: string): Promise<T> {
    let poll: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, reject) => {
          const t0 = performance.now();
          poll = setInterval(() => {
            if (this.error) reject(this.error);
            else if (performance.now() - t0 > STEP_TIMEOUT_MS) reject(new Error(`bench: timed out waiting for ${what}`));
          }, 20);
        }),
      ]);
    } finally {
      clearInterval(poll);
    }
  }

  /** Wait (asynchronously) until `ok(i32[index])`. */
  async waitWord(i32: Int32Array, index: number, ok: (v: number) => boolean, what: string): Promise<number> {
    const t0 = performance.now();
    for (;;) {
      const v = Atomics.load(i32, index);
      if (ok(v)) return v;
      if (this.error) throw this.error;
      if (performance.now() - t0 > STEP_TIMEOUT_MS) throw new Error(`bench: timed out waiting for ${what}`);
      const r = Atomics.waitAsync(i32, index, v, 50);
      if (r.async) await r.value;
    }
  }

  /** Run `f` when the agents are closed (e.g. close a MessagePort). */
  atClose(f: () => void): void {
    this.cleanups.push(f);
  }

  /** Terminate every agent and run the atClose callbacks (idempotent). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    for (const f of this.cleanups.splice(0)) f();
  }
}

/**
 * A session on the batch protocol of agents/batch.ts: waits until `agents`
 * agents are ready, runs `warmup` unmeasured batches, then yields one batch
 * per sample() as ns per message. close() terminates the agents.
 */
export async function batchSession(
  agents: Agents, ctx: RunContext, ctl: Int32Array, f64: Float64Array,
  opts: { agents: number; count: number; warmup: number; diagnose?: () => string },
): Promise<Session> {
  let rep = 0;
  const batch = async (): Promise<number> => {
    rep++;
    Atomics.store(ctl, C_GO, rep);
    Atomics.notify(ctl, C_GO);
    try {
      await agents.waitWord(ctl, C_DONE, (v) => v >= rep, `batch ${rep}`);
    } catch (e) {
      const state = `consumed ${Atomics.load(ctl, C_CONSUMED)} of ${rep * opts.count}, producer done with batch ${Atomics.load(ctl, C_DONE)}`;
      throw new Error(`${(e as Error).message} (${state}${opts.diagnose ? `; ${opts.diagnose()}` : ''})`, { cause: e });
    }
    return f64[F_BATCH_NS]! / opts.count;
  };
  try {
    await agents.waitWord(ctl, C_READY, (v) => v >= opts.agents, 'agents to start');
    for (let i = 0; i < opts.warmup; i++) {
      ctx.progress(`warm-up ${i + 1}/${opts.warmup}`);
      await batch();
    }
  } catch (e) {
    await agents.close();
    throw e;
  }
  return {
    rep: `batch of ${opts.count.toLocaleString('en-US')} messages, wall time / count`,
    sample: async () => [await batch()],
    close: () => agents.close(),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
