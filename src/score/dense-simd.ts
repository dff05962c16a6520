// The dense layer's matrix product for a block of rows in WebAssembly SIMD: two float64 lanes per instruction, the same sums bit for bit.

/**
 * The kernel, assembled here (no build step, nothing downloaded): for each block of four rows
 * and each block of four outputs j, it keeps eight f64x2 accumulators and adds, for i = 0 … n−1
 * in order, aᵢ · w[i][j] to bias[j] — the very sequence of float64 multiplications and additions
 * the JS loops do (WebAssembly fuses nothing), so scores are identical, only computed two lanes
 * at a time, without bounds checks.
 *
 * dense(in, inStride, n, w, wStride, bias, out, outStride, outBlocks, rowBlocks), all byte
 * addresses and strides into the imported memory: rows of `in` are inStride bytes apart, the
 * weights are [n][outBlocks·4] float64 (wStride bytes a row, zero-padded), bias outBlocks·4 float64.
 */
const enum Op {
  Block = 0x02,
  Loop = 0x03,
  Br = 0x0c,
  BrIf = 0x0d,
  End = 0x0b,
  Get = 0x20,
  Set = 0x21,
  F64Load = 0x2b,
  I32Const = 0x41,
  I32Eq = 0x46,
  I32Add = 0x6a,
  I32Mul = 0x6c,
  Simd = 0xfd,
}
/** SIMD opcodes (after the 0xfd prefix, LEB128). */
const V128_LOAD = 0x00, V128_STORE = 0x0b, F64X2_SPLAT = 0x14, F64X2_ADD = 0xf0, F64X2_MUL = 0xf2;
const VOID = 0x40, I32 = 0x7f, V128 = 0x7b;

// Parameters 0–9, then locals.
const IN = 0, IN_STRIDE = 1, N = 2, W = 3, W_STRIDE = 4, BIAS = 5, OUT = 6, OUT_STRIDE = 7, OUT_BLOCKS = 8, ROW_BLOCKS = 9;
const RB = 10, JB = 11, I = 12, AP = 13, WP = 14, OP = 15, COL = 16, S2 = 17, S3 = 18;
const I32_LOCALS = 9;
const ACC = 19; // 8 accumulators: row r, half h at ACC + 2r + h
const W0 = 27, W1 = 28, A = 29;
const V128_LOCALS = 11;

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
const simd = (op: number, ...rest: number[]): number[] => [Op.Simd, ...uleb(op), ...rest];
const get = (l: number): number[] => [Op.Get, l];
const set = (l: number): number[] => [Op.Set, l];
const add = (a: number[], b: number[]): number[] => [...a, ...b, Op.I32Add];
const i32 = (n: number): number[] => [Op.I32Const, n]; // small non-negative constants only (< 64)
/** memarg: alignment 2^3, offset. */
const mem = (offset: number): number[] => [3, ...uleb(offset)];

function body(): number[] {
  const c: number[] = [];
  const emit = (...parts: number[][]): void => {
    for (const p of parts) c.push(...p);
  };
  // s2 = 2·inStride, s3 = 3·inStride: the block's rows 2 and 3.
  emit(get(IN_STRIDE), i32(2), [Op.I32Mul], set(S2), get(IN_STRIDE), i32(3), [Op.I32Mul], set(S3));
  emit(i32(0), set(RB), [Op.Block, VOID, Op.Loop, VOID]);
  emit(get(RB), get(ROW_BLOCKS), [Op.I32Eq, Op.BrIf, 1]);
  emit(i32(0), set(JB), [Op.Block, VOID, Op.Loop, VOID]);
  emit(get(JB), get(OUT_BLOCKS), [Op.I32Eq, Op.BrIf, 1]);
  // col = jb · 32 bytes (four float64 outputs)
  emit(get(JB), i32(32), [Op.I32Mul], set(COL));
  for (let r = 0; r < 4; r++) for (let h = 0; h < 2; h++) emit(add(get(BIAS), get(COL)), simd(V128_LOAD, ...mem(16 * h)), set(ACC + 2 * r + h));
  // ap = in + rb · 4 · inStride; wp = w + col
  emit(get(IN), get(RB), i32(4), [Op.I32Mul], get(IN_STRIDE), [Op.I32Mul, Op.I32Add], set(AP));
  emit(add(get(W), get(COL)), set(WP), i32(0), set(I));
  emit([Op.Block, VOID, Op.Loop, VOID], get(I), get(N), [Op.I32Eq, Op.BrIf, 1]);
  emit(get(WP), simd(V128_LOAD, ...mem(0)), set(W0), get(WP), simd(V128_LOAD, ...mem(16)), set(W1));
  const rowAddress = [get(AP), add(get(AP), get(IN_STRIDE)), add(get(AP), get(S2)), add(get(AP), get(S3))];
  for (let r = 0; r < 4; r++) {
    emit(rowAddress[r]!, [Op.F64Load, ...mem(0)], simd(F64X2_SPLAT), set(A));
    for (let h = 0; h < 2; h++) emit(get(ACC + 2 * r + h), get(A), get(h === 0 ? W0 : W1), simd(F64X2_MUL), simd(F64X2_ADD), set(ACC + 2 * r + h));
  }
  emit(add(get(AP), i32(8)), set(AP), add(get(WP), get(W_STRIDE)), set(WP), add(get(I), i32(1)), set(I), [Op.Br, 0, Op.End, Op.End]);
  // op = out + rb · 4 · outStride + col; row r at op + r · outStride
  emit(get(OUT), get(RB), i32(4), [Op.I32Mul], get(OUT_STRIDE), [Op.I32Mul, Op.I32Add], get(COL), [Op.I32Add], set(OP));
  for (let r = 0; r < 4; r++) {
    for (let h = 0; h < 2; h++) emit(get(OP), get(ACC + 2 * r + h), simd(V128_STORE, ...mem(16 * h)));
    if (r < 3) emit(add(get(OP), get(OUT_STRIDE)), set(OP));
  }
  emit(add(get(JB), i32(1)), set(JB), [Op.Br, 0, Op.End, Op.End]);
  emit(add(get(RB), i32(1)), set(RB), [Op.Br, 0, Op.End, Op.End]);
  return [...uleb(2), ...uleb(I32_LOCALS), I32, ...uleb(V128_LOCALS), V128, ...c, Op.End];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const code = body();
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 10, ...new Array<number>(10).fill(I32), 0]),
    ...section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x00, 0x01]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('dense'), 0x00, 0]),
    ...section(10, [1, ...uleb(code.length), ...code]),
  ]);
}

const KERNEL = new WebAssembly.Module(moduleBytes());

export type DenseKernel = (input: number, inStride: number, n: number, weights: number, wStride: number, bias: number, out: number, outStride: number, outBlocks: number, rowBlocks: number) => void;

/** The kernel over `memory` (its own instance: one network, one memory). */
export function denseKernel(memory: WebAssembly.Memory): DenseKernel {
  const instance = new WebAssembly.Instance(KERNEL, { env: { memory } });
  return instance.exports.dense as DenseKernel;
}
