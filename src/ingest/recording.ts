// Recorded traffic as JSON Lines, as `rtds capture` writes it and `rtds replay` reads it: an event per line as it was sent, a label alone as {"label": …}.

/** What starts a label's line; an event never does, as the event contract has no field `label`. */
const LABEL_PREFIX = '{"label":';

/**
 * A record's value as one line of JSON: its own text when that is JSON on one line, else the same
 * value written compactly; text that is not JSON becomes a JSON string, so the file stays JSON
 * Lines and a replay still delivers it (RTDS dead-letters it, as it did the first time).
 */
export function jsonLine(text: string): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return JSON.stringify(text);
  }
  return /[\r\n]/.test(text) ? JSON.stringify(value) : text;
}

/** A label's line, given the label's JSON on one line. */
export function labelLine(json: string): string {
  return `${LABEL_PREFIX}${json}}`;
}

export function isLabelLine(line: string): boolean {
  return line.startsWith(LABEL_PREFIX);
}
