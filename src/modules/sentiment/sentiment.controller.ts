import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { RequestSignal } from '../../common/request-signal.js';
import { ModelService } from '../model/model.service.js';
import { ClassifySentimentBatchDto, ClassifySentimentDto } from './dto/classify-sentiment.dto.js';
import { SentimentService } from './sentiment.service.js';

@Controller('v1/sentiment')
export class SentimentController {
  constructor(
    private readonly sentiment: SentimentService,
    private readonly models: ModelService,
  ) {}

  @Post()
  @HttpCode(200)
  async classify(@Body() body: ClassifySentimentDto, @RequestSignal() signal: AbortSignal) {
    const result = await this.sentiment.classify(body.text, body.labels, signal);
    return {
      label: result.label,
      confidence: result.confidence,
      usage: { promptTokens: result.promptTokens },
      model: this.models.modelName,
    };
  }

  @Post('batch')
  @HttpCode(200)
  async classifyBatch(@Body() body: ClassifySentimentBatchDto, @RequestSignal() signal: AbortSignal) {
    const results = await this.sentiment.classifyBatch(
      body.items.map((item) => item.text),
      body.labels,
      signal,
    );
    return {
      results: results.map((result, i) => ({
        id: body.items[i].id ?? String(i),
        label: result.label,
        confidence: result.confidence,
      })),
      model: this.models.modelName,
    };
  }
}
