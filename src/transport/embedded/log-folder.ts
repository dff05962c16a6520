// The embedded log's folder: append-only segment files, the log's identity and the committed offsets.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { LogRecord } from '../log.ts';
import { decodeFrames, FrameWriter } from './record-frame.ts';

/** Why a log folder cannot be opened: the folder, and what is wrong with it. */
export class LogFolderError extends Error {
  constructor(
    readonly folder: string,
    reason: string,
  ) {
    super(`embedded log folder ${folder}: ${reason}`);
    this.name = 'LogFolderError';
  }
}

export interface LogFolderOptions {
  dir: string;
  partitions: number;
  /** fdatasync each write before it counts as written; false leaves it to the OS (survives a process crash, not a power loss). */
  fsync: boolean;
  /** A segment is closed, and a new one started, once it holds this many bytes. */
  segmentBytes?: number;
  /** Told of a repair made while opening (a torn tail cut off). */
  onRepair?: (details: { segment: string; keptBytes: number; droppedBytes: number; reason: string }) => void;
}

/** What the folder held when opened. */
export interface LogContents {
  /** The log's name, kept for its life: what stored events' `log_topic` says. */
  name: string;
  /** Committed offsets per consumer group and partition, as last persisted. */
  committed: Map<string, number[]>;
  /** Every record still in a segment, in append order (which is offset order per partition). */
  records: LogRecord[];
}

/** Format of `log.json`; a folder of another format is refused rather than misread. */
const FORMAT = 1;
const META = 'log.json';
const COMMITTED = 'committed.json';
const SEGMENT = /^segment-(\d{20})\.log$/;
const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

interface Segment {
  file: string;
  /** Highest offset per partition in the segment, -1 for none: it may go once every group committed past each. */
  maxOffset: number[];
}

interface Meta {
  format: number;
  name: string;
  partitions: number;
}

export class LogFolder {
  private readonly segmentBytes: number;
  /** Closed segments, oldest first, then the one being appended to (last). */
  private segments: Segment[] = [];
  private active!: FileHandle;
  private activeBytes = 0;
  /** Why writing stopped: a failed write that could not be cut off. */
  private broken: unknown;
  /** Reused by every write: writes come one at a time. */
  private readonly frames = new FrameWriter();

  private constructor(private readonly options: LogFolderOptions) {
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  }

  /** Open (or create) the folder: validate it, cut a torn tail off, and read what it holds. */
  static async open(options: LogFolderOptions, newName: () => string): Promise<{ folder: LogFolder; contents: LogContents }> {
    const folder = new LogFolder(options);
    const contents = await folder.load(newName);
    return { folder, contents };
  }

  /** Append records as one write (then fdatasync, with `fsync`); the caller writes one group at a time. */
  async write(records: readonly LogRecord[]): Promise<void> {
    if (this.activeBytes >= this.segmentBytes) await this.roll();
    const frames = this.frames.write(records);
    const bytes = frames.length;
    const segment = this.segments[this.segments.length - 1]!;
    if (this.broken !== undefined) throw new LogFolderError(this.options.dir, `an earlier write to ${segment.file} failed and could not be undone (${String(this.broken)}); restart to recover the folder`);
    try {
      const { bytesWritten } = await this.active.write(frames, 0, bytes);
      if (bytesWritten !== bytes) throw new LogFolderError(this.options.dir, `wrote ${bytesWritten} of ${bytes} bytes to ${segment.file}`);
      if (this.options.fsync) await this.active.datasync();
    } catch (err) {
      // Cut the failed write off, so later records never follow a torn frame; failing that, stop writing.
      await this.active.truncate(this.activeBytes).catch((truncateErr: unknown) => (this.broken = truncateErr));
      throw err;
    }
    this.activeBytes += bytes;
    for (const r of records) if (r.offset > segment.maxOffset[r.partition]!) segment.maxOffset[r.partition] = r.offset;
  }

  /**
   * Persist the committed offsets (replaced atomically), then delete the closed segments every
   * group has committed past: disk stays bounded by what is not yet decided and stored.
   */
  async commit(committed: ReadonlyMap<string, readonly number[]>): Promise<void> {
    await this.replaceFile(COMMITTED, JSON.stringify({ groups: Object.fromEntries(committed) }));
    if (committed.size === 0) return;
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      const done = oldest.maxOffset.every((max, p) => [...committed.values()].every((offsets) => max < (offsets[p] ?? 0)));
      if (!done) break;
      await unlink(path.join(this.options.dir, oldest.file));
      this.segments.shift();
    }
  }

  async close(): Promise<void> {
    await this.active.close();
  }

  /** Files of the segments, oldest first (for tests and diagnostics). */
  get segmentFiles(): string[] {
    return this.segments.map((s) => s.file);
  }

  private async load(newName: () => string): Promise<LogContents> {
    const { dir, partitions } = this.options;
    await mkdir(dir, { recursive: true });
    const files = await readdir(dir);
    // A replacement cut short by a crash: the file it was replacing is intact.
    for (const f of files.filter((f) => f.endsWith('.tmp'))) await rm(path.join(dir, f));
    const segmentFiles = files.filter((f) => SEGMENT.test(f)).sort();
    let meta = await this.readMeta(files.includes(META), segmentFiles.length, newName);
    const committed = await this.readCommitted(files.includes(COMMITTED));
    const records: LogRecord[] = [];
    for (let i = 0; i < segmentFiles.length; i++) {
      const file = segmentFiles[i]!;
      const bytes = await readFile(path.join(dir, file));
      const decoded = decodeFrames(bytes);
      if (decoded.damage !== undefined) {
        if (i < segmentFiles.length - 1)
          throw new LogFolderError(
            dir,
            `segment ${file} is damaged at byte ${decoded.validBytes} of ${bytes.length} (${decoded.damage}) and later segments follow it, so its tail is not a write cut short by a crash. ` +
              'The records of it that were decided are in the store; to start anyway, move the folder aside (records in it not yet decided are then lost).',
          );
        // The last write before a crash, never acknowledged: cut it off.
        const handle = await open(path.join(dir, file), 'r+');
        await handle.truncate(decoded.validBytes);
        await handle.datasync();
        await handle.close();
        this.options.onRepair?.({ segment: file, keptBytes: decoded.validBytes, droppedBytes: bytes.length - decoded.validBytes, reason: decoded.damage });
      }
      const maxOffset = new Array<number>(meta.partitions).fill(-1);
      for (const r of decoded.records) {
        if (!(r.partition < meta.partitions) || !Number.isSafeInteger(r.offset) || r.offset < 0)
          throw new LogFolderError(dir, `segment ${file} holds a record of partition ${r.partition} at offset ${r.offset}, outside a log of ${meta.partitions} partitions`);
        maxOffset[r.partition] = Math.max(maxOffset[r.partition]!, r.offset);
        records.push(r);
      }
      this.segments.push({ file, maxOffset });
      if (i === segmentFiles.length - 1) this.activeBytes = decoded.validBytes;
    }
    if (meta.partitions !== partitions) {
      const undecided = records.filter((r) => [...committed.values()].some((offsets) => r.offset >= (offsets[r.partition] ?? 0))).length;
      if (undecided > 0 || (committed.size === 0 && records.length > 0))
        throw new LogFolderError(
          dir,
          `it is a log of ${meta.partitions} partitions with ${undecided || records.length} records not yet decided, and RTDS_PARTITIONS is ${partitions}. Start once with RTDS_PARTITIONS=${meta.partitions} to decide them, then change it.`,
        );
      // Everything decided: a new log of the new shape, under a new name so stored positions stay apart.
      for (const s of this.segments) await unlink(path.join(dir, s.file));
      this.segments = [];
      this.activeBytes = 0;
      records.length = 0;
      committed.clear();
      await rm(path.join(dir, COMMITTED), { force: true });
      meta = await this.createMeta(newName());
    }
    if (this.segments.length === 0) await this.startSegment(1);
    else this.active = await open(path.join(dir, this.segments[this.segments.length - 1]!.file), 'a');
    return { name: meta.name, committed, records };
  }

  private async readMeta(present: boolean, segments: number, newName: () => string): Promise<Meta> {
    const { dir } = this.options;
    if (!present) {
      if (segments > 0) throw new LogFolderError(dir, `it holds ${segments} segment files but no ${META}: not an RTDS log folder of this version; move it aside`);
      return this.createMeta(newName());
    }
    const text = await readFile(path.join(dir, META), 'utf8');
    let meta: Partial<Meta>;
    try {
      meta = JSON.parse(text) as Partial<Meta>;
    } catch {
      throw new LogFolderError(dir, `${META} is not JSON (${JSON.stringify(text.slice(0, 80))}); move the folder aside`);
    }
    if (meta.format !== FORMAT) throw new LogFolderError(dir, `${META} says format ${JSON.stringify(meta.format)}, this RTDS reads format ${FORMAT}; move the folder aside or start the RTDS that wrote it`);
    if (typeof meta.name !== 'string' || !Number.isInteger(meta.partitions) || meta.partitions! < 1) throw new LogFolderError(dir, `${META} lacks a name or a partition count: ${text.slice(0, 200)}`);
    return meta as Meta;
  }

  private async createMeta(name: string): Promise<Meta> {
    const meta: Meta = { format: FORMAT, name, partitions: this.options.partitions };
    await this.replaceFile(META, JSON.stringify(meta));
    return meta;
  }

  private async readCommitted(present: boolean): Promise<Map<string, number[]>> {
    const committed = new Map<string, number[]>();
    if (!present) return committed;
    try {
      const parsed = JSON.parse(await readFile(path.join(this.options.dir, COMMITTED), 'utf8')) as { groups?: Record<string, unknown> };
      for (const [group, offsets] of Object.entries(parsed.groups ?? {})) {
        if (Array.isArray(offsets) && offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) committed.set(group, offsets as number[]);
      }
    } catch {
      // Unreadable offsets only cost a longer replay: records the store holds are recognised then.
      committed.clear();
    }
    return committed;
  }

  /** Close the active segment (written and synced) and start the next. */
  private async roll(): Promise<void> {
    await this.active.close();
    const last = this.segments[this.segments.length - 1]!;
    await this.startSegment(Number(SEGMENT.exec(last.file)![1]) + 1);
  }

  private async startSegment(sequence: number): Promise<void> {
    const file = `segment-${String(sequence).padStart(20, '0')}.log`;
    this.active = await open(path.join(this.options.dir, file), 'a');
    this.activeBytes = 0;
    this.segments.push({ file, maxOffset: new Array<number>(this.options.partitions).fill(-1) });
    await this.syncFolder();
  }

  /** Write a small file whole or not at all: a temporary file, synced, renamed over the old one. */
  private async replaceFile(name: string, text: string): Promise<void> {
    const target = path.join(this.options.dir, name);
    const temporary = `${target}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(temporary, 'w');
    await handle.writeFile(text);
    if (this.options.fsync) await handle.datasync();
    await handle.close();
    await rename(temporary, target);
    await this.syncFolder();
  }

  /** A created, renamed or removed file survives a power loss only once its folder is synced. */
  private async syncFolder(): Promise<void> {
    if (!this.options.fsync) return;
    const handle = await open(this.options.dir, 'r');
    await handle.sync();
    await handle.close();
  }
}
