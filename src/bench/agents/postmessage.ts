/**
 * The postMessage baseline: the same 15-word payload sent as an Int32Array
 * (structured-cloned, not transferred) over a MessageChannel between two
 * workers; the consumer reads every word in its 'message' handler.
 */
import type { MessagePort } from 'node:worker_threads';
import { BatchCounter, producerLoop, ready } from './batch.js';

const PAYLOAD = 15;

export interface PostMessageData {
  port: MessagePort;
  ctl: SharedArrayBuffer;
  count: number;
}

export function producer(d: PostMessageData): void {
  const msg = new Int32Array(PAYLOAD);
  for (let i = 0; i < PAYLOAD; i++) msg[i] = i;
  const port = d.port;
  const ctl = new Int32Array(d.ctl);
  ready(ctl);
  producerLoop(ctl, new Float64Array(d.ctl), d.count, (i) => {
    msg[0] = i;
    port.postMessage(msg);
  });
}

export function consumer(d: PostMessageData): void {
  const counter = new BatchCounter(new Int32Array(d.ctl), d.count);
  d.port.on('message', (m: Int32Array) => {
    let sum = 0;
    for (let i = 0; i < m.length; i++) sum = (sum + m[i]!) | 0;
    counter.hit(sum);
  });
  ready(new Int32Array(d.ctl));
}
