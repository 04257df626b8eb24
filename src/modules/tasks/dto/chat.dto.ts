import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  MaxLength,
  Min,
  ValidateBy,
  ValidateNested,
  ValidationOptions,
} from 'class-validator';
import { NotBlank } from '../../../http/not-blank.decorator.js';

export const CHAT_ROLES = ['user', 'assistant'] as const;

export class ChatMessageDto {
  @IsIn(CHAT_ROLES, { message: `role must be one of: ${CHAT_ROLES.join(', ')}` })
  role: (typeof CHAT_ROLES)[number];

  @IsString()
  @NotBlank()
  @MaxLength(8000)
  content: string;
}

/** A reply answers the user: the conversation must end with a user message. */
export const lastMessageFromUser = (messages: unknown): boolean =>
  Array.isArray(messages) && (messages[messages.length - 1] as { role?: unknown } | undefined)?.role === 'user';

function LastMessageFromUser(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'lastMessageFromUser',
      validator: {
        validate: lastMessageFromUser,
        defaultMessage: () => 'the last message must be from the user',
      },
    },
    options,
  );
}

export class ChatDto {
  /** Recent history, oldest first; the server keeps none between requests. */
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => ChatMessageDto)
  @LastMessageFromUser()
  messages: ChatMessageDto[];

  /** At most the task's maxChars (the default). */
  @IsOptional()
  @IsInt()
  @Min(1)
  maxChars?: number;

  /** Answer as Server-Sent Events: one `delta` event per piece of text, then `done`. */
  @IsOptional()
  @IsBoolean()
  stream?: boolean;
}
