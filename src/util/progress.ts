/**
 * Progress reporting on stderr: a bar when stderr is a TTY, otherwise one plain line per
 * finished step (logs stay readable in CI), nothing with --quiet.
 */
import cliProgress from 'cli-progress';

export interface ProgressOptions {
  quiet?: boolean;
  /** Force plain-line mode (tests). */
  plain?: boolean;
}

export class Progress {
  private bar: cliProgress.SingleBar | undefined;
  private done = 0;
  private readonly mode: 'bar' | 'plain' | 'quiet';
  private readonly t0 = Date.now();

  constructor(
    private readonly label: string,
    private readonly total: number,
    opts: ProgressOptions = {},
  ) {
    this.mode = opts.quiet ? 'quiet' : opts.plain || !process.stderr.isTTY ? 'plain' : 'bar';
    if (this.mode === 'bar') {
      this.bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: `${label} [{bar}] {value}/{total} | {eta_formatted} left | {status}`,
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { status: '' });
    }
  }

  /** Mark `n` more steps done; `status` is a short text such as `loss 1.234`. */
  tick(status = '', n = 1): void {
    this.done += n;
    if (this.mode === 'bar') this.bar!.update(this.done, { status });
    else if (this.mode === 'plain') {
      const secs = ((Date.now() - this.t0) / 1000).toFixed(1);
      process.stderr.write(`${this.label} ${this.done}/${this.total} ${status} (${secs}s)\n`.replace(/ +\(/, ' ('));
    }
  }

  /** A one-off message that does not break the bar. */
  log(line: string): void {
    if (this.mode === 'quiet') return;
    if (this.mode === 'bar') {
      this.bar!.stop();
      process.stderr.write(line + '\n');
      this.bar!.start(this.total, this.done, { status: '' });
    } else process.stderr.write(line + '\n');
  }

  stop(): void {
    if (this.mode === 'bar') this.bar!.stop();
  }
}
