/**
 * The validator across real worker threads sharing one graph: an ABBA split
 * over two threads (run one after the other, so no real deadlock) is an
 * inversion with both edges' provenance; a trylock adds no edge across
 * threads; a cycle through a synchronous actor request (the serving thread's
 * T_PROXY_FOR names the requester) is attributed to the requester's chain,
 * and named after the operation the ACTOR was in (the request it served).
 */
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { LockArena } from '../dist/src/sync/index.js';
import { Validator, findingKey, formatFinding } from '../dist/src/sync/validator.js';
import { operationId } from '../dist/src/sync/operations.js';

const FIXTURE = new URL('./fixtures/validator-worker.mjs', import.meta.url);

interface Party { tid: number; name: string; run(cmd: string, arg?: Record<string, number>): Promise<number> }

let workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.map((w) => w.terminate()));
  workers = [];
});

async function party(arena: LockArena, validator: SharedArrayBuffer, name: string, index: number): Promise<Party> {
  const w = new Worker(FIXTURE, { workerData: { arena: arena.buffer, validator, name, index } });
  workers.push(w);
  const tid = await new Promise<number>((resolve, reject) => {
    w.once('error', reject);
    w.once('message', (m: { tid: number }) => resolve(m.tid));
  });
  const failed = new Promise<Error>((resolve) => w.once('error', resolve));
  let next = 0;
  // Each command is answered before the test sends the next one: the threads' steps are serialised.
  const run = (cmd: string, arg: Record<string, number> = {}) => new Promise<number>((resolve, reject) => {
    const id = next++;
    const onMsg = (m: { id: number; result: number }) => {
      if (m.id !== id) return;
      w.off('message', onMsg);
      resolve(m.result);
    };
    w.on('message', onMsg);
    failed.then(reject);
    w.postMessage({ id, cmd, ...arg });
  });
  return { tid, name, run };
}

function setup() {
  const arena = LockArena.create({ classes: 16, threads: 8, locks: 16 }, 'off');
  const buffer = Validator.create(arena, { hierarchy: 'none' });
  const v = new Validator(buffer, arena);
  const a = arena.allocLock('A'), b = arena.allocLock('B');
  return { arena, buffer, v, a, b };
}

describe('validator across threads', () => {
  it('an ABBA over two threads is an inversion with both edges\' provenance', async () => {
    const { arena, buffer, v, a, b } = setup();
    const t0 = await party(arena, buffer, 'vCPU 0', 0), t1 = await party(arena, buffer, 'vCPU 1', 1);
    for (const [cmd, lock] of [['lock', a], ['lock', b], ['unlock', b], ['unlock', a]] as const) expect(await t0.run(cmd, { lock })).toBe(0);
    expect(v.findings()).toEqual([]);
    for (const [cmd, lock] of [['lock', b], ['lock', a], ['unlock', a], ['unlock', b]] as const) expect(await t1.run(cmd, { lock })).toBe(0);
    const f = v.findings();
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ kind: 'inversion', tid: t1.tid, thread: 'vCPU 1', lock: 'A#0', held: 'B#0' });
    expect(f[0]!.edges.map((e) => [`${e.from}->${e.to}`, e.thread, e.actingThread])).toEqual([
      ['B->A', 'vCPU 1', 'vCPU 1'], ['A->B', 'vCPU 0', 'vCPU 0']]);
    expect(formatFinding(f[0]!)).toMatch(/CPU0 \(vCPU 1\) +CPU1 \(vCPU 0\)/);
  });

  it('a trylock adds no edge: trylock B under A on one thread, A under B on another, no inversion', async () => {
    const { arena, buffer, v, a, b } = setup();
    const t0 = await party(arena, buffer, 'vCPU 0', 0), t1 = await party(arena, buffer, 'VMM', 1);
    for (const [cmd, lock] of [['lock', a], ['tryLock', b], ['unlock', b], ['unlock', a]] as const) expect(await t0.run(cmd, { lock })).toBe(0);
    for (const [cmd, lock] of [['lock', b], ['lock', a], ['unlock', a], ['unlock', b]] as const) expect(await t1.run(cmd, { lock })).toBe(0);
    expect(v.findings()).toEqual([]);
    expect(v.edges().map((e) => `${e.from}->${e.to}`)).toEqual(['B->A']);
  });

  it('an actor-mediated cycle: the actor thread\'s lock under the requester\'s held lock is the requester\'s edge', async () => {
    const { arena, buffer, v, a, b } = setup();
    const x = await party(arena, buffer, 'vCPU 0', 0);
    const actor = await party(arena, buffer, 'ITS actor', 1);
    const other = await party(arena, buffer, 'VMM', 2);
    // X holds A and "requests" the actor; the actor, serving X (T_PROXY_FOR = X), takes B.
    expect(await x.run('lock', { lock: a })).toBe(0);
    expect(await actor.run('proxy', { tid: x.tid })).toBe(0);
    expect(await actor.run('lock', { lock: b })).toBe(0);
    expect(await actor.run('unlock', { lock: b })).toBe(0);
    expect(await actor.run('proxy', { tid: 0 })).toBe(0);
    expect(await x.run('unlock', { lock: a })).toBe(0);
    expect(v.edges().map((e) => [`${e.from}->${e.to}`, e.thread, e.actingThread])).toEqual([['A->B', 'vCPU 0', 'ITS actor']]);
    // Outside a request the actor's locks are its own: B alone adds nothing.
    expect(await actor.run('lock', { lock: b })).toBe(0);
    expect(await actor.run('unlock', { lock: b })).toBe(0);
    // Another thread takes A under B: the cycle closes through the actor.
    for (const [cmd, lock] of [['lock', b], ['lock', a], ['unlock', a], ['unlock', b]] as const) expect(await other.run(cmd, { lock })).toBe(0);
    const f = v.findings();
    expect(f).toHaveLength(1);
    expect(f[0]!.kind).toBe('inversion');
    const viaActor = f[0]!.edges.find((e) => e.from === 'A')!;
    expect(viaActor).toMatchObject({ tid: x.tid, thread: 'vCPU 0', actingTid: actor.tid, actingThread: 'ITS actor', fromLock: 'A#0', toLock: 'B#0' });
    expect(formatFinding(f[0]!)).toContain('vCPU 0 (via ITS actor serving its request) acquired B#0 while holding A#0');
  });

  it('an actor-mediated edge names the actor\'s operation (the request it serves), not the requester\'s', async () => {
    const { arena, buffer, v, a, b } = setup();
    const x = await party(arena, buffer, 'vCPU 0', 0);
    const actor = await party(arena, buffer, 'ITS actor', 1);
    const other = await party(arena, buffer, 'VMM', 2);
    expect(await x.run('op', { op: operationId('MMIO write') })).toBe(0);
    expect(await x.run('lock', { lock: a })).toBe(0);
    expect(await actor.run('proxy', { tid: x.tid })).toBe(0);
    expect(await actor.run('op', { op: operationId('CWRITER write') })).toBe(0);
    expect(await actor.run('lock', { lock: b })).toBe(0);
    expect(await actor.run('unlock', { lock: b })).toBe(0);
    expect(await actor.run('op', { op: 0 })).toBe(operationId('CWRITER write'));
    expect(await actor.run('proxy', { tid: 0 })).toBe(0);
    expect(await x.run('unlock', { lock: a })).toBe(0);
    expect(await other.run('op', { op: operationId('SAVE_TABLES') })).toBe(0);
    for (const [cmd, lock] of [['lock', b], ['lock', a], ['unlock', a], ['unlock', b]] as const) expect(await other.run(cmd, { lock })).toBe(0);
    const [f] = v.findings();
    expect(f).toMatchObject({ kind: 'inversion', thread: 'VMM', operation: 'SAVE_TABLES' });
    expect(f!.edges.map((e) => [`${e.from}->${e.to}`, e.thread, e.actingThread, e.operation])).toEqual([
      ['B->A', 'VMM', 'VMM', 'SAVE_TABLES'], ['A->B', 'vCPU 0', 'ITS actor', 'CWRITER write']]);
    const text = formatFinding(f!);
    expect(text).toContain('vCPU 0 (via ITS actor serving its request) in CWRITER write acquired B#0 while holding A#0');
    expect(text).toContain('VMM in SAVE_TABLES is trying to acquire A#0 while holding B#0');
  });

  it('the same ABBA found from the other thread, closed at the other edge, has the same findingKey', async () => {
    const keys: string[] = [];
    for (const first of [0, 1]) {
      const { arena, buffer, v, a, b } = setup();
      const t = [await party(arena, buffer, 'vCPU 0', 0), await party(arena, buffer, 'vCPU 1', 1)];
      const [p, q] = first === 0 ? [t[0]!, t[1]!] : [t[1]!, t[0]!];
      const [x, y] = first === 0 ? [a, b] : [b, a];
      for (const [cmd, lock] of [['lock', x], ['lock', y], ['unlock', y], ['unlock', x]] as const) expect(await p.run(cmd, { lock })).toBe(0);
      for (const [cmd, lock] of [['lock', y], ['lock', x], ['unlock', x], ['unlock', y]] as const) expect(await q.run(cmd, { lock })).toBe(0);
      const [f] = v.findings();
      expect(f!.thread).toBe(q.name);
      keys.push(findingKey(f!));
      await Promise.all(workers.splice(0).map((w) => w.terminate()));
    }
    expect(keys).toEqual(['inversion: A -> B -> A', 'inversion: A -> B -> A']);
  });
});
