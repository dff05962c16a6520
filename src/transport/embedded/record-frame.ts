// The on-disk form of an embedded log record: a length and CRC-32 frame, so a torn write is detected, never replayed.
import { crc32 } from 'node:zlib';
import type { LogRecord } from '../log.ts';

/**
 * Frame: u32 payload length, u32 CRC-32 of the payload, payload. Payload: u32 partition, f64
 * offset, f64 acceptedAt, u32 key bytes, the key (UTF-8), the value as JSON (UTF-8).
 */
const FRAME_HEADER = 8;
const PAYLOAD_FIXED = 4 + 8 + 8 + 4;
/** Larger than any record the HTTP edge accepts: a length beyond it is garbage, not a record. */
export const MAX_FRAME_PAYLOAD = 64 * 1024 * 1024;

/**
 * Records' frames, written one after another into one buffer that is kept and grown as needed:
 * a group of records costs one allocation (their values' JSON), not a key, a value and a frame
 * per record. A write's bytes are valid until the next write.
 */
export class FrameWriter {
  private buf = Buffer.allocUnsafeSlow(64 * 1024);

  /** The frames of `records`, in order: a view of this writer's buffer, valid until the next call. */
  write(records: readonly LogRecord[]): Buffer {
    let at = 0;
    for (const record of records) {
      const value = JSON.stringify(record.value) ?? 'null';
      // UTF-8 takes at most 3 bytes per UTF-16 unit.
      this.reserve(at + FRAME_HEADER + PAYLOAD_FIXED + 3 * (record.key.length + value.length));
      const buf = this.buf;
      const start = at;
      at = buf.writeUInt32LE(record.partition, start + FRAME_HEADER);
      at = buf.writeDoubleLE(record.offset, at);
      at = buf.writeDoubleLE(record.acceptedAt, at);
      const keyBytes = buf.write(record.key, at + 4, 'utf8');
      at = buf.writeUInt32LE(keyBytes, at) + keyBytes;
      at += buf.write(value, at, 'utf8');
      buf.writeUInt32LE(at - start - FRAME_HEADER, start);
      buf.writeUInt32LE(crc32(buf.subarray(start + FRAME_HEADER, at)), start + 4);
    }
    return this.buf.subarray(0, at);
  }

  private reserve(bytes: number): void {
    if (bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, bytes));
    this.buf.copy(grown);
    this.buf = grown;
  }
}

/** What reading a segment's bytes found: whole records, and where the first unreadable frame starts (if any). */
export interface DecodedFrames {
  records: LogRecord[];
  /** Bytes of whole, intact frames from the start. */
  validBytes: number;
  /** Why the bytes from `validBytes` on are not a record; undefined when every byte was read. */
  damage: string | undefined;
}

/** Every intact frame from the start of `bytes`, stopping at the first torn or corrupt one. */
export function decodeFrames(bytes: Buffer): DecodedFrames {
  const records: LogRecord[] = [];
  let at = 0;
  const stop = (damage: string): DecodedFrames => ({ records, validBytes: at, damage });
  while (at < bytes.length) {
    if (bytes.length - at < FRAME_HEADER) return stop(`a frame header cut short (${bytes.length - at} of ${FRAME_HEADER} bytes)`);
    const length = bytes.readUInt32LE(at);
    if (length < PAYLOAD_FIXED || length > MAX_FRAME_PAYLOAD) return stop(`a frame length of ${length} bytes, outside [${PAYLOAD_FIXED}, ${MAX_FRAME_PAYLOAD}]`);
    const end = at + FRAME_HEADER + length;
    if (end > bytes.length) return stop(`a frame cut short (${bytes.length - at - FRAME_HEADER} of ${length} payload bytes)`);
    const payload = bytes.subarray(at + FRAME_HEADER, end);
    if (crc32(payload) !== bytes.readUInt32LE(at + 4)) return stop('a frame whose checksum does not match its bytes');
    const keyBytes = payload.readUInt32LE(20);
    if (PAYLOAD_FIXED + keyBytes > length) return stop(`a key of ${keyBytes} bytes in a payload of ${length}`);
    let value: unknown;
    try {
      value = JSON.parse(payload.toString('utf8', PAYLOAD_FIXED + keyBytes));
    } catch {
      // The checksum matched, so these are the bytes written: a writer bug, not a torn write.
      return stop('a frame whose value is not JSON');
    }
    records.push({
      partition: payload.readUInt32LE(0),
      offset: payload.readDoubleLE(4),
      acceptedAt: payload.readDoubleLE(12),
      key: payload.toString('utf8', PAYLOAD_FIXED, PAYLOAD_FIXED + keyBytes),
      value,
    });
    at = end;
  }
  return { records, validBytes: at, damage: undefined };
}
