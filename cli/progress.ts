/** Terminal progress drawing for the CLI (SPEC O2): pure rendering plus a redrawing display. */

export interface ProgressItem {
  label: string;
  done: number;
  /** Unknown while the source is still being listed: the bar then shows the count only. */
  total?: number | null;
}

const number = new Intl.NumberFormat('en-US');

/** `Companies  [██████████░░░░░░░░░░]  50%  1,500/3,001`; without a total the count alone. */
export function renderBar(item: ProgressItem, options: { width?: number; labelWidth?: number } = {}): string {
  const width = options.width ?? 30;
  const label = item.label.padEnd(options.labelWidth ?? item.label.length);
  const done = Math.max(0, item.done);
  if (item.total === undefined || item.total === null) {
    return `${label}  [${'·'.repeat(width)}]  ${number.format(done)} so far`;
  }
  const total = Math.max(0, item.total);
  const ratio = total === 0 ? 1 : Math.min(1, done / total);
  const filled = Math.floor(ratio * width);
  const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
  return `${label}  [${'█'.repeat(filled)}${'░'.repeat(width - filled)}]  ${percent}  ${number.format(done)}/${number.format(total)}`;
}

/** Bars with their labels aligned, under a heading and above a footer. */
export function renderFrame(frame: { heading: string; items: ProgressItem[]; footer?: string[] }, width?: number): string[] {
  const labelWidth = Math.max(0, ...frame.items.map((item) => item.label.length));
  return [frame.heading, ...frame.items.map((item) => `  ${renderBar(item, { width, labelWidth })}`), ...(frame.footer ?? []).map((line) => `  ${line}`)];
}

export const formatNumber = (value: number) => number.format(value);

export interface OutputStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/**
 * Redraws the frame in place on a terminal; elsewhere (a pipe, a log file) writes a frame only
 * when it changed, so the output stays readable.
 */
export class LiveDisplay {
  private drawnLines = 0;
  private lastFrame = '';

  constructor(private readonly stream: OutputStream) {}

  show(lines: string[]): void {
    const text = lines.join('\n');
    if (this.stream.isTTY) {
      // Back to the start of the previous frame, clear from there down, draw the new one.
      const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}F\x1b[J` : '';
      this.stream.write(`${up}${text}\n`);
      this.drawnLines = lines.length;
    } else if (text !== this.lastFrame) {
      this.stream.write(`${text}\n`);
    }
    this.lastFrame = text;
  }
}
