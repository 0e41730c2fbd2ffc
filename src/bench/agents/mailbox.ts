/**
 * Agents of the mailbox benchmark: an actor host running the real ActorHost
 * loop (drain in batches, spin, park on the doorbell) with the sink actor,
 * and a producer posting one-way messages through ActorClient.post (the
 * path vCPUs and devices use).
 */
import type { MessagePort } from 'node:worker_threads';
import { ActorClient } from '../../actors/client.js';
import { ActorDirectory } from '../../actors/directory.js';
import { ActorHost } from '../../actors/host.js';
import { M_ARGS, OP_DEVICE } from '../../actors/protocol.js';
import { LockArena } from '../../sync/arena.js';
import { producerLoop, ready } from './batch.js';

export interface MailboxHostData {
  arena: SharedArrayBuffer;
  directory: SharedArrayBuffer;
  tid: number;
  host: number;
  port: MessagePort;
}

export async function actorHost(d: MailboxHostData): Promise<void> {
  const arena = new LockArena(d.arena);
  await new ActorHost(new ActorDirectory(d.directory), arena, d.tid, d.host, d.port, null).run();
}

export interface MailboxProducerData {
  arena: SharedArrayBuffer;
  directory: SharedArrayBuffer;
  tid: number;
  actor: number;
  ctl: SharedArrayBuffer;
  count: number;
}

export function producer(d: MailboxProducerData): void {
  const client = new ActorClient(new ActorDirectory(d.directory), new LockArena(d.arena), d.tid);
  const { msg } = client;
  for (let i = M_ARGS; i < msg.length; i++) msg[i] = i;
  const actor = d.actor;
  const ctl = new Int32Array(d.ctl);
  client.dir.mailbox(actor); // resolve the handle before timing
  ready(ctl);
  producerLoop(ctl, new Float64Array(d.ctl), d.count, (i) => {
    msg[M_ARGS] = i;
    client.post(actor, OP_DEVICE);
  });
}
