import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';
import { getMetadataStorage } from 'class-validator';
import { ChatCompletionDto } from '../modules/openai/dto/chat-completion.dto.js';
import { ChatDto } from '../modules/tasks/dto/chat.dto.js';
import { ClassifyBatchDto, ClassifyDto, TriageBatchDto, TriageDto } from '../modules/tasks/dto/classify.dto.js';

describe('request DTOs', () => {
  it('every array a request DTO takes has a maximum size, so the pipe refuses oversize ones unread', () => {
    const storage = getMetadataStorage();
    const unbounded: string[] = [];
    const visit = (dto: Parameters<typeof storage.getTargetValidationMetadatas>[0]) => {
      const byProperty = storage.groupByPropertyName(storage.getTargetValidationMetadatas(dto, '', true, false));
      for (const [property, metadatas] of Object.entries(byProperty)) {
        const names = metadatas.map((m) => m.name);
        if (names.includes('isArray') && !names.includes('arrayMaxSize')) unbounded.push(`${dto.name}.${property}`);
        const nested = defaultMetadataStorage.findTypeMetadata(dto, property)?.typeFunction();
        if (nested) visit(nested);
      }
    };
    [ClassifyDto, ClassifyBatchDto, TriageDto, TriageBatchDto, ChatDto, ChatCompletionDto].forEach(visit);
    expect(unbounded).toEqual([]);
  });
});
