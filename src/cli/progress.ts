// A one-line progress bar for training epochs: redrawn in place on a terminal, printed per 10% otherwise.

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
    const width = 24;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const filled = Math.round(frac * width);
    const line = `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${metrics}`;
    if (this.tty) {
      this.stream.write(`\r${line}\x1b[K`);
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
    this.stream.write(this.tty ? `\r${this.label} ${summary}\x1b[K\n` : `${this.label} ${summary}\n`);
  }
}
