import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller.js';
import { MemoryHealthIndicator } from './memory.health.js';
import { MemorySnapshotService } from './memory-snapshot.service.js';
import { ModelHealthIndicator } from './model.health.js';

@Module({
  // The failed check is already in the 503 body; terminus' own multi-line error log would only repeat it.
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [ModelHealthIndicator, MemoryHealthIndicator, MemorySnapshotService],
})
export class HealthModule {}
