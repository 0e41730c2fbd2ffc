/**
 * The runner's watchdog: polls every watched VM for a confirmed deadlock
 * (deadlock.ts), for a stall (no change in the progress signature for
 * stallMs, stall.ts) and, with stopAtFirst, for a validator finding the
 * scenario does not expect. The first of those ends the run: `onEnd` is
 * called once, with the reason; the report keeps what was seen.
 */
import type { Vm } from '../kvm/vm.js';
import type { Finding, FindingKind } from '../sync/validator.js';
import { detectDeadlocks, type Deadlock } from './deadlock.js';
import type { Stall, WatchReport } from './scenario.js';
import { progressSignature, sameSignature, threadStates } from './stall.js';

export interface WatchdogOptions {
  stallMs: number;
  stopAtFirst: boolean;
  /** Finding kinds the scenario expects (stopAtFirst ignores them). */
  expectedFindings: readonly FindingKind[];
  /** Poll period. Default 20 ms: a deadlock is confirmed by two equal samples, so within ~40 ms. */
  pollMs?: number;
  onEnd(reason: NonNullable<WatchReport['endedBy']>): void;
}

export class Watchdog {
  private readonly vms: Vm[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastDeadlockKey = '';
  private lastSig: number[] = [];
  private lastChange = performance.now();
  private deadlocks: Deadlock[] = [];
  private stall: Stall | null = null;
  private endedBy: WatchReport['endedBy'] = null;
  private findingsAtEnd: Finding[] | null = null;

  constructor(private readonly o: WatchdogOptions) {}

  watch(vm: Vm): void {
    this.vms.push(vm);
    this.lastChange = performance.now(); // a new VM starts its own stall clock
  }

  start(): void {
    const tick = () => {
      this.tick();
      if (this.endedBy === null) this.timer = setTimeout(tick, this.o.pollMs ?? 20);
    };
    this.timer = setTimeout(tick, this.o.pollMs ?? 20);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** End the run from outside (the runner's hard time limit). */
  end(reason: NonNullable<WatchReport['endedBy']>): void {
    if (this.endedBy !== null) return;
    this.endedBy = reason;
    this.findingsAtEnd = this.findings();
    this.stop();
    this.o.onEnd(reason);
  }

  /** Findings of every watched VM (their validators outlive destroy: the buffers stay readable). */
  findings(): Finding[] {
    return this.vms.flatMap((vm) => vm.lockFindings());
  }

  report(): WatchReport {
    return { findings: this.findingsAtEnd ?? this.findings(), deadlocks: this.deadlocks, stall: this.stall, endedBy: this.endedBy };
  }

  private live(): Vm[] {
    return this.vms.filter((vm) => vm.vmState !== 'destroyed');
  }

  private tick(): void {
    if (this.endedBy !== null) return;
    const live = this.live();
    const label = (i: number, name: string) => (this.vms.length > 1 ? `vm${this.vms.indexOf(live[i]!)}/${name}` : name);

    // Deadlock: the same cycles in two consecutive samples (the wait words are read one at a time).
    const found = live.flatMap((vm, i) => detectDeadlocks(vm.rt.arena, vm.rt.dir).map((d) => ({
      threads: d.threads.map((t) => ({ ...t, name: label(i, t.name) })),
    })));
    const key = JSON.stringify(found.map((d) => d.threads.map((t) => [t.name, t.waitsFor])));
    if (found.length > 0 && key === this.lastDeadlockKey) {
      this.deadlocks = found;
      this.end('deadlock');
      return;
    }
    this.lastDeadlockKey = found.length > 0 ? key : '';

    if (this.o.stopAtFirst && this.findings().some((f) => !this.o.expectedFindings.includes(f.kind))) {
      this.end('finding');
      return;
    }

    // Stall: nothing moved in any live VM for stallMs.
    if (live.length === 0) {
      this.lastChange = performance.now();
      return;
    }
    const sig = [live.length, ...live.flatMap((vm) => progressSignature(vm))];
    const now = performance.now();
    if (!sameSignature(sig, this.lastSig)) {
      this.lastSig = sig;
      this.lastChange = now;
    } else if (now - this.lastChange >= this.o.stallMs) {
      this.stall = {
        afterMs: Math.round(now - this.lastChange),
        threads: live.flatMap((vm, i) => threadStates(vm.rt.arena, (actor) => hostName(vm, actor)).map((t) => ({ ...t, name: label(i, t.name) }))),
      };
      this.end('stall');
    }
  }
}

/** Name of the thread hosting `actor` (its host's arena record). */
function hostName(vm: Vm, actor: number): string | undefined {
  const a = vm.rt.arena, host = vm.rt.dir.hostOf(actor);
  for (let tid = 1; tid <= a.threadCount(); tid++) {
    const t = a.threadInfo(tid);
    if (t.kind === 'actor' && t.index === host) return t.name;
  }
  return undefined;
}
