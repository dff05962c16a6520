// Loads TensorFlow.js on demand with the wasm backend (cpu as fallback), so importing the scoring stage stays cheap.
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as TF from '@tensorflow/tfjs';

export type Tf = typeof TF;
export type TfBackend = 'wasm' | 'cpu';

export interface TensorFlowOptions {
  /** Backend to run on; wasm trains several times faster than cpu here. Default 'wasm'. */
  backend?: TfBackend;
  /** Where a fallback is reported; default console.warn. */
  log?: (message: string) => void;
}

let loading: Promise<Tf> | null = null;
let wasmFailure: string | null = null;
let fallbackReported = false;

/** The folder holding the backend's .wasm binaries, found through Node's resolution. */
export function wasmBinaryFolder(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep;
}

async function load(): Promise<Tf> {
  // tfjs costs ≈ 0.6 s to import; only training, loading and saving models need it.
  const tf = await import('@tensorflow/tfjs');
  // Production mode silences the "install tfjs-node" banner and other console advice.
  tf.enableProdMode();
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(wasmBinaryFolder());
  } catch (e) {
    wasmFailure = e instanceof Error ? e.message : String(e);
  }
  return tf;
}

/**
 * TensorFlow.js, ready on the requested backend. Falls back to 'cpu' (and says so through
 * `log`) when the wasm backend cannot start.
 */
export async function tensorflow(options: TensorFlowOptions = {}): Promise<Tf> {
  const backend = options.backend ?? 'wasm';
  const log = options.log ?? ((m: string) => console.warn(m));
  loading ??= load();
  const tf = await loading;
  if (tf.getBackend() === backend) return tf;
  if (backend === 'wasm' && wasmFailure === null) {
    try {
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return tf;
      }
      wasmFailure = 'the wasm backend did not initialise';
    } catch (e) {
      wasmFailure = e instanceof Error ? e.message : String(e);
    }
  }
  if (backend === 'wasm' && !fallbackReported) {
    fallbackReported = true;
    log(`rtds score: TensorFlow.js wasm backend unavailable (${wasmFailure}); using cpu`);
  }
  if (tf.getBackend() !== 'cpu') {
    await tf.setBackend('cpu');
    await tf.ready();
  }
  return tf;
}
