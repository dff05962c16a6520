import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { averagePrecision, calibration, confusionMatrix, evaluateScores, populationStability, precisionRecallCurve, rocAuc, rocCurve, scoreDistribution, thresholdMetrics, thresholdSweep } from '../../src/score/evaluation.ts';

const close = (actual: number, expected: number, eps = 1e-12): void =>
  assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

// Positives score 0.9 and 0.8; negatives 0.8, 0.3, 0.1 — one positive ties with one negative.
const scores = [0.9, 0.8, 0.8, 0.3, 0.1];
const labels = [1, 0, 1, 0, 0];

describe('evaluation metrics', () => {
  it('counts a score equal to the threshold as predicted fraud in the confusion matrix', () => {
    assert.deepEqual(confusionMatrix(scores, labels, 0.8), { tp: 2, fp: 1, tn: 2, fn: 0 });
    assert.deepEqual(confusionMatrix(scores, labels, 0.85), { tp: 1, fp: 0, tn: 3, fn: 1 });
  });

  it('derives accuracy, precision, recall and F1 from the confusion matrix', () => {
    const m = thresholdMetrics(scores, labels, 0.8);
    close(m.accuracy, 4 / 5);
    close(m.precision, 2 / 3);
    close(m.recall, 1);
    close(m.f1, 0.8);
    const strict = thresholdMetrics(scores, labels, 0.85);
    close(strict.precision, 1);
    close(strict.recall, 0.5);
    close(strict.f1, 2 / 3);
  });

  it('reports precision and F1 as 0 when nothing is predicted fraud', () => {
    const m = thresholdMetrics([0.1, 0.2], [1, 0], 0.5);
    assert.equal(m.precision, 0);
    assert.equal(m.recall, 0);
    assert.equal(m.f1, 0);
    close(m.accuracy, 0.5);
  });

  it('computes ROC-AUC over all positive/negative pairs, a tie counting one half', () => {
    // Pairs won: 0.9 beats all three negatives, 0.8 beats two and ties one: (3 + 2.5) / 6.
    close(rocAuc(scores, labels), 5.5 / 6);
    close(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75); // scikit-learn's documented example
  });

  it('gives AUC 0.5 when every score ties, 1 for a perfect and 0 for an inverted ranking', () => {
    close(rocAuc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0]), 0.5);
    close(rocAuc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]), 1);
    close(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
  });

  it('returns NaN for AUC when only one class is present', () => {
    assert.ok(Number.isNaN(rocAuc([0.2, 0.7], [0, 0])));
    assert.ok(Number.isNaN(rocAuc([0.2, 0.7], [1, 1])));
  });

  it('computes average precision as the step area under the precision-recall curve, ties grouped', () => {
    // Threshold 0.9: P = 1, R = ½; threshold 0.8 (three rows): P = ⅔, R = 1 → ½·1 + ½·⅔.
    close(averagePrecision(scores, labels), 0.5 + 1 / 3);
    close(averagePrecision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.5 * 1 + 0.5 * (2 / 3)); // scikit-learn: 0.8333
    close(averagePrecision([0.5, 0.5, 0.5, 0.5], [1, 0, 0, 0]), 0.25);
    assert.ok(Number.isNaN(averagePrecision([0.3], [0])));
  });

  it('summarises a model at each requested threshold', () => {
    const m = evaluateScores(scores, labels, [0.5, 0.85]);
    assert.equal(m.rows, 5);
    assert.equal(m.positives, 2);
    close(m.roc_auc, 5.5 / 6);
    assert.deepEqual(
      m.at.map((t) => t.threshold),
      [0.5, 0.85],
    );
    assert.deepEqual(m.at[1]!.confusion, { tp: 1, fp: 0, tn: 3, fn: 1 });
  });

  it('draws the ROC and precision–recall curves step by step over the distinct scores, ties as one step', () => {
    assert.deepEqual(rocCurve(thresholdSweep(scores, labels)), { fpr: [0, 0, 1 / 3, 2 / 3, 1], tpr: [0, 0.5, 1, 1, 1], threshold: [null, 0.9, 0.8, 0.3, 0.1] });
    assert.deepEqual(precisionRecallCurve(thresholdSweep(scores, labels)), { recall: [0.5, 1, 1, 1], precision: [1, 2 / 3, 2 / 4, 2 / 5], threshold: [0.9, 0.8, 0.3, 0.1] });
    assert.deepEqual(rocCurve(thresholdSweep([0.2, 0.7], [0, 0])), { fpr: [], tpr: [], threshold: [] }, 'no ROC curve with one class');
    assert.deepEqual(precisionRecallCurve(thresholdSweep([0.2, 0.7], [0, 0])), { recall: [], precision: [], threshold: [] }, 'no precision–recall curve without fraud');
  });

  it('keeps at most the points asked for, spread along the curve with both ends', () => {
    const many = Array.from({ length: 1000 }, (_, i) => i / 1000);
    const truth = many.map((_, i) => (i % 3 === 0 ? 1 : 0));
    const sweep = thresholdSweep(many, truth);
    const roc = rocCurve(sweep, 200);
    assert.equal(roc.fpr.length, 200);
    assert.deepEqual([roc.fpr[0], roc.tpr[0], roc.threshold[0]], [0, 0, null]);
    assert.deepEqual([roc.fpr.at(-1), roc.tpr.at(-1), roc.threshold.at(-1)], [1, 1, 0]);
    for (let i = 1; i < roc.fpr.length; i++) assert.ok(roc.fpr[i]! >= roc.fpr[i - 1]! && roc.tpr[i]! >= roc.tpr[i - 1]!, 'the curve only rises');
    const pr = precisionRecallCurve(sweep, 50);
    assert.equal(pr.recall.length, 50);
    assert.deepEqual([pr.threshold[0], pr.threshold.at(-1)], [0.999, 0]);
    close(pr.precision.at(-1)!, 334 / 1000);
  });

  it('refuses scores and labels of different lengths', () => {
    assert.throws(() => rocAuc([0.1, 0.2], [1]), RangeError);
  });

  it('bins scores for calibration and by class, a score of 1 in the last bin', () => {
    const bins = calibration([0.05, 0.15, 0.12, 0.95, 1, 0.5], [0, 0, 1, 1, 1, 0], 10);
    assert.equal(bins.length, 10);
    assert.deepEqual(bins.map((b) => b.rows), [1, 2, 0, 0, 0, 1, 0, 0, 0, 2]);
    close(bins[1]!.mean_score, 0.135);
    close(bins[1]!.fraud_rate, 0.5);
    close(bins[9]!.mean_score, 0.975);
    assert.equal(bins[9]!.fraud_rate, 1);
    assert.ok(Number.isNaN(bins[2]!.mean_score), 'an empty bin has no mean');
    assert.deepEqual(scoreDistribution([0.05, 0.15, 0.12, 0.95, 1, 0.5], [0, 0, 1, 1, 1, 0], 5), { bins: 5, fraud: [1, 0, 0, 0, 2], legitimate: [2, 0, 1, 0, 0] });
  });

  it('measures score drift as the population stability index', () => {
    close(populationStability([50, 50], [5, 5]), 0);
    close(populationStability([80, 20], [50, 50]), -0.3 * Math.log(0.5 / 0.8) + 0.3 * Math.log(0.5 / 0.2));
    // An empty bin is floored at a share of 1e-4, so the index stays finite.
    close(populationStability([100, 0], [50, 50]), (0.5 - 1) * Math.log(0.5) + (0.5 - 1e-4) * Math.log(0.5 / 1e-4));
    assert.ok(Number.isNaN(populationStability([0, 0], [1, 1])));
  });
});
