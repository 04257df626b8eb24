import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { RequestSignal } from '../../http/request-signal.js';
import { ExtractDto } from './dto/extract.dto.js';
import { ExtractService } from './extract.service.js';

/** Extract tasks: `/v1/extract/{task}` answers with the task's JSON object. */
@Controller('v1/extract')
export class ExtractController {
  constructor(private readonly extraction: ExtractService) {}

  @Post(':task')
  @HttpCode(200)
  extract(@Param('task') task: string, @Body() body: ExtractDto, @RequestSignal() signal: AbortSignal) {
    return this.extraction.extract(task, body, signal);
  }
}
