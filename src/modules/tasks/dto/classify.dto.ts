import { applyDecorators } from '@nestjs/common';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsNumber,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { NotBlank } from '../../../http/not-blank.decorator.js';
import { Optional } from '../../../http/optional.decorator.js';

export const MAX_BATCH_ITEMS = 64;
/** Characters; the token budget is the real limit (413), this only stops absurd bodies early. */
export const MAX_TEXT_CHARS = 20_000;
const MAX_LABELS = 20;
const MAX_TASKS = 64;

/** A text to classify: not empty, not only white space. */
export const TextField = () => applyDecorators(IsString(), NotBlank(), MaxLength(MAX_TEXT_CHARS));

/** 1..64 texts, each with an optional id. */
const BatchItems = () =>
  applyDecorators(
    IsArray(),
    ArrayMinSize(1),
    ArrayMaxSize(MAX_BATCH_ITEMS),
    ValidateNested({ each: true }),
    Type(() => BatchItemDto),
  );

export class BatchItemDto {
  @Optional()
  @IsString()
  @MaxLength(200)
  id?: string;

  @TextField()
  text: string;
}

/** Restricts the answer to some of the task's labels, e.g. ["positive","negative"] for binary. */
export class LabelOptionsDto {
  @Optional()
  @IsArray()
  @ArrayMinSize(2, { message: 'labels must list at least 2 labels' })
  @ArrayMaxSize(MAX_LABELS)
  @ArrayUnique({ message: 'labels must not repeat' })
  @IsString({ each: true })
  labels?: string[];

  /** Below it the answer is abstained (label null); overrides the task's minConfidence. */
  @Optional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  minConfidence?: number;
}

export class ClassifyDto extends LabelOptionsDto {
  @TextField()
  text: string;
}

export class ClassifyBatchDto extends LabelOptionsDto {
  @BatchItems()
  items: BatchItemDto[];
}

/** The classify tasks to answer; default every one. */
export class TriageOptionsDto {
  @Optional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_TASKS)
  @ArrayUnique({ message: 'tasks must not repeat' })
  @IsString({ each: true })
  tasks?: string[];
}

export class TriageDto extends TriageOptionsDto {
  @TextField()
  text: string;
}

export class TriageBatchDto extends TriageOptionsDto {
  @BatchItems()
  items: BatchItemDto[];
}
