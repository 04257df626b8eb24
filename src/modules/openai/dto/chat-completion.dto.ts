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
  IsObject,
  IsOptional,
  IsString,
  Min,
  ValidateBy,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { IgnoresUnknownFields } from '../../../http/validation.pipe.js';

const MAX_CONTENT_CHARS = 8000;
export const OPENAI_ROLES = ['system', 'developer', 'user', 'assistant'] as const;

/** A content part as clients send it: only text parts can be read by a text model. */
interface ContentPart {
  type?: unknown;
  text?: unknown;
}

const isTextPart = (part: unknown): part is { type: 'text'; text: string } =>
  typeof part === 'object' &&
  part !== null &&
  (part as ContentPart).type === 'text' &&
  typeof (part as ContentPart).text === 'string';

/** The text of a message's content: a string, or its text parts joined by newlines. */
export const contentText = (content: string | readonly { text: string }[]): string =>
  typeof content === 'string' ? content : content.map((part) => part.text).join('\n');

function contentProblem(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    const other = value.find((part) => !isTextPart(part)) as ContentPart | undefined;
    if (other !== undefined) {
      const type = typeof other?.type === 'string' ? `"${other.type.slice(0, 40)}" parts are` : 'that part is';
      return `content parts must be {"type":"text","text":string}; ${type} not supported`;
    }
    if (value.length === 0) return 'content must have at least one text part';
  } else if (typeof value !== 'string') {
    return 'content must be a string or an array of text parts';
  }
  const text = contentText(value as string | { text: string }[]);
  if (!/\S/u.test(text)) return 'content must not be empty or only whitespace';
  if (text.length > MAX_CONTENT_CHARS) return `content must be at most ${MAX_CONTENT_CHARS} characters`;
  return undefined;
}

export class OpenAiMessageDto {
  /** `developer` is OpenAI's newer name for `system`; tool messages need tools, which Duet does not run. */
  @IsIn(OPENAI_ROLES, {
    message: `role must be one of: ${OPENAI_ROLES.join(', ')} (tool messages are not supported: Duet does not call tools)`,
  })
  role: (typeof OPENAI_ROLES)[number];

  @ValidateBy({
    name: 'messageContent',
    validator: {
      validate: (value) => contentProblem(value) === undefined,
      defaultMessage: (args) => contentProblem(args?.value) ?? 'content is invalid',
    },
  })
  content: string | { type: 'text'; text: string }[];

  /** Accepted and ignored: the model sees no participant names. */
  @IsOptional()
  @IsString()
  name?: string;
}

export class StreamOptionsDto {
  @IsOptional()
  @IsBoolean()
  include_usage?: boolean;
}

export class JsonSchemaFormatDto {
  /** Accepted and ignored (OpenAI requires it; Duet has no use for it). */
  @IsOptional()
  @IsString()
  name?: string;

  @IsObject()
  schema: Record<string, unknown>;

  /** Accepted and ignored: a schema is always enforced (refused if it cannot be). */
  @IsOptional()
  @IsBoolean()
  strict?: boolean;
}

export const RESPONSE_FORMATS = ['text', 'json_object', 'json_schema'] as const;

export class ResponseFormatDto {
  @IsIn(RESPONSE_FORMATS, { message: `response_format.type must be one of: ${RESPONSE_FORMATS.join(', ')}` })
  type: (typeof RESPONSE_FORMATS)[number];

  /** Required with type json_schema. */
  @ValidateIf((format: ResponseFormatDto) => format.type === 'json_schema')
  @ValidateNested()
  @Type(() => JsonSchemaFormatDto)
  json_schema?: JsonSchemaFormatDto;
}

/** OpenAI allows up to 4 stop sequences. */
const MAX_STOP = 4;

function stopProblem(value: unknown): string | undefined {
  const stops = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(stops) || stops.some((stop) => typeof stop !== 'string'))
    return 'stop must be a string or an array of strings';
  if (stops.length > MAX_STOP) return `stop must have at most ${MAX_STOP} strings`;
  if (stops.some((stop: string) => stop.length === 0 || stop.length > 200))
    return 'each stop string must have 1 to 200 characters';
  return undefined;
}

/**
 * OpenAI's chat completion request. Fields Duet does not serve are either refused here or in
 * OpenAiService (n > 1, tools), or accepted and ignored: this route ignores unknown fields, as
 * clients send whatever their version of the API defines.
 */
@IgnoresUnknownFields()
export class ChatCompletionDto {
  /** A chat task's name; any other name gets the default chat task. */
  @IsOptional()
  @IsString()
  model?: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => OpenAiMessageDto)
  messages: OpenAiMessageDto[];

  /** Capped at the task's maxTokens. */
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
  @Equals(1, { message: 'n must be 1 (one choice per request)' })
  n?: number;

  /** Generation ends before the first of these strings. */
  @IsOptional()
  @ValidateBy({
    name: 'stopStrings',
    validator: {
      validate: (value) => stopProblem(value) === undefined,
      defaultMessage: (args) => stopProblem(args?.value) ?? 'stop is invalid',
    },
  })
  stop?: string | string[];

  /** json_object and json_schema: the answer is held to JSON (to the schema) by a grammar. */
  @IsOptional()
  @ValidateNested()
  @Type(() => ResponseFormatDto)
  response_format?: ResponseFormatDto;

  /**
   * Refused when true (OpenAiService): a probability map per token costs 2.5x the decoding time
   * (node-llama-cpp hands over the whole 151,936-token vocabulary at every step).
   */
  @IsOptional()
  @IsBoolean()
  logprobs?: boolean;

  /** Refused when set, as logprobs. */
  @Allow()
  top_logprobs?: unknown;

  /** Refused unless empty or tool_choice is `none` (OpenAiService): Duet does not call tools. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(128) // OpenAI's own limit
  tools?: unknown[];

  @Allow()
  tool_choice?: unknown;
}
