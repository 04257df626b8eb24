import { LabelContract, PromptModule } from './prompt-module.js';

export const SENTIMENT_LABELS = ['positive', 'negative', 'neutral'] as const;
export type SentimentLabel = (typeof SENTIMENT_LABELS)[number];

export interface SentimentInput {
  text: string;
  labels: readonly SentimentLabel[];
}

export const sentimentPrompt: PromptModule<SentimentInput, LabelContract> = {
  name: 'sentiment',
  // Room for the longest review in the dev sets (797 tokens) plus the template.
  maxInputTokens: 1024,
  maxOutputTokens: 4,
  output: { kind: 'labels', labels: SENTIMENT_LABELS },
  buildTurns: ({ text, labels }) => [
    {
      role: 'system',
      content:
        'You classify the sentiment of customer messages, written in English or Chinese. ' +
        `Answer with exactly one word: ${labels.join(', ')}.`,
    },
    { role: 'user', content: text },
  ],
};
