// Progress of a long command on stderr: lines for a log, a bar redrawn in place for a person at a terminal.

/** A line at most this often, for work without phases (generate, replay, capture). */
const LINE_MS = 3000;
/** A bar at most this often: smooth to the eye, and a few writes a second cost nothing. */
const BAR_MS = 100;
const BAR_WIDTH = 24;

/** Where progress goes: stderr, or a stand-in in a test. */
export interface ProgressOutput {
  write(text: string): unknown;
  /** A terminal: a bar can be redrawn in place. */
  readonly isTTY?: boolean;
  /** The terminal's width: a bar that wrapped could not be redrawn. */
  readonly columns?: number;
}

export class Progress {
  readonly began = performance.now();
  private last = this.began;
  private lastBar = -Infinity;
  /** A bar is on the terminal's last line: the next line replaces it. */
  private barShown = false;

  constructor(
    private readonly command: 'generate' | 'replay' | 'train' | 'capture' | 'features' | 'evaluate' | 'start',
    private readonly enabled: boolean,
    private readonly out: ProgressOutput = process.stderr,
  ) {}

  /** A line at most every 3 s; `line` is only spelled when a report is due, and gets the time since the start. */
  tick(line: (elapsedMs: number) => string): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.last < LINE_MS) return;
    this.last = now;
    this.line(line(now - this.began));
  }

  /**
   * How far a phase is, `done` of `total` `unit`. On a terminal its bar is redrawn in place (at
   * most every 100 ms) and stays when the phase ends. Elsewhere — a log, a pipe — a phase gets a
   * line at its end, one at most every 3 s while it runs, and a `logged` step (an epoch) one each.
   */
  phase(name: string, done: number, total: number, unit: string, detail = '', logged = false): void {
    if (!this.enabled) return;
    const ended = done >= total;
    const text = (): string => `${name} ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} ${unit}${detail === '' ? '' : `  ${detail}`}`;
    if (this.out.isTTY !== true) {
      if (ended || logged) this.line(text());
      else this.tick(text);
      return;
    }
    const now = performance.now();
    if (!ended && now - this.lastBar < BAR_MS) return;
    this.lastBar = now;
    const filled = total > 0 ? Math.round((BAR_WIDTH * Math.min(done, total)) / total) : BAR_WIDTH;
    const bar = `${this.command}: [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${text()}`;
    // \r back to the line's start, \x1b[K clears what a longer previous bar left.
    this.out.write(`\r${bar.slice(0, (this.out.columns ?? Infinity) - 1)}\x1b[K${ended ? '\n' : ''}`);
    this.barShown = !ended;
  }

  /** A line that stays; on a terminal it takes the place of an unfinished bar. */
  line(text: string): void {
    if (!this.enabled) return;
    this.last = performance.now();
    this.out.write(`${this.barShown ? '\r\x1b[K' : ''}${this.command}: ${text}\n`);
    this.barShown = false;
  }
}
