// PostgreSQL's binary COPY format: a header, then each row as its field count and each field as its length and its type's binary form.

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** PostgreSQL counts time in microseconds from 2000-01-01, the Unix epoch's 946,684,800,000 ms later. */
const PG_EPOCH_MS = 946_684_800_000;
/** jsonb's binary form is its text behind a version number, 1: the server parses the text as it does in a text COPY. */
const JSONB_VERSION = 1;
const TWO_32 = 2 ** 32;

/** Float32 scratch for vectors, and its bytes: no array allocated per row. */
let vector = new Float32Array(64);
let vectorBytes = Buffer.from(vector.buffer);

/**
 * `v` as float32 values in the first `4 · v.length` bytes of the buffer returned — the stored form
 * of feature vectors (little-endian: x86 and ARM hold them so) — valid until the next call.
 */
export function float32Bytes(v: Float64Array): Buffer {
  if (vector.length < v.length) {
    vector = new Float32Array(v.length);
    vectorBytes = Buffer.from(vector.buffer);
  }
  vector.set(v);
  return vectorBytes;
}

/**
 * Rows being written in the binary format. The server then converts no text to numbers,
 * timestamps or bytes, nor scans each line for escapes: the cost of a COPY the store's single
 * writer pays per row, moved here, where writing the binary form costs no more than the text.
 */
export class BinaryCopyRows {
  /** An ArrayBuffer of its own (never Node's shared pool), so the rows can be handed to a worker whole. */
  private buf = Buffer.allocUnsafeSlow(64 * 1024);
  private at = 0;

  constructor() {
    SIGNATURE.copy(this.buf, 0);
    // Flags (no OIDs), then the length of a header extension (none).
    this.buf.writeInt32BE(0, SIGNATURE.length);
    this.buf.writeInt32BE(0, SIGNATURE.length + 4);
    this.at = SIGNATURE.length + 8;
  }

  /** Start a row of `fields` fields. */
  row(fields: number): void {
    this.reserve(2);
    this.at = this.buf.writeInt16BE(fields, this.at);
  }

  null(): void {
    this.reserve(4);
    this.at = this.buf.writeInt32BE(-1, this.at);
  }

  /** text (or any type whose binary form is its UTF-8 text); a lone surrogate becomes U+FFFD, as TextEncoder makes it. */
  text(s: string | null | undefined): void {
    if (s === null || s === undefined) return this.null();
    this.reserve(4 + 3 * s.length);
    const n = this.buf.write(s, this.at + 4, 'utf8');
    this.buf.writeInt32BE(n, this.at);
    this.at += 4 + n;
  }

  /** jsonb from its JSON text. */
  jsonb(json: string | null): void {
    if (json === null) return this.null();
    this.reserve(5 + 3 * json.length);
    this.buf[this.at + 4] = JSONB_VERSION;
    const n = this.buf.write(json, this.at + 5, 'utf8');
    this.buf.writeInt32BE(n + 1, this.at);
    this.at += 5 + n;
  }

  float8(x: number | null | undefined): void {
    if (x === null || x === undefined) return this.null();
    this.reserve(12);
    this.buf.writeInt32BE(8, this.at);
    this.at = this.buf.writeDoubleBE(x, this.at + 4);
  }

  int4(x: number | null | undefined): void {
    if (x === null || x === undefined) return this.null();
    this.reserve(8);
    this.buf.writeInt32BE(4, this.at);
    this.at = this.buf.writeInt32BE(x, this.at + 4);
  }

  /** bigint from a safe integer. */
  int8(x: number | null | undefined): void {
    if (x === null || x === undefined) return this.null();
    this.high32(8, x);
  }

  bool(x: boolean): void {
    this.reserve(5);
    this.buf.writeInt32BE(1, this.at);
    this.buf[this.at + 4] = x ? 1 : 0;
    this.at += 5;
  }

  /** timestamptz from epoch milliseconds (whole or not: microseconds are kept, as the text form keeps them). */
  timestamptz(ms: number): void {
    this.high32(8, Math.round((ms - PG_EPOCH_MS) * 1000));
  }

  /** A vector as bytea of little-endian float32 values: the stored form of feature vectors. */
  float32s(v: Float64Array | null | undefined): void {
    if (v === null || v === undefined) return this.null();
    const bytes = v.length * 4;
    this.reserve(4 + bytes);
    this.buf.writeInt32BE(bytes, this.at);
    float32Bytes(v).copy(this.buf, this.at + 4, 0, bytes);
    this.at += 4 + bytes;
  }

  /** The rows written, ended by the format's trailer: the buffer is the caller's from here on. */
  finish(): Uint8Array<ArrayBuffer> {
    this.reserve(2);
    this.at = this.buf.writeInt16BE(-1, this.at);
    return new Uint8Array(this.buf.buffer, 0, this.at);
  }

  /** A field of `length` bytes holding the 64-bit integer `x` (a timestamp's microseconds), written as two 32-bit halves (a number is exact up to 2^53; no BigInt per row). */
  private high32(length: number, x: number): void {
    this.reserve(4 + length);
    this.buf.writeInt32BE(length, this.at);
    this.buf.writeInt32BE(Math.floor(x / TWO_32), this.at + 4);
    this.at = this.buf.writeUInt32BE(x >>> 0, this.at + 8);
  }

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.at + bytes));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }
}
