// The demo's traffic — the built-in generator as `rtds start` runs it — one definition for its live stream and the first-start model's history.
import type { Config } from '../config/index.ts';
import type { RtdsEvent } from '../contracts/index.ts';
import type { FeatureSet } from '../features/index.ts';
import { TrafficGenerator, type Clock, type GeneratedEvent, type TrafficOptions } from '../ingest/generator/index.ts';
import { replayFeatures, StageTasks, type EventTimeOptions } from '../process/index.ts';
import { labelledHistory, validEvents, type LabelledHistory } from './training.ts';

/** How often a demo user acts: a person's day (the generator's default), not a bot's. */
const EVENTS_PER_USER_PER_DAY = 25;
/**
 * The most users the demo simulates: each costs about 1 KB of heap and 10 µs to create, and about
 * 4 KB of feature state after a day. Past ~72 events/s they act more often than EVENTS_PER_USER_PER_DAY.
 */
const MAX_USERS = 250_000;

/** Slices each part of the history is generated in: a turn of the event loop after each. */
const HISTORY_SLICES = 64;

export type DemoSettings = Pick<Config, 'generatorRate' | 'generatorSeed'>;

/** The sparse part of a history: how far before its whole part it reaches, and about how many events it holds. */
export interface SparsePast {
  spanMs: number;
  events: number;
}

/** Users whose ordinary days add up to `rate` events per second. */
export function demoUsers(rate: number): number {
  return Math.min(MAX_USERS, Math.max(1, Math.round((rate * 86_400) / EVENTS_PER_USER_PER_DAY)));
}

/**
 * The demo's traffic from `start` (epoch ms): RTDS_GENERATOR_RATE events per second of event
 * time, evenly over the day, so event time keeps step with the wall clock when paced at the same
 * rate; attacks already under way at `start`; and a population sized so each user acts about 25
 * times a day, whatever the rate — the per-user activity that velocity features measure.
 */
export function demoTrafficOptions(settings: DemoSettings, start: number): TrafficOptions {
  return {
    seed: settings.generatorSeed,
    users: demoUsers(settings.generatorRate),
    eventTimeRate: settings.generatorRate,
    dailyRhythm: false,
    warmStart: true,
    start,
    // The store keeps the first decision of an id: each run's ids are its own.
    idPrefix: `gen_${settings.generatorSeed}_${Math.floor(start).toString(36)}_`,
  };
}

/**
 * The demo's stream in one process. A first start trains on its history — the last events before
 * now — and live traffic continues that very stream: the same users and habits, the attacks under
 * way, event time without a gap. When `continued` (this process runs the generator), the replay
 * that computes the history's features leaves the partitions' state in `state`, and the processor
 * takes it over (`takeState`): the features continue too, and the model is judged live on what
 * follows its held-out period. Without a history, live traffic starts now.
 */
export class DemoTraffic {
  private generator: TrafficGenerator | undefined;
  /** Whether the history's replay leaves its state for the processor (set by `history` when `continued`), and that state once made. */
  private continuing = false;
  private replayed: StageTasks | undefined;

  constructor(
    private readonly settings: DemoSettings,
    readonly clock: Clock,
    private readonly continued: boolean,
  ) {}

  /** Events per second, of event time and of the clock. */
  get rate(): number {
    return this.settings.generatorRate;
  }

  /** Where the history's replay leaves the stages' state when the stream continues here; undefined otherwise. */
  state(features: FeatureSet, eventTime: EventTimeOptions, partitions: number): StageTasks | undefined {
    if (this.continuing) this.replayed ??= new StageTasks(features, eventTime, partitions);
    return this.replayed;
  }

  /**
   * About `events` events of the demo ending now, the latest `labelled` of them the training rows;
   * before them, when `past` is given, `past.spanMs` of the same stream sparse: about `past.events`
   * events, an independent sample of it (TrafficOptions.sparsePast). That past fills the long
   * windows with what a share over them needs — a merchant's fraud rate of 30 days ending 7 days
   * ago — at a fraction of a month's events; counts over it are the sample's (docs/features.md).
   */
  async history(events: number, labelled: number, past?: SparsePast): Promise<LabelledHistory> {
    const now = this.clock.now();
    const denseFrom = now - (events / this.rate) * 1000;
    // No events asked of the past means no past, not a past at full density.
    const spanMs = past !== undefined && past.events > 0 ? past.spanMs : 0;
    const keep = past !== undefined && spanMs > 0 ? Math.min(1, past.events / ((this.rate * spanMs) / 1000)) : 1;
    const options = demoTrafficOptions(this.settings, denseFrom - spanMs);
    const generator = new TrafficGenerator(keep < 1 ? { ...options, sparsePast: { until: denseFrom, keep } } : options);
    // In slices of event time, letting the event loop run between them (rtds start serves its
    // port meanwhile): the sparse past and the whole part apart, as their densities differ by far.
    const generated: GeneratedEvent[] = [];
    const valid: RtdsEvent[] = [];
    for (const [from, to] of [
      [denseFrom - spanMs, denseFrom],
      [denseFrom, now],
    ] as const) {
      for (let slice = 1; slice <= HISTORY_SLICES; slice++) {
        const taken = generator.takeUntil(slice === HISTORY_SLICES ? to : from + ((to - from) * slice) / HISTORY_SLICES);
        for (const g of taken) generated.push(g);
        for (const e of validEvents(taken)) valid.push(e);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    const rows = Math.min(labelled, generated.length);
    if (this.continued) {
      this.generator = generator;
      this.continuing = true;
      this.replayed = undefined;
    }
    const sparse = keep < 1 ? `, after ${(spanMs / 86_400_000).toFixed(1)} days of it sampled at ${keep.toPrecision(2)}` : '';
    const description = `${generated.length} events of the demo's traffic (${this.rate}/s, seed ${this.settings.generatorSeed}, ${demoUsers(this.rate)} users${sparse}) up to ${new Date(now).toISOString()}, the latest ${rows} labelled`;
    return labelledHistory(generated, description, rows, valid);
  }

  /**
   * The partitions' state of the stream up to now — the history's, then what came after it while
   * the model trained — for the processor to continue; once. Empty without a history.
   */
  takeState(features: FeatureSet, eventTime: EventTimeOptions, partitions: number): StageTasks | undefined {
    const state = this.state(features, eventTime, partitions);
    this.continuing = false;
    this.replayed = undefined;
    if (state === undefined || this.generator === undefined) return undefined;
    // With their fraud verdicts, as the history's events: they are the same stream.
    const since = labelledHistory(this.generator.takeUntil(this.clock.now()), 'since the history', 0);
    replayFeatures(since.events, features, eventTime, partitions, since.labels, undefined, state);
    return state;
  }

  /** The live stream from now on. Events before now that no state took are skipped, as if RTDS had been down. */
  live(): TrafficGenerator {
    const now = this.clock.now();
    this.continuing = false;
    this.replayed = undefined;
    if (this.generator === undefined) return new TrafficGenerator(demoTrafficOptions(this.settings, now));
    this.generator.takeUntil(now);
    return this.generator;
  }
}
