// Labelled history from JSONL files — events and labels in the contracts — as `rtds features` and `rtds evaluate` read it.
import { createReadStream } from 'node:fs';
import { validateEvent, validateLabel, type FieldError, type Label, type RtdsEvent } from '../contracts/index.ts';

export interface HistoryFiles {
  /** Valid events in event-time order (ties in file order). */
  events: RtdsEvent[];
  /** The last label per event id. */
  labels: Map<string, Label>;
  /** Lines refused, each reported on stderr with its file, line, fields and reasons. */
  invalid: number;
}

/** Bytes read at a time: large enough that reading costs little beside parsing. */
const CHUNK_BYTES = 1 << 20;

/**
 * Calls `onLine` with each non-empty line and its number (from 1), a CR before the LF dropped.
 * Chunks are split in place: a line costs one slice, where readline's interface cost an event and
 * an async step per line (a third of the reading time). The stream's decoder keeps a character
 * split across two chunks whole.
 */
export async function eachLine(file: string, onLine: (n: number, line: string) => void): Promise<void> {
  let n = 0;
  let rest = '';
  const emit = (text: string, from: number, to: number): void => {
    n++;
    const line = text.slice(from, to > from && text.charCodeAt(to - 1) === 13 ? to - 1 : to);
    if (line.trim() !== '') onLine(n, line);
  };
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: CHUNK_BYTES }) as AsyncIterable<string>) {
    const text = rest === '' ? chunk : rest + chunk;
    let from = 0;
    // The rest holds no LF: a line longer than a chunk is searched once, not again with every chunk.
    for (let lf = text.indexOf('\n', rest.length); lf >= 0; lf = text.indexOf('\n', from)) {
      emit(text, from, lf);
      from = lf + 1;
    }
    rest = text.slice(from);
  }
  if (rest !== '') emit(rest, 0, rest.length);
}

/** Each non-empty line parsed and validated; refused lines are reported and counted. */
async function readValid<V extends { ok: true }>(file: string, validate: (value: unknown) => V | { ok: false; errors: FieldError[] }, onRefused: () => void): Promise<V[]> {
  const out: V[] = [];
  await eachLine(file, (n, line) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      process.stderr.write(`${file}:${n}: (line) not JSON: ${(err as Error).message}\n`);
      onRefused();
      return;
    }
    const checked = validate(value);
    if (checked.ok) out.push(checked);
    else {
      process.stderr.write(`${file}:${n}: ${checked.errors.map((e) => `${e.field} ${e.reason}`).join('; ')}\n`);
      onRefused();
    }
  });
  return out;
}

export async function readHistoryFiles(eventsFile: string, labelsFile: string | undefined): Promise<HistoryFiles> {
  let invalid = 0;
  const refused = (): void => void invalid++;
  const events = (await readValid<{ ok: true; event: RtdsEvent }>(eventsFile, (v) => validateEvent(v), refused)).map((c) => c.event);
  const labels = new Map<string, Label>();
  if (labelsFile !== undefined) for (const { label } of await readValid(labelsFile, validateLabel, refused)) labels.set(label.event_id, label);
  // Array.prototype.sort is stable: equal event times keep their file order.
  events.sort((a, b) => a.event_time - b.event_time);
  return { events, labels, invalid };
}
