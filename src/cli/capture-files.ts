// The files of a recording: capture-000001.jsonl, … in one folder, a new one past a size or line count, all of them within a total size.
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { LineSink } from './line-sink.ts';

export interface CaptureLimits {
  /** A file holding this many bytes is closed and the next begun (a longer line gets a file of its own). */
  rotateBytes?: number | undefined;
  /** A file holding this many lines is closed and the next begun. */
  rotateLines?: number | undefined;
  /** The files together never pass this many bytes: the line that would is not written, and the recording is full. */
  maxBytes?: number | undefined;
}

const FILE_NAME = /^capture-\d{6,}\.jsonl$/;

/** The name of the `n`th file (from 1): sorted by name, the files are in recording order. */
export const captureFileName = (n: number): string => `capture-${String(n).padStart(6, '0')}.jsonl`;

export class CaptureFolderError extends Error {
  override readonly name = 'CaptureFolderError';
}

export class CaptureFiles {
  readonly paths: string[] = [];
  lines = 0;
  bytes = 0;
  /** The line that would pass `maxBytes` came: nothing more is written. */
  full = false;
  private sink!: LineSink;
  private fileBytes = 0;
  private fileLines = 0;

  private constructor(
    private readonly dir: string,
    private readonly limits: CaptureLimits,
  ) {}

  /**
   * The folder, created when missing. One that holds a recording already is refused: a second
   * one would interleave with it when replayed, and overwriting would lose it.
   */
  static async open(dir: string, limits: CaptureLimits): Promise<CaptureFiles> {
    await mkdir(dir, { recursive: true });
    const held = (await readdir(dir)).filter((name) => FILE_NAME.test(name)).sort();
    if (held.length > 0) throw new CaptureFolderError(`${dir} holds a recording already (${held[0]}${held.length > 1 ? ` … ${held.at(-1)}` : ''}): choose another folder, or move those files away`);
    const files = new CaptureFiles(dir, limits);
    // Begun at once: a recording of nothing is an empty file, which replays as nothing.
    await files.next();
    return files;
  }

  /** Appends one line (without its newline); false, writing nothing, once the recording is full. */
  async write(line: string): Promise<boolean> {
    const text = `${line}\n`;
    const size = Buffer.byteLength(text);
    const { rotateBytes, rotateLines, maxBytes } = this.limits;
    if (this.full || (maxBytes !== undefined && this.bytes + size > maxBytes)) {
      this.full = true;
      return false;
    }
    const rotate = this.fileLines > 0 && ((rotateBytes !== undefined && this.fileBytes + size > rotateBytes) || (rotateLines !== undefined && this.fileLines >= rotateLines));
    if (rotate) await this.next();
    await this.sink.write(text);
    this.fileBytes += size;
    this.fileLines++;
    this.bytes += size;
    this.lines++;
    return true;
  }

  /** Everything written is on disk and the last file closed: each file ends with a whole line. */
  close(): Promise<void> {
    return this.sink.close();
  }

  private async next(): Promise<void> {
    await this.sink?.close();
    const file = path.join(this.dir, captureFileName(this.paths.length + 1));
    this.sink = new LineSink(file);
    this.paths.push(file);
    this.fileBytes = 0;
    this.fileLines = 0;
  }
}
