// Lines out to a file or stdout, with backpressure, and a reader that stops early (EPIPE) ending the output quietly.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';

/** Newline-delimited text to a file or stdout ("-"), waiting for 'drain' so a slow reader slows the writer instead of filling memory. */
export class LineSink {
  private readonly stream: Writable;
  private readonly ownsStream: boolean;
  private failure: Error | undefined;
  closed = false;
  private readonly onError = (err: NodeJS.ErrnoException): void => {
    if (err.code === 'EPIPE') this.closed = true;
    else this.failure = err;
  };

  constructor(path: string) {
    this.ownsStream = path !== '-';
    this.stream = this.ownsStream ? createWriteStream(path) : process.stdout;
    this.stream.on('error', this.onError);
  }

  async write(text: string): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) return;
    if (!this.stream.write(text)) await drained(this.stream);
    if (this.failure !== undefined) throw this.failure;
  }

  async close(): Promise<void> {
    if (this.ownsStream) {
      await new Promise<void>((resolve) => this.stream.end(resolve));
    } else if (this.stream.writableNeedDrain && !this.closed) {
      await once(this.stream, 'drain');
    }
    // After EPIPE, writes still in flight fail too; the listener stays so they are not uncaught.
    if (!this.closed) this.stream.off('error', this.onError);
    if (this.failure !== undefined) throw this.failure;
  }
}

/** Resolves on 'drain' — or on 'close'/'error', which the sink handles itself — and leaves no listener behind. */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}
