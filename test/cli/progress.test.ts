import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Progress, type ProgressOutput } from '../../src/cli/progress.ts';

/** Collects what a Progress writes, as a terminal (isTTY) or a log would receive it. */
function output(isTTY: boolean, columns?: number): ProgressOutput & { text: string } {
  return {
    isTTY,
    ...(columns === undefined ? {} : { columns }),
    text: '',
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  };
}

describe('progress of a command in phases', () => {
  it('on a terminal redraws one bar in place and keeps it once the phase ends', () => {
    const out = output(true);
    const progress = new Progress('train', true, out);
    progress.phase('features', 0, 4, 'events');
    progress.phase('features', 4, 4, 'events', '0.1 s');
    progress.phase('MLP', 1, 1, 'epochs');
    assert.equal(out.text, '\rtrain: [........................] features 0/4 events\x1b[K' + '\rtrain: [########################] features 4/4 events  0.1 s\x1b[K\n' + '\rtrain: [########################] MLP 1/1 epochs\x1b[K\n');
  });

  it('on a terminal clips the bar to the width, so it never wraps, and a line replaces an unfinished bar', () => {
    const out = output(true, 30);
    const progress = new Progress('train', true, out);
    progress.phase('evaluation', 1, 2, 'held-out rows');
    progress.line('done');
    assert.equal(out.text, '\rtrain: [############.........\x1b[K' + '\r\x1b[Ktrain: done\n');
  });

  it('in a log writes one line per phase, at its end, and one per logged step', () => {
    const out = output(false);
    const progress = new Progress('train', true, out);
    for (let done = 0; done <= 3; done++) progress.phase('features', done, 3, 'events');
    for (let epoch = 1; epoch <= 2; epoch++) progress.phase('MLP', epoch, 2, 'epochs', `loss 0.${epoch}`, true);
    assert.equal(out.text, 'train: features 3/3 events\ntrain: MLP 1/2 epochs  loss 0.1\ntrain: MLP 2/2 epochs  loss 0.2\n');
  });

  it('writes nothing when disabled', () => {
    const out = output(true);
    const progress = new Progress('generate', false, out);
    progress.phase('features', 1, 1, 'events');
    progress.line('done');
    progress.tick(() => 'never');
    assert.equal(out.text, '');
  });
});
