import { ABSTAINED, confusionTable, evaluate, median } from './eval-metrics.js';

const outcome = (gold: string, predicted: string | null, ms = 10) => ({ gold, predicted, ms });

describe('eval metrics', () => {
  const labels = ['urgent', 'normal', 'low'];
  const outcomes = [
    outcome('urgent', 'urgent', 10),
    outcome('urgent', 'normal', 20),
    outcome('normal', 'normal', 30),
    outcome('normal', null, 40),
    outcome('low', 'low', 50),
    outcome('low', 'urgent', 60),
  ];
  const report = evaluate(outcomes, labels);

  it('counts accuracy over all examples and over the answered ones', () => {
    expect(report.examples).toBe(6);
    expect(report.accuracy).toBeCloseTo(3 / 6);
    expect(report.answeredAccuracy).toBeCloseTo(3 / 5);
    expect(report.abstainRate).toBeCloseTo(1 / 6);
  });

  it('fills the confusion matrix with gold labels down and answers across, abstentions in their own column', () => {
    expect(report.confusion.urgent).toEqual({ urgent: 1, normal: 1, low: 0, [ABSTAINED]: 0 });
    expect(report.confusion.normal).toEqual({ urgent: 0, normal: 1, low: 0, [ABSTAINED]: 1 });
    expect(report.confusion.low).toEqual({ urgent: 1, normal: 0, low: 1, [ABSTAINED]: 0 });
  });

  it('computes per-label precision, recall and F1, and their unweighted mean', () => {
    // urgent: predicted twice (1 right), 2 gold; normal: predicted twice (1 right), 2 gold; low: 1 of 1, 2 gold.
    expect(report.perLabel.urgent).toMatchObject({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(report.perLabel.low).toMatchObject({ precision: 1, recall: 0.5, support: 2 });
    expect(report.perLabel.low.f1).toBeCloseTo(2 / 3);
    expect(report.macroF1).toBeCloseTo((0.5 + 0.5 + 2 / 3) / 3);
  });

  it('takes the median latency, averaging the middle two of an even count', () => {
    expect(report.p50Ms).toBe(35);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([])).toBe(0);
  });

  it('gives a label never predicted a precision of 0, not NaN', () => {
    const none = evaluate([outcome('urgent', 'normal')], labels);
    expect(none.perLabel.urgent).toMatchObject({ precision: 0, recall: 0, f1: 0 });
    expect(none.answeredAccuracy).toBe(0);
    expect(evaluate([outcome('urgent', null)], labels).answeredAccuracy).toBeNull();
  });

  it('prints the matrix as aligned rows', () => {
    const lines = confusionTable(report.confusion).split('\n');
    expect(lines).toHaveLength(4);
    expect(new Set(lines.map((line) => line.length)).size).toBe(1);
    expect(lines[1]).toMatch(/urgent\s+1\s+1\s+0\s+0$/);
  });
});
