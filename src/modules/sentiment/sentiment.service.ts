import { Injectable } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service.js';
import type { Prompt } from '../model/chatml.js';
import { InferenceService } from '../model/inference.service.js';
import { SENTIMENT_LABELS, SentimentLabel, sentimentPrompt } from '../../prompts/sentiment.prompt.js';

export interface SentimentResult {
  label: SentimentLabel;
  confidence: number;
  promptTokens: number;
}

@Injectable()
export class SentimentService {
  constructor(
    private readonly inference: InferenceService,
    private readonly metrics: MetricsService,
  ) {}

  /** A request that could not run now (503) is refused before its text is tokenized. */
  async classify(
    text: string,
    labels: readonly SentimentLabel[] = SENTIMENT_LABELS,
    signal?: AbortSignal,
  ): Promise<SentimentResult> {
    this.inference.admit();
    const [result] = await this.evaluate([this.prepare(text, labels)], labels, signal);
    return result;
  }

  /**
   * Every prompt is checked against the budget before any is evaluated, so a bad item costs no
   * compute; a request that could not run now (503) is refused before any item is tokenized.
   */
  async classifyBatch(
    texts: readonly string[],
    labels: readonly SentimentLabel[] = SENTIMENT_LABELS,
    signal?: AbortSignal,
  ): Promise<SentimentResult[]> {
    this.inference.admit();
    return this.evaluate(
      texts.map((text, item) => this.prepare(text, labels, item)),
      labels,
      signal,
    );
  }

  private prepare(text: string, labels: readonly SentimentLabel[], item?: number): Prompt {
    const turns = sentimentPrompt.buildTurns({ text, labels });
    return this.inference.renderPromptWithin(sentimentPrompt, turns, item);
  }

  private async evaluate(
    prompts: readonly Prompt[],
    labels: readonly SentimentLabel[],
    signal?: AbortSignal,
  ): Promise<SentimentResult[]> {
    const classifications = await this.inference.classify(prompts, labels, signal);
    return classifications.map(({ label, confidence }, item) => {
      const promptTokens = prompts[item].tokens.length;
      this.metrics.countTokens(sentimentPrompt.name, 'prompt', promptTokens);
      return { label: label as SentimentLabel, confidence, promptTokens };
    });
  }
}
