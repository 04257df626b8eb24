import { Global, Module } from '@nestjs/common';
import { InferenceService } from './inference.service.js';
import { ModelService } from './model.service.js';

/** The one shared model. Task modules use InferenceService; only this module touches node-llama-cpp. */
@Global()
@Module({
  providers: [ModelService, InferenceService],
  exports: [ModelService, InferenceService],
})
export class ModelModule {}
