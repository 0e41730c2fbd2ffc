#!/usr/bin/env node
/**
 * The `vgic-lab` command: argv -> subcommand -> exit code. Each subcommand
 * lives in its own file and exports `run(argv): Promise<number>`.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  demo: { summary: 'start a VM, show save-style locking against running vCPUs, print lock statistics', load: () => import('./demo.js') },
  'lpi-stress': { summary: 'the vgic_lpi_stress workload: --vcpus --devices --events --iterations --its --json', load: () => import('./lpi-stress.js') },
  stress: { summary: 'run the stress scenarios (default: all) and check their verdicts; --json, --seed, --schedule, --protocol', load: () => import('./stress.js') },
  replay: { summary: 'rerun a stress scenario from the replay token a failure printed', load: () => import('./replay.js') },
  campaign: { summary: 'run scenarios over many seeds in parallel; dedupe what they found: --seeds --from --concurrency', load: () => import('./campaign.js') },
  bench: { summary: 'run the benchmarks (each beside its baseline, as ratios); --json, --quick, --compare old.json new.json', load: () => import('./bench.js') },
  soak: { summary: 'long reliability run: MSI storm, command churn, save/restore, migration; lost/phantom/findings/RSS per minute', load: () => import('./soak.js') },
  faults: { summary: 'inject faults (killed vCPU/actor workers, a guest that never returns or throws, a full mailbox) under load; check recovery; --repeat, --json', load: () => import('./faults.js') },
  fuzz: { summary: 'fuzz command streams, table images and register accesses on live VMs: --minutes --runs --target --seed --replay --json', load: () => import('./fuzz.js') },
  curves: { summary: 'scaling curves (vCPUs, ITSs, table size, memory) as SVG charts + JSON; --quick, --json, --out DIR', load: () => import('./curves.js') },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`);
  return `usage: vgic-lab <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  if (cmd === undefined) {
    process.stderr.write(`vgic-lab: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  return (await cmd.load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    // Bad options are the user's to fix: the message is enough. Anything else is a bug: show the stack.
    const usage = e instanceof RangeError || e instanceof TypeError || (e as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`vgic-lab: ${usage ? (e as Error).message : (e as Error)?.stack ?? e}\n`);
    process.exit(usage ? 2 : 1);
  },
);
