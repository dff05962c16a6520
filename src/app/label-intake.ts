// The labels topic into the store: each batch validated and stored before its offsets commit; invalid labels are dead-lettered.
import { payloadText, validateLabel, type EventTimeBounds, type Label } from '../contracts/index.ts';
import { upsertLabels, type Database, type DeadLetter } from '../store/index.ts';
import { UndecodableRecord, type BatchHandler } from '../transport/log.ts';

/**
 * A handler for batches of the labels topic. A batch is durable once its labels are stored and its
 * dead letters written (`flushDeadLetters`); a re-read after a crash stores the same verdicts again.
 */
export function labelIntake(db: Database, timeBounds: EventTimeBounds, refuse: (letter: DeadLetter) => void, flushDeadLetters: () => Promise<void>, onDurable: (stored: number, refused: number) => void): BatchHandler {
  return async (batch) => {
    const labels: Label[] = [];
    let refused = 0;
    for (const record of batch) {
      if (record.value instanceof UndecodableRecord) {
        refuse({ source: 'labels', payload: record.value.text, errors: [{ field: '(record)', reason: record.value.reason }] });
        refused++;
        continue;
      }
      const checked = validateLabel(record.value, { timeBounds });
      if (checked.ok) labels.push(checked.label);
      else {
        const id = (record.value as { event_id?: unknown } | null)?.event_id;
        refuse({ source: 'labels', ...(typeof id === 'string' ? { event_id: id } : {}), payload: payloadText(record.value), errors: checked.errors });
        refused++;
      }
    }
    const stored = labels.length === 0 ? Promise.resolve() : db.batch([upsertLabels(labels)]).then(() => undefined);
    return { durable: Promise.all([stored, refused === 0 ? undefined : flushDeadLetters()]).then(() => onDurable(labels.length, refused)) };
  };
}
