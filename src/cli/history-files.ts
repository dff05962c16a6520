// Labelled history from JSONL files — events and labels in the contracts — as `rtds features` and `rtds evaluate` read it.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { validateEvent, validateLabel, type Label, type RtdsEvent } from '../contracts/index.ts';

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
async function readValid<T>(file: string, validate: (value: unknown) => { ok: true; value: T } | { ok: false; errors: { field: string; reason: string }[] }, onRefused: () => void): Promise<T[]> {
  const out: T[] = [];
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
    if (checked.ok) out.push(checked.value);
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
  const events = await readValid(
    eventsFile,
    (v) => {
      const c = validateEvent(v);
      return c.ok ? { ok: true, value: c.event } : c;
    },
    refused,
  );
  const labels = new Map<string, Label>();
  if (labelsFile !== undefined) {
    const list = await readValid(
      labelsFile,
      (v) => {
        const c = validateLabel(v);
        return c.ok ? { ok: true, value: c.label } : c;
      },
      refused,
    );
    for (const l of list) labels.set(l.event_id, l);
  }
  // Array.prototype.sort is stable: equal event times keep their file order.
  events.sort((a, b) => a.event_time - b.event_time);
  return { events, labels, invalid };
}
