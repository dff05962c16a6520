// The process's own figures over the last minutes: CPU, memory, event-loop delay and garbage collection, sampled on a timer.
import { monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

/** One sample: the figures of the interval that ended at `at`, memory as it was then. */
export interface ProcessSample {
  /** Epoch ms. */
  at: number;
  /** CPU time (user and system) over the interval's wall time: 100 is one core busy. */
  cpu_percent: number;
  rss_bytes: number;
  heap_used_bytes: number;
  /** How late timers fired during the interval beyond their schedule, ms. */
  event_loop_delay_ms: { p50: number; p99: number; max: number };
  /** Collections during the interval and their pause, ms. */
  gc: { count: number; ms: number };
}

export interface ProcessMonitorOptions {
  /** Between samples, ms: the health page's poll. */
  intervalMs: number;
  /** Samples kept: the history the health page draws (ten minutes by default). */
  keep: number;
}

const DEFAULTS: ProcessMonitorOptions = { intervalMs: 2000, keep: 300 };

/**
 * Its own event-loop histogram and GC observer rather than prom-client's default metrics: those
 * reset their histogram at every /metrics scrape (sharing it would cut Prometheus's window short)
 * and count only the first entry of each batch the GC observer delivers (undercounting GCs).
 */
export class ProcessMonitor {
  private readonly delay: IntervalHistogram;
  private readonly gcObserver: PerformanceObserver;
  private readonly samples: ProcessSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private cpu = process.cpuUsage();
  private cpuAt = performance.now();
  /** Collections since start, and at the latest sample. */
  private readonly gc = { count: 0, ms: 0 };
  private gcAtSample = { count: 0, ms: 0 };

  constructor(private readonly options: ProcessMonitorOptions = DEFAULTS) {
    this.delay = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
    this.gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.gc.count++;
        this.gc.ms += entry.duration;
      }
    });
  }

  start(): void {
    this.delay.enable();
    this.gcObserver.observe({ entryTypes: ['gc'] });
    this.cpu = process.cpuUsage();
    this.cpuAt = performance.now();
    this.timer = setInterval(() => this.sample(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.delay.disable();
    this.gcObserver.disconnect();
  }

  /** Samples oldest first, over the last `keep` intervals. */
  history(): readonly ProcessSample[] {
    return this.samples;
  }

  /** Collections since start, and their pause in ms. */
  gcTotals(): { count: number; ms: number } {
    return { count: this.gc.count, ms: round(this.gc.ms) };
  }

  /** Heap in use over the heap's limit (V8's --max-old-space-size): near 1, the process is about to run out. */
  heapShare(): number {
    const heap = getHeapStatistics();
    return heap.used_heap_size / heap.heap_size_limit;
  }

  private sample(): void {
    const now = performance.now();
    const cpu = process.cpuUsage();
    const cpuUs = cpu.user - this.cpu.user + cpu.system - this.cpu.system;
    const memory = process.memoryUsage();
    const sample: ProcessSample = {
      at: Date.now(),
      cpu_percent: round((100 * cpuUs) / Math.max(1, (now - this.cpuAt) * 1000)),
      rss_bytes: memory.rss,
      heap_used_bytes: memory.heapUsed,
      event_loop_delay_ms: { p50: this.delayMs(50), p99: this.delayMs(99), max: this.delayMs(100) },
      gc: { count: this.gc.count - this.gcAtSample.count, ms: round(this.gc.ms - this.gcAtSample.ms) },
    };
    this.cpu = cpu;
    this.cpuAt = now;
    this.delay.reset();
    this.gcAtSample = { ...this.gc };
    this.samples.push(sample);
    if (this.samples.length > this.options.keep) this.samples.shift();
  }

  /**
   * The histogram records the time between the monitor's timer runs, its resolution included
   * (an idle loop reads as the resolution): the delay is what exceeds it.
   */
  private delayMs(percentile: number): number {
    if (this.delay.count === 0) return 0;
    return round(Math.max(0, this.delay.percentile(percentile) / 1e6 - DELAY_RESOLUTION_MS));
  }
}

/** The event-loop monitor's timer period, ms: finer costs more wake-ups for no decision-relevant detail. */
const DELAY_RESOLUTION_MS = 10;

const round = (x: number): number => Math.round(x * 1000) / 1000;
