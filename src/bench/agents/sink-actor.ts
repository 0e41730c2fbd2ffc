/**
 * The mailbox benchmark's consumer actor: reads every payload word of each
 * message (as a device decoding it would) and counts it for the batch protocol.
 */
import type { ActorContext, ActorFactory } from '../../actors/host.js';
import { PAYLOAD_WORDS } from '../../actors/mailbox.js';
import { BatchCounter, ready } from './batch.js';

const sinkActor: ActorFactory<unknown> = (_ctx: ActorContext<unknown>, init: { ctl: SharedArrayBuffer; count: number }) => {
  const ctl = new Int32Array(init.ctl);
  const counter = new BatchCounter(ctl, init.count);
  ready(ctl);
  return {
    handle(i32: Int32Array, base: number): void {
      let sum = 0;
      for (let i = 0; i < PAYLOAD_WORDS; i++) sum = (sum + i32[base + i]!) | 0;
      counter.hit(sum);
    },
  };
};
export default sinkActor;
