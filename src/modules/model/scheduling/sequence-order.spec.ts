import type { BatchItem, EvaluationPriority, Token } from 'node-llama-cpp';
import { sequenceOrderStrategy, sequencePriority } from './sequence-order.js';

const item = (tokens: number, order: number): BatchItem => ({
  tokens: Array<Token>(tokens).fill(1 as Token),
  logits: [],
  evaluationPriority: sequencePriority(order),
});

const shape = (items: readonly BatchItem[], size: number) =>
  sequenceOrderStrategy({ items, size }).map(({ item: chosen, processAmount }) => [
    items.indexOf(chosen),
    processAmount,
  ]);

describe('sequenceOrderStrategy', () => {
  it('puts sequences in id order whatever order their evaluations arrived in', () => {
    const arrived = [item(1, 2), item(1, 0), item(1, 3), item(1, 1)];
    expect(shape(arrived, 128)).toEqual([
      [1, 1],
      [3, 1],
      [0, 1],
      [2, 1],
    ]);
  });

  it('keeps arrival order past the fifth sequence, where priorities run out', () => {
    expect([4, 5, 9].map(sequencePriority)).toEqual<EvaluationPriority[]>([1, 1, 1]);
    expect(shape([item(1, 7), item(1, 5), item(1, 0)], 128)).toEqual([
      [2, 1],
      [0, 1],
      [1, 1],
    ]);
  });

  it('gives each sequence an equal share of a full batch and leaves an uneven remainder out', () => {
    expect(shape([item(66, 0), item(66, 1), item(66, 2)], 128)).toEqual([
      [0, 42],
      [1, 42],
      [2, 42],
    ]);
  });

  it('shares what a short item leaves among the others', () => {
    expect(shape([item(10, 0), item(100, 1), item(100, 2)], 128)).toEqual([
      [0, 10],
      [1, 59],
      [2, 59],
    ]);
  });

  it('takes as many one-token items as fit when there are more than tokens', () => {
    const many = Array.from({ length: 6 }, (_, i) => item(1, i));
    expect(shape(many, 4)).toHaveLength(4);
  });
});
