/**
 * Single-thread micro figures on tinybench, each on its own agent thread
 * (agents/micro.ts). One tinybench sample is one call of the batch, which
 * performs a fixed number of operations; the figure's repetitions are those
 * samples converted to ns per operation, so they are measured the same way
 * as the cross-thread batches (wall time over a fixed count / count). Each
 * round runs tinybench for microTimeMs / rounds.
 */
import { once } from 'node:events';
import type { MicroReply, MicroRequest } from './agents/micro.js';
import type { RunContext, Session } from './types.js';
import { Agents, agentModule } from './xthread.js';

/** Open a micro session on `factory(arg)` exported by agent module `module` (a MicroBatch of `ops` operations). */
export async function microSession(ctx: RunContext, module: string, factory: string, arg: unknown, ops: number): Promise<Session> {
  const agents = new Agents();
  try {
    const w = agents.spawn(agentModule('micro'), 'serve', { module: agentModule(module).href, factory, arg });
    const next = async (what: string): Promise<MicroReply> => {
      const [reply] = (await agents.guard(once(w, 'message'), what)) as [MicroReply];
      if ('error' in reply) throw new Error(reply.error);
      return reply;
    };
    await next('the micro agent to start');
    const b = ctx.budget;
    let first = true;
    return {
      rep: `tinybench sample: a batch of ${ops.toLocaleString('en-US')} ops`,
      async sample() {
        const req: MicroRequest = {
          timeMs: b.microTimeMs / b.rounds,
          warmupMs: first ? Math.max(10, b.microTimeMs / 4) : 5,
          minSamples: 5,
        };
        first = false;
        w.postMessage(req);
        const reply = await next('tinybench');
        if (!('samplesMs' in reply)) throw new Error('micro agent: unexpected reply');
        return reply.samplesMs.map((ms) => (ms * 1e6) / ops);
      },
      close: () => agents.close(),
    };
  } catch (e) {
    await agents.close();
    throw e;
  }
}
