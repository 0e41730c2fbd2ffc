/**
 * The memory curve's baseline thread: a bench-agent worker that imports
 * nothing, says it is ready (Int32 word 0 of `ctl`, +1 and notify) and parks
 * in Atomics.wait until it is terminated. N of them cost what N bare Node
 * worker threads cost, the floor under a vCPU worker.
 */
export function park(d: { ctl: SharedArrayBuffer }): never {
  const ctl = new Int32Array(d.ctl);
  Atomics.add(ctl, 0, 1);
  Atomics.notify(ctl, 0);
  for (;;) Atomics.wait(ctl, 1, 0);
}
