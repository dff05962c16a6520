// Labelled history from JSONL files — events and labels in the contracts — as `rtds features` and `rtds evaluate` read it.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { validateEvent, validateLabel, type FieldError, type Label, type RtdsEvent } from '../contracts/index.ts';

export interface HistoryFiles {
  /** Valid events in event-time order (ties in file order). */
  events: RtdsEvent[];
  /** The last label per event id. */
  labels: Map<string, Label>;
  /** Lines refused, each reported on stderr with its file, line, fields and reasons. */
  invalid: number;
}

async function* lines(file: string): AsyncGenerator<[number, string]> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    n++;
    if (line.trim() !== '') yield [n, line];
  }
}

/** Each non-empty line parsed and validated; refused lines are reported and counted. */
async function readValid<V extends { ok: true }>(file: string, validate: (value: unknown) => V | { ok: false; errors: FieldError[] }, onRefused: () => void): Promise<V[]> {
  const out: V[] = [];
  for await (const [n, line] of lines(file)) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      process.stderr.write(`${file}:${n}: (line) not JSON: ${(err as Error).message}\n`);
      onRefused();
      continue;
    }
    const checked = validate(value);
    if (checked.ok) out.push(checked);
    else {
      process.stderr.write(`${file}:${n}: ${checked.errors.map((e) => `${e.field} ${e.reason}`).join('; ')}\n`);
      onRefused();
    }
  }
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
