import { CLASSIFIER_SYSTEM_PROMPT, classifyPrompt, classifyQuestion, MESSAGE_LEAD, QUESTION_LEAD } from './layouts.js';
import type { ClassifyLayout, ClassifyTask } from './task-definitions.js';

const task = (labels: ClassifyTask['labels'], layout: ClassifyLayout = 'text-first'): ClassifyTask => ({
  name: 't',
  kind: 'classify',
  instruction: 'Which team?',
  labels,
  layout,
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

describe('classifyPrompt', () => {
  const labels = [{ name: 'billing', description: 'charges, refunds' }, { name: 'shipping' }];

  it('asks a text-first task after the shared start and the text, with the allowed labels', () => {
    expect(classifyPrompt(task(labels), labels.slice(1))).toEqual({
      system: CLASSIFIER_SYSTEM_PROMPT,
      lead: MESSAGE_LEAD,
      trail: QUESTION_LEAD,
      prompt: ' Which team?\nLabels: shipping',
      ownText: false,
    });
  });

  it('puts a question-first task in its own system turn with every label, the text alone after it', () => {
    const prompt = classifyPrompt(task(labels, 'question-first'), labels.slice(1));
    expect(prompt).toEqual({ system: expect.any(String), lead: '', trail: '', prompt: '', ownText: true });
    expect(prompt.system).toContain(' Which team? ');
    // A label subset must not change the cached system turn: scoring is restricted instead.
    expect(prompt.system.endsWith('\nLabels:\n- billing: charges, refunds\n- shipping')).toBe(true);
    expect(prompt.system).toBe(classifyPrompt(task(labels, 'question-first'), labels).system);
  });
});
