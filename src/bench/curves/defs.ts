/**
 * The scaling curves (issue 6): what each one measures at each point, and
 * beside which baseline. Every figure is a session of the bench suites
 * (src/bench/suites), opened for the point's size; the baselines are
 * measured at every point, interleaved with the figure, so a point and its
 * baseline share the machine's conditions.
 */
import { openAckLatency, openStress, pingPong, rawTwoHop } from '../suites/lpi.js';
import { pauseBench, wakeRtt } from '../suites/pause.js';
import { tablesBench } from '../suites/save-restore.js';
import type { RunContext, Session } from '../types.js';
import type { CurveBudget } from './measure.js';
import { openVmRss, openWorkersRss } from './memory.js';
import { formatBinary, formatSi, type AxisSpec } from './svg-chart.js';

export interface FigureDef {
  /** Unique within the curve. */
  id: string;
  /** Legend / column label. */
  label: string;
  /** Unit of the figure's values (after `map`). */
  unit: string;
  /** Drawn dashed: what the figure is compared with. */
  baseline?: boolean;
  /** From the session's unit to `unit` (e.g. ns/LPI -> LPIs/s). Statistics are taken after mapping. */
  map?: (raw: number) => number;
  open(ctx: RunContext, x: number, b: CurveBudget): Promise<Session>;
}

export interface LineDef {
  figure: string;
  stat: 'median' | 'p95';
  label: string;
}

export interface Derived {
  /** Name -> value, for the JSON. */
  values: Record<string, number | null>;
  /** One line for the text report and the chart's subtitle. */
  text: string;
}

export interface CurveDef {
  name: string;
  title: string;
  /** How it was measured (chart subtitle, legend of the text table). */
  how(b: CurveBudget): string;
  x: AxisSpec & { values(b: CurveBudget): readonly number[] };
  y: AxisSpec;
  figures: FigureDef[];
  /** What the chart draws; every line of a baseline figure is dashed. */
  lines: LineDef[];
  /** [figure, baseline] medians printed as ratios in the text table. */
  ratios?: [string, string][];
  derive?(median: (figure: string, x: number) => number | null, xs: readonly number[]): Derived;
}

const perSecond = (ns: number) => 1e9 / ns;
const MIB = 2 ** 20;

function stress(x: { vcpus: number; its: number }, b: CurveBudget) {
  return {
    name: `curve.lpi-${x.vcpus}-${x.its}`,
    shape: { vcpus: x.vcpus, devices: x.vcpus, events: b.events, its: x.its },
    lpis: { full: b.lpisPerRep, quick: b.lpisPerRep, smoke: b.lpisPerRep },
    title: 'lpi-stress',
    baseline: rawTwoHop.name,
  };
}

const ring: FigureDef = {
  id: 'ring', label: 'raw two-hop ring, msgs/s', unit: 'msgs/s', baseline: true, map: perSecond,
  open: (ctx) => rawTwoHop.open(ctx),
};

const vcpuAxis: CurveDef['x'] = { label: 'vCPUs', log: true, values: (b) => b.vcpus, format: (v) => String(v) };

const lpiVcpus: CurveDef = {
  name: 'lpi-vcpus',
  title: 'lpi-stress throughput vs vCPUs (1 ITS)',
  how: (b) => `devices = vCPUs, one injector thread each, ${b.events} events per device; signalMsi calls per second of a burst (${formatSi(b.lpisPerRep)} LPIs), failed = 0 checked`,
  x: vcpuAxis,
  y: { label: 'throughput', unit: 'LPIs/s', format: formatSi },
  figures: [
    { id: 'lpi', label: 'lpi-stress, LPIs/s', unit: 'LPIs/s', map: perSecond, open: (ctx, x, b) => openStress(ctx, stress({ vcpus: x, its: 1 }, b)) },
    ring,
  ],
  lines: [{ figure: 'lpi', stat: 'median', label: 'lpi-stress' }, { figure: 'ring', stat: 'median', label: 'raw two-hop ring (baseline)' }],
  ratios: [['lpi', 'ring']],
};

const lpiIts: CurveDef = {
  name: 'lpi-its',
  title: 'lpi-stress throughput vs ITSs',
  how: (b) => `${b.itsVcpus} vCPUs = ${b.itsVcpus} devices (one injector thread each) spread over the ITSs, ${b.events} events per device; signalMsi calls per second`,
  x: { label: 'ITSs', values: (b) => b.its, format: (v) => String(v), zero: false },
  y: { label: 'throughput', unit: 'LPIs/s', format: formatSi },
  figures: [
    { id: 'lpi', label: 'lpi-stress, LPIs/s', unit: 'LPIs/s', map: perSecond, open: (ctx, x, b) => openStress(ctx, stress({ vcpus: b.itsVcpus, its: x }, b)) },
    ring,
  ],
  lines: [{ figure: 'lpi', stat: 'median', label: 'lpi-stress' }, { figure: 'ring', stat: 'median', label: 'raw two-hop ring (baseline)' }],
  ratios: [['lpi', 'ring']],
};

const injectAck: CurveDef = {
  name: 'inject-ack',
  title: 'inject -> acknowledge latency vs vCPUs',
  how: () => 'one device with one event per vCPU, signalled in turn from one injector thread, one in flight, the target vCPU in WFI; guest IAR read stamp - signalMsi stamp',
  x: vcpuAxis,
  y: { label: 'latency', unit: 'µs', format: formatSi },
  figures: [
    { id: 'ack', label: 'inject -> ack', unit: 'µs', open: (ctx, x) => openAckLatency(ctx, x) },
    { id: 'ping', label: 'Atomics ping-pong one way', unit: 'µs', baseline: true, open: (ctx) => pingPong.open(ctx) },
  ],
  lines: [
    { figure: 'ack', stat: 'median', label: 'inject -> ack p50' },
    { figure: 'ack', stat: 'p95', label: 'inject -> ack p95' },
    { figure: 'ping', stat: 'median', label: 'Atomics ping-pong p50 (baseline)' },
    { figure: 'ping', stat: 'p95', label: 'Atomics ping-pong p95 (baseline)' },
  ],
  ratios: [['ack', 'ping']],
};

const pause: CurveDef = {
  name: 'pause',
  title: 'pause-all latency vs vCPUs (busy guest)',
  how: () => "await vm.pause() from the call to its resolution, every vCPU running the 'spin' guest (resumed and settled before each)",
  x: vcpuAxis,
  y: { label: 'latency', unit: 'µs', format: formatSi },
  figures: [
    { id: 'pause', label: 'pause()', unit: 'µs', open: (ctx, x) => pauseBench('spin', x).open(ctx) },
    { id: 'wake', label: 'Atomics wake round trip', unit: 'µs', baseline: true, open: (ctx) => wakeRtt.open(ctx) },
  ],
  lines: [
    { figure: 'pause', stat: 'median', label: 'pause() p50' },
    { figure: 'pause', stat: 'p95', label: 'pause() p95' },
    { figure: 'wake', stat: 'median', label: 'wake round trip p50 (baseline)' },
  ],
  ratios: [['pause', 'wake']],
};

function tables(op: 'save' | 'restore' | 'dvWrite' | 'dvRead') {
  return (ctx: RunContext, x: number) => tablesBench(op, { label: formatBinary(x).toLowerCase(), ites: x }).open(ctx);
}

const saveRestore: CurveDef = {
  name: 'save-restore',
  title: 'ITS table save / restore time per ITE vs table size',
  how: () => 'SAVE_TABLES / RESTORE_TABLES of a real ITS on one thread, beside plain DataView loops writing / reading the same bytes in the same worker',
  x: { label: 'table size', unit: 'ITEs', log: true, values: (b) => b.ites, format: formatBinary },
  y: { label: 'time per ITE', unit: 'ns', log: true, format: formatSi },
  figures: [
    { id: 'save', label: 'SAVE_TABLES', unit: 'ns/ITE', open: tables('save') },
    { id: 'restore', label: 'RESTORE_TABLES', unit: 'ns/ITE', open: tables('restore') },
    { id: 'dvWrite', label: 'DataView write', unit: 'ns/ITE', baseline: true, open: tables('dvWrite') },
    { id: 'dvRead', label: 'DataView read', unit: 'ns/ITE', baseline: true, open: tables('dvRead') },
  ],
  lines: [
    { figure: 'save', stat: 'median', label: 'SAVE_TABLES' },
    { figure: 'restore', stat: 'median', label: 'RESTORE_TABLES' },
    { figure: 'dvWrite', stat: 'median', label: 'DataView write (baseline)' },
    { figure: 'dvRead', stat: 'median', label: 'DataView read (baseline)' },
  ],
  ratios: [['save', 'dvWrite'], ['restore', 'dvRead']],
};

/** Least-squares slope of (x, y) over the points where y is known; null with fewer than 2. */
export function slope(points: readonly { x: number; y: number | null }[]): number | null {
  const p = points.filter((q): q is { x: number; y: number } => q.y !== null && Number.isFinite(q.y));
  if (p.length < 2) return null;
  const mx = p.reduce((a, q) => a + q.x, 0) / p.length, my = p.reduce((a, q) => a + q.y, 0) / p.length;
  const sxx = p.reduce((a, q) => a + (q.x - mx) ** 2, 0);
  return sxx === 0 ? null : p.reduce((a, q) => a + (q.x - mx) * (q.y - my), 0) / sxx;
}

const memory: CurveDef = {
  name: 'memory',
  title: 'memory vs vCPUs: RSS added by a started VM',
  how: () => 'process.memoryUsage().rss after - before creating and starting a VM (idle guest, all vCPUs in KVM_RUN), beside as many bare worker threads parked in Atomics.wait',
  x: vcpuAxis,
  y: { label: 'RSS added', unit: 'MiB', format: formatSi },
  figures: [
    { id: 'vm', label: 'VM', unit: 'MiB', map: (b) => b / MIB, open: (_ctx, x) => openVmRss(x) },
    { id: 'workers', label: 'bare worker threads', unit: 'MiB', baseline: true, map: (b) => b / MIB, open: (_ctx, x) => openWorkersRss(x) },
  ],
  lines: [{ figure: 'vm', stat: 'median', label: 'VM with N vCPUs' }, { figure: 'workers', stat: 'median', label: 'N bare worker threads (baseline)' }],
  ratios: [['vm', 'workers']],
  derive(median, xs) {
    const perVcpu = slope(xs.map((x) => ({ x, y: median('vm', x) })));
    const perWorker = slope(xs.map((x) => ({ x, y: median('workers', x) })));
    const bytes = (v: number | null) => (v === null ? null : Math.round(v * MIB));
    const mib = (v: number | null) => (v === null ? 'unknown' : `${v.toFixed(2)} MiB`);
    return {
      values: { bytesPerVcpu: bytes(perVcpu), bytesPerBareWorker: bytes(perWorker) },
      text: `slope: ${mib(perVcpu)} per vCPU; ${mib(perWorker)} per bare worker thread`,
    };
  },
};

export const CURVES: readonly CurveDef[] = [lpiVcpus, lpiIts, injectAck, pause, saveRestore, memory];
