import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { RequestSignal } from '../../http/request-signal.js';
import { ClassifyService } from './classify.service.js';
import { ClassifyBatchDto, ClassifyDto, TriageBatchDto, TriageDto } from './dto/classify.dto.js';
import { TasksService } from './tasks.service.js';

const SENTIMENT = 'sentiment';

/** Classification routes over the tasks file's classify tasks. */
@Controller('v1')
export class ClassifyController {
  constructor(
    private readonly classifier: ClassifyService,
    private readonly tasks: TasksService,
  ) {}

  @Get('tasks')
  list() {
    return this.tasks.describe();
  }

  @Post('classify/:task')
  @HttpCode(200)
  classify(@Param('task') task: string, @Body() body: ClassifyDto, @RequestSignal() signal: AbortSignal) {
    return this.classifier.classify(task, body, signal);
  }

  @Post('classify/:task/batch')
  @HttpCode(200)
  classifyBatch(@Param('task') task: string, @Body() body: ClassifyBatchDto, @RequestSignal() signal: AbortSignal) {
    return this.classifier.classifyBatch(task, body, signal);
  }

  /** The built-in sentiment task under its original route. */
  @Post('sentiment')
  @HttpCode(200)
  sentiment(@Body() body: ClassifyDto, @RequestSignal() signal: AbortSignal) {
    return this.classifier.classify(SENTIMENT, body, signal);
  }

  @Post('sentiment/batch')
  @HttpCode(200)
  sentimentBatch(@Body() body: ClassifyBatchDto, @RequestSignal() signal: AbortSignal) {
    return this.classifier.classifyBatch(SENTIMENT, body, signal);
  }

  @Post('triage')
  @HttpCode(200)
  triage(@Body() body: TriageDto, @RequestSignal() signal: AbortSignal) {
    return this.classifier.triage(body, signal);
  }

  @Post('triage/batch')
  @HttpCode(200)
  triageBatch(@Body() body: TriageBatchDto, @RequestSignal() signal: AbortSignal) {
    return this.classifier.triageBatch(body, signal);
  }
}
