// Fast inference for a stack of dense layers: a WebAssembly SIMD matrix product per layer and typed-array loops, no tfjs, no allocation per call.
import type { LayersModel } from '@tensorflow/tfjs';
import { denseKernel, type DenseKernel } from './dense-simd.ts';

export const ACTIVATIONS = ['linear', 'relu', 'sigmoid', 'tanh'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/** One dense layer as Keras and TensorFlow.js store it: kernel [inputSize × outputSize], row-major. */
export interface DenseLayerWeights {
  inputSize: number;
  outputSize: number;
  kernel: Float32Array;
  bias: Float32Array;
  activation: Activation;
}

export class UnsupportedModelError extends Error {
  override readonly name = 'UnsupportedModelError';
}

const LINEAR = 0, RELU = 1, SIGMOID = 2, TANH = 3;
const ACTIVATION_CODE: Record<Activation, number> = { linear: LINEAR, relu: RELU, sigmoid: SIGMOID, tanh: TANH };
/** Rows scored together by the blocked kernels: each weight loaded once serves all of them. */
const BLOCK = 4;
/** Rows of a batch forwarded together through every layer: their activations stay in cache. */
const CHUNK = 64;
const F64 = 8;

interface Layer {
  n: number;
  m: number;
  /** Kernel transposed to [outputSize × inputSize], so each output is a contiguous dot product. */
  wt: Float64Array;
  bias: Float64Array;
  act: number;
}

/**
 * A feed-forward network of dense layers. Dropout is the identity at inference, so a trained
 * 64-32-16-1 MLP with dropout becomes four dense layers here. Computes in float64 from float32
 * weights; agrees with tfjs (float32) to about 1e-7.
 */
export class DenseNetwork {
  readonly inputSize: number;
  readonly outputSize: number;
  private readonly layers: Layer[];
  /** Activations for one block of rows, per layer boundary. */
  private readonly buffers: Float64Array[];
  private readonly preActivation: Float64Array;
  private readonly occludedSlots = new Int32Array(BLOCK);
  /** Back-propagation scratch, as wide as the widest layer boundary. */
  private readonly gradA: Float64Array;
  private readonly gradB: Float64Array;
  /** `predict`'s SIMD kernel, and its memory laid out per layer (see batchLayout). */
  private readonly kernel: DenseKernel;
  private readonly memory: Float64Array;
  private readonly batchLayers: BatchLayer[];

  constructor(layers: readonly DenseLayerWeights[]) {
    if (layers.length === 0) throw new UnsupportedModelError('a dense network needs at least one layer');
    this.layers = layers.map((l, k) => {
      const { inputSize: n, outputSize: m } = l;
      if (k > 0 && n !== layers[k - 1]!.outputSize) {
        throw new UnsupportedModelError(`layer ${k} takes ${n} inputs but layer ${k - 1} gives ${layers[k - 1]!.outputSize}`);
      }
      if (l.kernel.length !== n * m || l.bias.length !== m) {
        throw new UnsupportedModelError(`layer ${k}: kernel must hold ${n}×${m} and bias ${m} values`);
      }
      if (!isActivation(l.activation)) throw new UnsupportedModelError(`layer ${k}: unsupported activation "${l.activation}"`);
      const wt = new Float64Array(n * m);
      for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) wt[j * n + i] = l.kernel[i * m + j]!;
      return { n, m, wt, bias: Float64Array.from(l.bias), act: ACTIVATION_CODE[l.activation] };
    });
    this.inputSize = layers[0]!.inputSize;
    this.outputSize = layers[layers.length - 1]!.outputSize;
    this.buffers = [new Float64Array(BLOCK * this.inputSize), ...layers.map((l) => new Float64Array(BLOCK * l.outputSize))];
    this.preActivation = new Float64Array(layers[0]!.outputSize);
    const widest = Math.max(this.inputSize, ...layers.map((l) => l.outputSize));
    this.gradA = new Float64Array(widest);
    this.gradB = new Float64Array(widest);
    const { layout, bytes } = batchLayout(this.layers);
    const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65_536) });
    this.kernel = denseKernel(memory);
    this.memory = new Float64Array(memory.buffer);
    this.batchLayers = layout;
    for (let l = 0; l < layout.length; l++) {
      const { n, m, wt, bias } = this.layers[l]!;
      const { weights, stride } = layout[l]!;
      const w = weights / F64;
      const cols = stride / F64;
      for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) this.memory[w + i * cols + j] = wt[j * n + i]!;
      this.memory.set(bias, layout[l]!.bias / F64);
    }
  }

  /**
   * Read the dense layers of a trained tfjs LayersModel. Dropout, InputLayer and Flatten (of an
   * already flat input) are skipped; an Activation layer folds into a preceding linear Dense.
   */
  static fromLayersModel(model: LayersModel): DenseNetwork {
    const dense: DenseLayerWeights[] = [];
    for (const layer of model.layers) {
      const kind = layer.getClassName();
      if (kind === 'Dropout' || kind === 'InputLayer' || kind === 'Flatten') continue;
      const config = layer.getConfig();
      if (kind === 'Activation') {
        const previous = dense[dense.length - 1];
        if (previous === undefined || previous.activation !== 'linear') {
          throw new UnsupportedModelError(`layer "${layer.name}": an Activation layer must follow a linear Dense layer`);
        }
        previous.activation = activationOf(config.activation, layer.name);
        continue;
      }
      if (kind !== 'Dense') throw new UnsupportedModelError(`layer "${layer.name}" is a ${kind}; only Dense, Dropout and Activation are supported`);
      const weights = layer.getWeights();
      const kernel = weights[0];
      if (kernel === undefined || kernel.shape.length !== 2) throw new UnsupportedModelError(`layer "${layer.name}" has no 2-D kernel`);
      const [n, m] = kernel.shape as [number, number];
      const biasTensor = weights[1];
      dense.push({
        inputSize: n,
        outputSize: m,
        kernel: Float32Array.from(kernel.dataSync()),
        bias: biasTensor === undefined ? new Float32Array(m) : Float32Array.from(biasTensor.dataSync()),
        activation: activationOf(config.activation, layer.name),
      });
    }
    return new DenseNetwork(dense);
  }

  /** The layers back in Keras layout (kernel [in × out] row-major), e.g. to export elsewhere. */
  weights(): DenseLayerWeights[] {
    return this.layers.map((l) => {
      const kernel = new Float32Array(l.n * l.m);
      for (let i = 0; i < l.n; i++) for (let j = 0; j < l.m; j++) kernel[i * l.m + j] = l.wt[j * l.n + i]!;
      return { inputSize: l.n, outputSize: l.m, kernel, bias: Float32Array.from(l.bias), activation: ACTIVATIONS[l.act]! };
    });
  }

  /**
   * Forward `batch` rows of `input` (row-major, inputSize each, from offset 0) into `out`
   * (outputSize each): CHUNK rows at a time, each layer one SIMD matrix product over them (in
   * blocks of four rows; the last block's spare rows compute leftovers, never read), then its
   * activation. The same sums in the same order as a row alone: a row scores alike in any batch.
   */
  predict(input: Float32Array, out: Float32Array, batch: number): void {
    const d = this.inputSize;
    const k = this.outputSize;
    if (input.length < batch * d) throw new RangeError(`input holds ${input.length} values; ${batch} rows need ${batch * d}`);
    if (out.length < batch * k) throw new RangeError(`out holds ${out.length} values; ${batch} rows need ${batch * k}`);
    const memory = this.memory;
    const layout = this.batchLayers;
    const first = layout[0]!;
    const last = layout[layout.length - 1]!;
    for (let r0 = 0; r0 < batch; r0 += CHUNK) {
      const rows = Math.min(CHUNK, batch - r0);
      const blocks = Math.ceil(rows / BLOCK);
      memory.set(input.subarray(r0 * d, (r0 + rows) * d), first.input / F64);
      for (let l = 0; l < layout.length; l++) {
        const { n, m, act } = this.layers[l]!;
        const b = layout[l]!;
        this.kernel(b.input, b.inputStride, n, b.weights, b.stride, b.bias, b.output, b.stride, b.stride / (BLOCK * F64), blocks);
        const cols = b.stride / F64;
        // Whole rows at once when no padding lies between them (a padded output is never read).
        if (cols === m) activate(memory, b.output / F64, b.output / F64 + rows * cols, act);
        else for (let r = 0; r < rows; r++) activate(memory, b.output / F64 + r * cols, b.output / F64 + r * cols + m, act);
      }
      for (let r = 0; r < rows; r++) {
        const from = (last.output + r * last.stride) / F64;
        for (let i = 0; i < k; i++) out[(r0 + r) * k + i] = memory[from + i]!;
      }
    }
  }

  /**
   * Forward row `offset` of `input` and back-propagate: writes ∂output₀/∂inputᵢ into `grad` and
   * returns output₀. Costs about one forward pass; used to pick which inputs are worth occluding.
   */
  inputGradient(input: Float32Array, offset: number, grad: Float64Array): number {
    const n0 = this.inputSize;
    if (input.length < offset + n0) throw new RangeError(`input holds no full row at offset ${offset}`);
    if (grad.length < n0) throw new RangeError(`grad must hold ${n0} values`);
    const first = this.buffers[0]!;
    for (let i = 0; i < n0; i++) first[i] = input[offset + i]!;
    const layers = this.layers;
    for (let l = 0; l < layers.length; l++) forwardRow(layers[l]!, this.buffers[l]!, this.buffers[l + 1]!);
    // g holds ∂out₀/∂(this layer's output); start at the output layer.
    let g = this.gradA;
    let next = this.gradB;
    const lastOut = this.buffers[layers.length]!;
    g.fill(0, 0, this.outputSize);
    g[0] = 1;
    for (let l = layers.length - 1; l >= 0; l--) {
      const { n, m, wt, act } = layers[l]!;
      const o = this.buffers[l + 1]!;
      // Through the activation: f'(pre) expressed from the output value.
      for (let j = 0; j < m; j++) {
        const y = o[j]!;
        const gj = g[j]!;
        g[j] = act === RELU ? (y > 0 ? gj : 0) : act === SIGMOID ? gj * y * (1 - y) : act === TANH ? gj * (1 - y * y) : gj;
      }
      const target = l === 0 ? grad : next;
      target.fill(0, 0, n);
      for (let j = 0; j < m; j++) {
        const gj = g[j]!;
        if (gj === 0) continue;
        const p = j * n;
        for (let i = 0; i < n; i++) target[i]! += gj * wt[p + i]!;
      }
      const t = g;
      g = next;
      next = t;
    }
    return lastOut[0]!;
  }

  /**
   * For each input feature f, the network's first output with input f of row `offset` set to 0
   * (for standardised inputs: the training mean), written to `out[f]`; `NaN` for features
   * skipped by `skip[f] === 1` or already 0. Only the first layer's pre-activation changes with
   * one input, so it is computed once and adjusted per feature.
   */
  predictOccluded(input: Float32Array, offset: number, out: Float32Array, skip?: Uint8Array): void {
    const first = this.layers[0]!;
    const { n, m, wt, bias } = first;
    if (input.length < offset + n) throw new RangeError(`input holds no full row at offset ${offset}`);
    if (out.length < n) throw new RangeError(`out must hold ${n} values`);
    const pre = this.preActivation;
    for (let j = 0; j < m; j++) {
      let s = bias[j]!;
      const p = j * n;
      for (let i = 0; i < n; i++) s += input[offset + i]! * wt[p + i]!;
      pre[j] = s;
    }
    const h = this.buffers[1]!;
    const last = this.buffers[this.buffers.length - 1]!;
    const k = this.outputSize;
    const slots = this.occludedSlots;
    let filled = 0;
    const flush = (): void => {
      // Unused slots still hold earlier rows; computing them is cheaper than a second code path.
      for (let l = 1; l < this.layers.length; l++) forwardBlock(this.layers[l]!, this.buffers[l]!, this.buffers[l + 1]!);
      for (let s = 0; s < filled; s++) out[slots[s]!] = last[s * k]!;
      filled = 0;
    };
    for (let f = 0; f < n; f++) {
      const x = input[offset + f]!;
      if (x === 0 || skip?.[f] === 1) {
        out[f] = NaN;
        continue;
      }
      const base = filled * m;
      for (let j = 0; j < m; j++) h[base + j] = pre[j]! - x * wt[j * n + f]!;
      activate(h, base, base + m, first.act);
      slots[filled++] = f;
      if (filled === BLOCK) flush();
    }
    if (filled > 0) flush();
  }
}

/** Where a layer's operands lie in the SIMD kernel's memory (byte addresses and strides). */
interface BatchLayer {
  /** Weights [n][stride / 8], zero-padded to whole blocks of four outputs. */
  weights: number;
  bias: number;
  /** Bytes per row of the weights and of the output: the outputs rounded up to a block of four. */
  stride: number;
  /** The layer's input rows (the previous layer's output, or the batch's input) and their stride. */
  input: number;
  inputStride: number;
  output: number;
}

/** Every layer's weights, bias and CHUNK rows of output, one after another; the batch's input first. */
function batchLayout(layers: readonly Layer[]): { layout: BatchLayer[]; bytes: number } {
  let at = 0;
  const take = (bytes: number): number => {
    const start = at;
    at += bytes;
    return start;
  };
  let input = take(CHUNK * layers[0]!.n * F64);
  let inputStride = layers[0]!.n * F64;
  const layout = layers.map((l) => {
    const stride = Math.ceil(l.m / BLOCK) * BLOCK * F64;
    const b: BatchLayer = { weights: take(l.n * stride), bias: take(stride), stride, input, inputStride, output: take(CHUNK * stride) };
    input = b.output;
    inputStride = stride;
    return b;
  });
  return { layout, bytes: at };
}

function isActivation(name: unknown): name is Activation {
  return typeof name === 'string' && (ACTIVATIONS as readonly string[]).includes(name);
}

function activationOf(value: unknown, layerName: string): Activation {
  const name = value === undefined || value === null ? 'linear' : value;
  if (isActivation(name)) return name;
  throw new UnsupportedModelError(`layer "${layerName}": unsupported activation ${JSON.stringify(value)}`);
}

function activate(o: Float64Array, from: number, to: number, act: number): void {
  switch (act) {
    case RELU:
      for (let j = from; j < to; j++) if (!(o[j]! > 0)) o[j] = 0;
      break;
    case SIGMOID:
      for (let j = from; j < to; j++) o[j] = 1 / (1 + Math.exp(-o[j]!));
      break;
    case TANH:
      for (let j = from; j < to; j++) o[j] = Math.tanh(o[j]!);
      break;
    default:
      break;
  }
}

/** One row: eight outputs at a time, so each input value is loaded once per eight products. */
function forwardRow(layer: Layer, a: Float64Array, o: Float64Array): void {
  const { n, m, wt: w, bias: b } = layer;
  let j = 0;
  for (; j + 8 <= m; j += 8) {
    let s0 = b[j]!, s1 = b[j + 1]!, s2 = b[j + 2]!, s3 = b[j + 3]!, s4 = b[j + 4]!, s5 = b[j + 5]!, s6 = b[j + 6]!, s7 = b[j + 7]!;
    const p0 = j * n, p1 = p0 + n, p2 = p1 + n, p3 = p2 + n, p4 = p3 + n, p5 = p4 + n, p6 = p5 + n, p7 = p6 + n;
    for (let i = 0; i < n; i++) {
      const v = a[i]!;
      s0 += v * w[p0 + i]!;
      s1 += v * w[p1 + i]!;
      s2 += v * w[p2 + i]!;
      s3 += v * w[p3 + i]!;
      s4 += v * w[p4 + i]!;
      s5 += v * w[p5 + i]!;
      s6 += v * w[p6 + i]!;
      s7 += v * w[p7 + i]!;
    }
    o[j] = s0; o[j + 1] = s1; o[j + 2] = s2; o[j + 3] = s3; o[j + 4] = s4; o[j + 5] = s5; o[j + 6] = s6; o[j + 7] = s7;
  }
  for (; j < m; j++) {
    let s = b[j]!;
    const p = j * n;
    for (let i = 0; i < n; i++) s += a[i]! * w[p + i]!;
    o[j] = s;
  }
  activate(o, 0, m, layer.act);
}

/** Four rows × two outputs at a time: each weight loaded serves four rows. */
function forwardBlock(layer: Layer, a: Float64Array, o: Float64Array): void {
  const { n, m, wt: w, bias: b } = layer;
  const a1 = n, a2 = 2 * n, a3 = 3 * n;
  let j = 0;
  for (; j + 2 <= m; j += 2) {
    const c0 = b[j]!, c1 = b[j + 1]!;
    let r00 = c0, r01 = c1, r10 = c0, r11 = c1, r20 = c0, r21 = c1, r30 = c0, r31 = c1;
    const p0 = j * n, p1 = p0 + n;
    for (let i = 0; i < n; i++) {
      const w0 = w[p0 + i]!, w1 = w[p1 + i]!;
      const v0 = a[i]!, v1 = a[a1 + i]!, v2 = a[a2 + i]!, v3 = a[a3 + i]!;
      r00 += v0 * w0; r01 += v0 * w1;
      r10 += v1 * w0; r11 += v1 * w1;
      r20 += v2 * w0; r21 += v2 * w1;
      r30 += v3 * w0; r31 += v3 * w1;
    }
    o[j] = r00; o[j + 1] = r01;
    o[m + j] = r10; o[m + j + 1] = r11;
    o[2 * m + j] = r20; o[2 * m + j + 1] = r21;
    o[3 * m + j] = r30; o[3 * m + j + 1] = r31;
  }
  for (; j < m; j++) {
    const p = j * n;
    let s0 = b[j]!, s1 = s0, s2 = s0, s3 = s0;
    for (let i = 0; i < n; i++) {
      const wi = w[p + i]!;
      s0 += a[i]! * wi;
      s1 += a[a1 + i]! * wi;
      s2 += a[a2 + i]! * wi;
      s3 += a[a3 + i]! * wi;
    }
    o[j] = s0; o[m + j] = s1; o[2 * m + j] = s2; o[3 * m + j] = s3;
  }
  activate(o, 0, BLOCK * m, layer.act);
}
