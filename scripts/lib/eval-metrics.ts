/** One labelled example's outcome: the gold label and the answer (null when abstained). */
export interface Outcome {
  gold: string;
  predicted: string | null;
  ms: number;
}

export interface EvalReport {
  examples: number;
  /** Correct answers over all examples (an abstention is not correct). */
  accuracy: number;
  /** Correct answers over the examples answered. */
  answeredAccuracy: number | null;
  /** Unweighted mean of per-label F1 over the task's labels (abstentions count as misses). */
  macroF1: number;
  abstainRate: number;
  p50Ms: number;
  perLabel: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  /** confusion[gold][predicted]; predicted "(abstained)" for abstentions. */
  confusion: Record<string, Record<string, number>>;
}

export const ABSTAINED = '(abstained)';

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function evaluate(outcomes: readonly Outcome[], labels: readonly string[]): EvalReport {
  const confusion = Object.fromEntries(
    labels.map((gold) => [gold, Object.fromEntries([...labels, ABSTAINED].map((predicted) => [predicted, 0]))]),
  );
  for (const { gold, predicted } of outcomes) confusion[gold][predicted ?? ABSTAINED]++;
  const perLabel = Object.fromEntries(
    labels.map((label) => {
      const truePositives = confusion[label][label];
      const predictedAs = labels.reduce((total, gold) => total + confusion[gold][label], 0);
      const support = Object.values(confusion[label]).reduce((a, b) => a + b, 0);
      const precision = ratio(truePositives, predictedAs);
      const recall = ratio(truePositives, support);
      return [label, { precision, recall, f1: ratio(2 * precision * recall, precision + recall), support }];
    }),
  );
  const correct = outcomes.filter((o) => o.predicted === o.gold).length;
  const answered = outcomes.filter((o) => o.predicted !== null).length;
  return {
    examples: outcomes.length,
    accuracy: ratio(correct, outcomes.length),
    answeredAccuracy: answered === 0 ? null : correct / answered,
    macroF1: ratio(
      Object.values(perLabel).reduce((total, label) => total + label.f1, 0),
      labels.length,
    ),
    abstainRate: ratio(outcomes.length - answered, outcomes.length),
    p50Ms: median(outcomes.map((o) => o.ms)),
    perLabel,
    confusion,
  };
}

/** The confusion matrix as an aligned text table: gold labels down, answers across. */
export function confusionTable(confusion: EvalReport['confusion']): string {
  const golds = Object.keys(confusion);
  const columns = golds.length ? Object.keys(confusion[golds[0]]) : [];
  const width = Math.max(8, ...[...golds, ...columns].map((label) => label.length)) + 2;
  const row = (cells: readonly (string | number)[]) => cells.map((cell) => String(cell).padStart(width)).join('');
  return [
    row(['gold \\ answer', ...columns]),
    ...golds.map((gold) => row([gold, ...columns.map((c) => confusion[gold][c])])),
  ].join('\n');
}
