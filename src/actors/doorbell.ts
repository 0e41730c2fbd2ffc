/**
 * The wake-up word of one consumer thread (an actor host, or a vCPU waiting in
 * WFI): an event count. The consumer announces it is about to park, re-checks
 * its queues, then waits on the count; producers bump the count and notify only
 * when the consumer announced parking. Costs a producer one load when the
 * consumer is busy. Words: [count, parked].
 */
import { activeSchedule } from '../sync/schedule.js';

const COUNT = 0, PARKED = 1, CONTROL = 2;
/** Int32 words per doorbell: a cache line of its own. */
export const DOORBELL_WORDS = 16;

export class Doorbell {
  /** `i32`: DOORBELL_WORDS words of a SharedArrayBuffer. */
  constructor(readonly i32: Int32Array) {}

  /**
   * Producer: wake the consumer if it is parked (or about to park). Taking the
   * flag makes one producer per park pay for the notify, not every producer
   * until the consumer runs again.
   */
  ring(): void {
    if (Atomics.load(this.i32, PARKED) !== 0 && Atomics.exchange(this.i32, PARKED, 0) !== 0) {
      Atomics.add(this.i32, COUNT, 1);
      Atomics.notify(this.i32, COUNT);
    }
  }

  /** Producer: wake unconditionally (control requests such as stop). */
  ringAlways(): void {
    Atomics.add(this.i32, COUNT, 1);
    Atomics.notify(this.i32, COUNT);
  }

  /** Controller: flag a control request (read by the host between drains) and wake the host. */
  requestControl(): void {
    Atomics.store(this.i32, CONTROL, 1);
    this.ringAlways();
  }

  /** Consumer: is a control request flagged? (Does not take it.) */
  controlRequested(): boolean {
    return Atomics.load(this.i32, CONTROL) !== 0;
  }

  /** Consumer: take the control flag. */
  takeControl(): boolean {
    return Atomics.load(this.i32, CONTROL) !== 0 && Atomics.exchange(this.i32, CONTROL, 0) !== 0;
  }

  /**
   * Consumer: park unless `hasWork()` turns true after announcing it. The
   * announce-then-recheck order closes the lost-wake-up window.
   */
  park(hasWork: () => boolean, timeoutMs = Infinity, point: 'park' | 'wfi' = 'park'): void {
    const { i32 } = this;
    const seen = Atomics.load(i32, COUNT);
    Atomics.store(i32, PARKED, 1);
    if (!hasWork()) {
      // Under a controlled schedule the wait goes through the scheduler (it must give up the turn).
      const s = activeSchedule();
      if (s === null || s.block(i32, COUNT, seen, point, 0, timeoutMs) === 'free') Atomics.wait(i32, COUNT, seen, timeoutMs);
    }
    Atomics.store(i32, PARKED, 0);
  }
}
