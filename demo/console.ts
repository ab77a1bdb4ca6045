// How the demo talks to the person running it: step headings, aligned rows,
// indented command output, and a heartbeat so that nothing is silent for more
// than a few seconds while a component starts or the watcher waits out its
// window. Plain text when stdout is not a terminal (logs, the demo's test).

export interface DemoConsole {
  /** A section heading: `Step 1 · A cutover that skips the preflight is refused`. */
  heading(text: string): void;
  /** An indented line; a long one is wrapped, continuation lines indented by `hangingIndent` more. */
  line(text?: string, hangingIndent?: number): void;
  /** An indented line that is never wrapped: commands and paths to copy. */
  verbatim(text: string): void;
  /** `  ✓ label   detail` with the label padded to `width`. */
  ok(label: string, detail: string, width?: number): void;
  /** `  ✗ label   detail`. */
  fail(label: string, detail: string, width?: number): void;
  /** Lines from another program (kubectl), indented under a `$ command` line. */
  quote(text: string): void;
  /** Prints `describe()` whenever nothing was printed for `intervalMs`, until the returned function is called. */
  heartbeat(describe: () => string, intervalMs?: number): () => void;
}

const BOLD = '\u001b[1m';
const DIM = '\u001b[2m';
const RESET = '\u001b[0m';

export interface ConsoleOptions {
  write?: (text: string) => void;
  color?: boolean;
  /** Quoted lines are wrapped to this many columns. */
  columns?: number;
}

export function createConsole(options: ConsoleOptions = {}): DemoConsole {
  const write = options.write ?? ((t: string) => void process.stdout.write(t));
  const color = options.color ?? process.stdout.isTTY === true;
  const columns = options.columns ?? Math.min(process.stdout.columns ?? 110, 110);
  const style = (code: string, text: string) => (color ? `${code}${text}${RESET}` : text);
  let lastPrintMs = Date.now();
  const print = (text: string) => {
    lastPrintMs = Date.now();
    write(`${text}\n`);
  };
  return {
    heading(text) {
      print('');
      print(style(BOLD, text));
    },
    line(text = '', hangingIndent = 2) {
      if (text === '') return print('');
      for (const piece of wrap(`  ${text}`, columns, 2 + hangingIndent)) print(piece);
    },
    verbatim(text) {
      print(`  ${text}`);
    },
    ok(label, detail, width = 16) {
      for (const piece of wrap(`  ✓ ${label.padEnd(width)} ${detail}`, columns, 5 + width)) print(piece);
    },
    fail(label, detail, width = 16) {
      for (const piece of wrap(`  ✗ ${label.padEnd(width)} ${detail}`, columns, 5 + width)) print(piece);
    },
    quote(text) {
      for (const l of text.trimEnd().split('\n')) {
        for (const piece of wrap(l, columns - 4, 2)) print(style(DIM, `    ${piece}`));
      }
    },
    heartbeat(describe, intervalMs = 3_000) {
      const timer = setInterval(() => {
        if (Date.now() - lastPrintMs >= intervalMs - 50) print(style(DIM, `    … ${describe()}`));
      }, 500);
      return () => clearInterval(timer);
    },
  };
}

/**
 * Breaks a line at spaces so that no piece is longer than `width` (a word
 * longer than that stays whole); pieces after the first are indented by
 * `hangingIndent`. Nothing is dropped or reordered.
 */
export function wrap(line: string, width: number, hangingIndent = 0): string[] {
  if (line.length <= width) return [line];
  const pieces: string[] = [];
  let current = '';
  // Each token is a word with the spaces after it, so runs of spaces (padding) survive.
  for (const token of line.split(/(?<= )(?=[^ ])/)) {
    const limit = pieces.length === 0 ? width : width - hangingIndent;
    if (current.trim() !== '' && (current + token).trimEnd().length > limit) {
      pieces.push(current.trimEnd());
      current = token;
    } else {
      current += token;
    }
  }
  if (current.trim() !== '') pieces.push(current.trimEnd());
  return pieces.map((p, i) => (i === 0 ? p : `${' '.repeat(hangingIndent)}${p}`));
}

/** `1.4 s`, `38 s`, `2 min`, `2 min 5 s`. */
export function formatDuration(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  const whole = Math.round(seconds);
  return whole % 60 === 0 ? `${whole / 60} min` : `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

/** `+12.3 s` relative to an origin, for timelines; negative offsets keep their sign. */
export function formatOffset(ms: number): string {
  const sign = ms < 0 ? '−' : '+';
  return `${sign}${(Math.abs(ms) / 1000).toFixed(1)} s`;
}

/** `12.5 %`, `5 %`. */
export function formatPercent(ratio: number): string {
  return `${(ratio * 100).toFixed(1).replace(/\.0$/, '')} %`;
}

/** Rows of cells, each column padded to its widest cell. */
export function table(rows: readonly (readonly string[])[], gap = 2): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + gap)))
      .join('')
      .trimEnd(),
  );
}
