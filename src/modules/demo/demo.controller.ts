import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import { DEMO_PAGE } from './demo-page.js';

@SkipThrottle()
@ApiExcludeController()
@Controller()
export class DemoController {
  /** The demo chat widget. */
  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  page(): string {
    return DEMO_PAGE;
  }
}
