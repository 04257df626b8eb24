import { classifyQuestion } from './layouts.js';
import type { ClassifyTask } from './task-definitions.js';

const task = (labels: ClassifyTask['labels']): ClassifyTask => ({
  name: 't',
  kind: 'classify',
  instruction: 'Which team?',
  labels,
  maxInputTokens: 1024,
  class: 'batch',
});

describe('classifyQuestion', () => {
  it('puts plain labels on one line, in the allowed order', () => {
    const labels = [{ name: 'billing' }, { name: 'bill dispute' }, { name: '物流' }];
    expect(classifyQuestion(task(labels), labels)).toBe(' Which team?\nLabels: billing, bill dispute, 物流');
  });

  it('lists the labels one per line when any carries a description', () => {
    const labels = [{ name: 'urgent', description: 'service down' }, { name: 'low' }];
    expect(classifyQuestion(task(labels), labels)).toBe(' Which team?\nLabels:\n- urgent: service down\n- low');
  });

  it('lists the labels when a name holds a comma, so the line cannot be misread', () => {
    const labels = [{ name: 'yes, now' }, { name: 'later' }];
    expect(classifyQuestion(task(labels), labels)).toBe(' Which team?\nLabels:\n- yes, now\n- later');
  });

  it('shows only the labels allowed for the request', () => {
    const labels = [{ name: 'positive' }, { name: 'negative' }, { name: 'neutral' }];
    expect(classifyQuestion(task(labels), labels.slice(0, 2))).toBe(' Which team?\nLabels: positive, negative');
  });
});
