/**
 * Request/response and task dispatch between threads with the tools a Node
 * user would reach for (issue 6): comlink calls and piscina tasks, each
 * beside a hand-written postMessage round trip of the same shape measured in
 * the same rounds. The callee always computes add1(x) = x + 1 and the caller
 * checks every reply.
 *
 *   main -> worker     the main thread awaits one call at a time (as the VMM
 *                      awaits a vCPU's comlink run()), timed on its clock
 *   worker -> worker   a caller agent does the same over a MessageChannel,
 *                      timed on its clock (batch protocol, agents/rpc.ts)
 *   piscina            the main thread submits a batch of tasks to a pool of
 *                      one worker and awaits them all (Promise.all), with 1
 *                      or 16 tasks in flight (concurrentTasksPerWorker),
 *                      against a hand-written pipeline keeping as many
 *                      round trips in flight to one worker
 */
import { MessageChannel } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { controlBlock } from '../agents/batch.js';
import { callBatch, comlinkCaller, echoCaller, windowedEcho, type RpcKind } from '../agents/rpc.js';
import type { Benchmark, RunContext, Session } from '../types.js';
import { Agents, agentModule, batchSession } from '../xthread.js';

function calls(ctx: RunContext): number {
  return ctx.pick({ full: 4_000, quick: 2_000, smoke: 20 });
}

function warmups(ctx: RunContext): number {
  return ctx.pick({ full: 2, quick: 1, smoke: 1 });
}

/**
 * A session timed on the main thread: each sample runs `batch` (which performs
 * `count` operations) once and yields wall time / count in ns. An agent that
 * fails or a batch that hangs fails the benchmark.
 */
async function mainThreadSession(
  agents: Agents, ctx: RunContext,
  o: { count: number; rep: string; batch: () => Promise<void>; close?: () => Promise<void> },
): Promise<Session> {
  const close = async (): Promise<void> => {
    try {
      await o.close?.();
    } finally {
      await agents.close();
    }
  };
  const once = async (): Promise<number> => {
    const t0 = performance.now();
    await agents.guard(o.batch(), 'a batch of calls');
    return ((performance.now() - t0) * 1e6) / o.count;
  };
  try {
    const n = warmups(ctx);
    for (let i = 0; i < n; i++) {
      ctx.progress(`warm-up ${i + 1}/${n}`);
      await once();
    }
  } catch (e) {
    await close().catch(() => {});
    throw e;
  }
  return { rep: o.rep, sample: async () => [await once()], close };
}

/** main -> worker: one awaited call at a time over the Worker object (postMessage to the worker, reply on its parentPort). */
function mainToWorker(kind: RpcKind) {
  return async (ctx: RunContext): Promise<Session> => {
    const agents = new Agents();
    const w = agents.spawn(agentModule('rpc'), 'callee', { kind, port: null });
    const count = calls(ctx);
    let release = (): void => {};
    let call: (x: number) => Promise<number>;
    if (kind === 'comlink') ({ call, release } = comlinkCaller(w));
    else call = echoCaller(w);
    return mainThreadSession(agents, ctx, {
      count,
      rep: `${count.toLocaleString('en-US')} calls awaited one at a time, wall time / count`,
      batch: () => callBatch(call, count),
      close: async () => release(),
    });
  };
}

/** worker -> worker: a caller agent awaits one call at a time over a MessageChannel to a callee agent. */
function workerToWorker(kind: RpcKind) {
  return async (ctx: RunContext): Promise<Session> => {
    const agents = new Agents();
    try {
      const { buffer, i32, f64 } = controlBlock();
      const count = calls(ctx);
      const { port1, port2 } = new MessageChannel();
      agents.spawn(agentModule('rpc'), 'callee', { kind, port: port2 }, [port2]);
      agents.spawn(agentModule('rpc'), 'caller', { kind, port: port1, ctl: buffer, count }, [port1]);
      const s = await batchSession(agents, ctx, i32, f64, { agents: 1, count, warmup: warmups(ctx) });
      return { ...s, rep: `${count.toLocaleString('en-US')} calls awaited one at a time, wall time / count on the caller's clock` };
    } catch (e) {
      await agents.close();
      throw e;
    }
  };
}

const PISCINA_TASK = fileURLToPath(agentModule('rpc-task'));

/** Tasks per piscina batch: submitted at once, awaited together. */
function tasks(ctx: RunContext): number {
  return ctx.pick({ full: 4_000, quick: 2_000, smoke: 20 });
}

const postMessageRtt: Benchmark = {
  name: 'rpc.postmessage-rtt',
  group: 'rpc',
  title: 'main -> worker round trip by hand: worker.postMessage(x), the worker\'s parentPort handler posts x + 1 back, main awaits it',
  unit: 'ns/call',
  open: mainToWorker('postmessage'),
};

const comlinkCall: Benchmark = {
  name: 'rpc.comlink',
  group: 'rpc',
  title: 'main -> worker comlink call: await remote.add1(x) on Comlink.wrap(nodeEndpoint(worker)), the worker Comlink.expose()s it',
  unit: 'ns/call',
  baseline: postMessageRtt.name,
  open: mainToWorker('comlink'),
};

const postMessageRttW2w: Benchmark = {
  name: 'rpc.postmessage-rtt-w2w',
  group: 'rpc',
  title: 'worker -> worker round trip by hand over a MessageChannel (post x, the other worker posts x + 1 back), awaited one at a time',
  unit: 'ns/call',
  open: workerToWorker('postmessage'),
};

const comlinkW2w: Benchmark = {
  name: 'rpc.comlink-w2w',
  group: 'rpc',
  title: 'worker -> worker comlink call over a MessageChannel: await remote.add1(x)',
  unit: 'ns/call',
  baseline: postMessageRttW2w.name,
  open: workerToWorker('comlink'),
};

/** Tasks in flight of the pipelined figures. */
const WINDOW = 16;

const postMessagePipelined: Benchmark = {
  name: `rpc.postmessage-pipelined-${WINDOW}`,
  group: 'rpc',
  title: `main -> worker round trips by hand with ${WINDOW} in flight: post the next request as each reply arrives`,
  unit: 'ns/call',
  open: async (ctx) => {
    const agents = new Agents();
    const w = agents.spawn(agentModule('rpc'), 'callee', { kind: 'postmessage', port: null });
    const count = tasks(ctx);
    const run = windowedEcho(w, WINDOW);
    return mainThreadSession(agents, ctx, {
      count,
      rep: `batch of ${count.toLocaleString('en-US')} round trips, ${WINDOW} in flight, wall time / count`,
      batch: () => run(count),
    });
  },
};

/** A piscina pool of one worker thread with `inFlight` tasks per worker. */
function piscinaBench(inFlight: number, baseline: string): Benchmark {
  return {
    name: `rpc.piscina-${inFlight}`,
    group: 'rpc',
    title: `piscina pool of 1 worker, concurrentTasksPerWorker ${inFlight} (defaults otherwise): Promise.all of a batch of pool.run(x), task = add1`,
    unit: 'ns/task',
    baseline,
    open: async (ctx) => {
      const agents = new Agents();
      const pool = new Piscina<number, number>({ filename: PISCINA_TASK, minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: inFlight });
      const count = tasks(ctx);
      const xs = Array.from({ length: count }, (_, i) => i);
      return mainThreadSession(agents, ctx, {
        count,
        rep: `batch of ${count.toLocaleString('en-US')} tasks submitted at once and awaited together, wall time / count`,
        batch: async () => {
          const ys = await Promise.all(xs.map((x) => pool.run(x)));
          let acc = 0;
          for (const y of ys) acc += y;
          if (acc !== (count * (count + 1)) / 2) throw new Error(`piscina: wrong results (sum ${acc})`);
        },
        close: () => pool.destroy(),
      });
    },
  };
}

export const rpcBenchmarks: Benchmark[] = [
  postMessageRtt, comlinkCall, postMessageRttW2w, comlinkW2w,
  postMessagePipelined, piscinaBench(1, postMessageRtt.name), piscinaBench(WINDOW, postMessagePipelined.name),
];
