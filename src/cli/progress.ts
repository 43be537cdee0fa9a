// A one-line progress bar for training epochs: redrawn in place on a terminal (fitted to its width), printed per 10% otherwise.

/** Bar widths (in cells) when the terminal leaves room, and when it does not say how wide it is. */
const BAR = { min: 8, max: 32, plain: 24 };

export class ProgressBar {
  private lastDecile = -1;
  private readonly tty: boolean;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly label: string,
    private readonly total: number,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  /** Shows `done` of `total` with the given metrics (`loss 0.123`, ...). */
  update(done: number, metrics: string): void {
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const counts = `${done}/${this.total}`;
    const columns = this.tty ? this.stream.columns : undefined;
    // label, two spaces around the bar, its brackets, the counts, the metrics: what is left is the bar's.
    const room = columns ? columns - 1 - (this.label.length + counts.length + metrics.length + 5) : BAR.plain;
    const width = Math.max(BAR.min, Math.min(BAR.max, room));
    const filled = Math.round(frac * width);
    const line = `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${counts} ${metrics}`;
    if (this.tty) {
      this.stream.write(`\r${this.fit(line)}\x1b[K`);
      return;
    }
    const decile = Math.floor(frac * 10);
    if (decile !== this.lastDecile) {
      this.lastDecile = decile;
      this.stream.write(`${line}\n`);
    }
  }

  /** Ends the line with a final summary. */
  finish(summary: string): void {
    const line = `${this.label} ${summary}`;
    this.stream.write(this.tty ? `\r${line}\x1b[K\n` : `${line}\n`);
  }

  /** Cuts a redrawn line to the terminal's width, so it never wraps (a wrapped line cannot be redrawn). */
  private fit(line: string): string {
    const columns = this.stream.columns;
    return columns && line.length >= columns ? line.slice(0, Math.max(1, columns - 1)) : line;
  }
}
