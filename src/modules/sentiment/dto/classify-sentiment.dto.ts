import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { SENTIMENT_LABELS, SentimentLabel } from '../../../prompts/sentiment.prompt.js';

export const MAX_BATCH_ITEMS = 64;
/** Characters; the token budget is the real limit (413), this only stops absurd bodies early. */
const MAX_TEXT_CHARS = 20_000;

/** Restricts the answer to a subset of the sentiment labels, e.g. ["positive","negative"] for binary. */
export class LabelSubsetDto {
  // Optional, but not null: IsOptional would let null through to the service (a 500).
  @ValidateIf((_dto, labels) => labels !== undefined)
  @IsArray()
  @ArrayMinSize(2, { message: 'labels must list at least 2 labels' })
  @ArrayMaxSize(SENTIMENT_LABELS.length)
  @ArrayUnique({ message: 'labels must not repeat' })
  @IsIn(SENTIMENT_LABELS, { each: true, message: `each label must be one of: ${SENTIMENT_LABELS.join(', ')}` })
  labels?: SentimentLabel[];
}

export class ClassifySentimentDto extends LabelSubsetDto {
  @IsString()
  @Matches(/\S/u, { message: 'text must not be empty or only whitespace' })
  @MaxLength(MAX_TEXT_CHARS)
  text: string;
}

export class SentimentBatchItemDto {
  @IsOptional()
  @IsString()
  @MaxLength(200)
  id?: string;

  @IsString()
  @Matches(/\S/u, { message: 'text must not be empty or only whitespace' })
  @MaxLength(MAX_TEXT_CHARS)
  text: string;
}

export class ClassifySentimentBatchDto extends LabelSubsetDto {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BATCH_ITEMS)
  @ValidateNested({ each: true })
  @Type(() => SentimentBatchItemDto)
  items: SentimentBatchItemDto[];
}
