/**
 * A one-line progress bar on stderr for long commands. Only on a TTY (the
 * caller decides, and never with --json): a redrawn line would be noise in a
 * log. Redraws at most every 100 ms; clear() leaves the line empty.
 */
export class ProgressBar {
  private last = 0;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr, private readonly width = 24) {}

  update(fraction: number, label: string): void {
    const now = performance.now();
    if (now - this.last < 100 && fraction < 1) return;
    this.last = now;
    const f = Math.max(0, Math.min(1, fraction));
    const full = Math.round(f * this.width);
    const line = `[${'#'.repeat(full)}${'.'.repeat(this.width - full)}] ${String(Math.floor(f * 100)).padStart(3)}% ${label}`;
    this.out.write(`\r\x1b[K${line.slice(0, (this.out.columns || 80) - 1)}`);
  }

  clear(): void {
    this.out.write('\r\x1b[K');
  }
}

/** A bar when stderr is a terminal and the output is for people; otherwise nothing. */
export function progressBar(json: boolean): ProgressBar | undefined {
  return process.stderr.isTTY === true && !json ? new ProgressBar() : undefined;
}
