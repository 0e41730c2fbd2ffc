/**
 * `vgic-lab lpi-stress [--vcpus N] [--devices N] [--events N] [--iterations N] [--its N] [--json]`:
 * the vgic_lpi_stress-shaped workload on its own (the benchmark suite runs it
 * beside its baselines). Exit code 1 if any signalMsi did not return 1.
 */
import { parseArgs } from 'node:util';
import { runLpiStress } from '../vgic/lpi-stress.js';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      vcpus: { type: 'string', default: '1' },
      devices: { type: 'string', default: '1' },
      events: { type: 'string', default: '1' },
      iterations: { type: 'string', default: '100000' },
      its: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  });
  const num = (name: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name} must be a positive integer (got ${v})`);
    return n;
  };
  const o = {
    vcpus: num('vcpus', values.vcpus), devices: num('devices', values.devices), eventsPerDevice: num('events', values.events),
    iterations: num('iterations', values.iterations), its: num('its', values.its),
  };
  const r = await runLpiStress(o);
  if (values.json) process.stdout.write(`${JSON.stringify({ options: o, ...r })}\n`);
  else {
    process.stdout.write(`lpi-stress ${o.vcpus} vCPU / ${o.devices} device(s) / ${o.eventsPerDevice} event(s), ${o.iterations} iterations, ${o.its} ITS\n`);
    process.stdout.write(`  ${r.injected.toLocaleString('en-US')} MSIs in ${r.elapsedMs.toFixed(1)} ms: ${Math.round(r.lpisPerSecond).toLocaleString('en-US')} LPIs/s; ` +
      `failed ${r.failed}; acknowledged by the guests ${r.handled.toLocaleString('en-US')} (the rest coalesced while pending)\n`);
  }
  return r.failed === 0 ? 0 : 1;
}
