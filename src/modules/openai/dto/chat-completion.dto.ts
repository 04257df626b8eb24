import { Type } from 'class-transformer';
import {
  Allow,
  ArrayMaxSize,
  ArrayMinSize,
  Equals,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { NotBlank } from '../../../common/not-blank.decorator.js';

export class OpenAiMessageDto {
  /** `system` messages are accepted and dropped: the chat task's own system prompt applies. */
  @IsIn(['system', 'user', 'assistant'], { message: 'role must be one of: system, user, assistant' })
  role: 'system' | 'user' | 'assistant';

  @IsString({ message: 'content must be a string (content parts are not supported)' })
  @NotBlank()
  @MaxLength(8000)
  content: string;
}

export class StreamOptionsDto {
  @IsOptional()
  @IsBoolean()
  include_usage?: boolean;
}

/** The subset of OpenAI's chat completion request Duet serves. */
export class ChatCompletionDto {
  /** Any name is accepted; the response names the model actually loaded. */
  @IsOptional()
  @IsString()
  model?: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => OpenAiMessageDto)
  messages: OpenAiMessageDto[];

  /** Capped at CHAT_MAX_TOKENS. */
  @IsOptional()
  @IsInt()
  @Min(1)
  max_tokens?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  max_completion_tokens?: number;

  @IsOptional()
  @IsBoolean()
  stream?: boolean;

  @IsOptional()
  @ValidateNested()
  @Type(() => StreamOptionsDto)
  stream_options?: StreamOptionsDto;

  /** Only one choice is ever generated. */
  @IsOptional()
  @Equals(1, { message: 'n must be 1' })
  n?: number;

  // Sampling and bookkeeping fields clients send by default: accepted and ignored (decoding is greedy).
  @Allow() temperature?: unknown;
  @Allow() top_p?: unknown;
  @Allow() presence_penalty?: unknown;
  @Allow() frequency_penalty?: unknown;
  @Allow() seed?: unknown;
  @Allow() stop?: unknown;
  @Allow() user?: unknown;
}
