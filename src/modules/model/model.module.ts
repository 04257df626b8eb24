import { Global, Module } from '@nestjs/common';
import { InferenceService } from './inference.service.js';
import { ModelService } from './runtime/model.service.js';
import { Scheduler } from './scheduling/scheduler.js';

/** The one shared model. Task modules use InferenceService; only this module touches node-llama-cpp. */
@Global()
@Module({
  providers: [ModelService, Scheduler, InferenceService],
  exports: [ModelService, Scheduler, InferenceService],
})
export class ModelModule {}
