import 'reflect-metadata';
import { plainToInstance, Transform } from 'class-transformer';
import { chatPrompt } from '../prompts/chat.prompt.js';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  validateSync,
} from 'class-validator';

export const DEFAULT_MODEL_PATH = 'models/qwen2.5-0.5b-instruct-q4_k_m.gguf';
export const DEFAULT_MODEL_URL =
  'https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_k_m.gguf';
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export const SENTIMENT_BATCHING_MODES = ['deterministic', 'throughput'] as const;
/**
 * Tokens per decode batch. llama.cpp sizes its compute buffer for a batch of logits (0.5B: 75 MiB at
 * 128, 300 at 512) and long prompts leave what they touched resident; prompt speed is the same.
 */
export const DEFAULT_BATCH_SIZE = 128;

// Reads the raw string: implicit conversion would already have turned any non-empty string into true.
const toBoolean = ({ obj, key }: { obj: Record<string, unknown>; key: string }) => {
  const raw = obj[key];
  return raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
};

/** The environment variables Duet reads, with their defaults. Read once at startup. */
export class Environment {
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 8080;

  @IsString()
  @IsNotEmpty()
  HOST: string = '0.0.0.0';

  @IsString()
  @IsNotEmpty()
  MODEL_PATH: string = DEFAULT_MODEL_PATH;

  /** Where the default model is downloaded from when MODEL_PATH is unset and the file is missing. */
  @IsUrl({ require_tld: false, protocols: ['http', 'https'] })
  MODEL_URL: string = DEFAULT_MODEL_URL;

  /** Expected SHA-256 of the download; without it Hugging Face's X-Linked-Etag header is trusted. */
  @IsOptional()
  @Matches(/^[a-fA-F0-9]{64}$/, { message: 'MODEL_SHA256 must be 64 hex digits' })
  MODEL_SHA256?: string;

  /** Defaults to the CPU quota (cgroup cpu.max) or the available cores. */
  @IsOptional()
  @IsInt()
  @Min(1)
  THREADS?: number;

  /** Defaults to two per thread, at most 8 (see AppConfig). */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(64)
  SEQUENCES?: number;

  /** A request still unanswered after this long gets 504 and gives its sequence back. */
  @IsInt()
  @Min(100)
  @Max(600000)
  REQUEST_TIMEOUT_MS: number = 30000;

  @IsInt()
  @Min(32)
  @Max(8192)
  BATCH_SIZE: number = DEFAULT_BATCH_SIZE;

  /** Requests waiting for a sequence; one more is answered 503 at once. */
  @IsInt()
  @Min(0)
  @Max(10000)
  MAX_QUEUE: number = 64;

  @IsInt()
  @Min(1)
  @Max(chatPrompt.maxOutputTokens)
  CHAT_MAX_TOKENS: number = 64;

  @IsInt()
  @Min(1)
  @Max(2000)
  CHAT_MAX_CHARS: number = chatPrompt.output.maxChars;

  @IsInt()
  @Min(1024)
  @Max(64 * 1024 * 1024)
  MAX_BODY_BYTES: number = 1024 * 1024;

  /** Keep each task's evaluated system prompt in its sequences between requests. */
  @Transform(toBoolean)
  @IsBoolean()
  PREFIX_CACHE: boolean = true;

  /** deterministic: each classification decodes alone (bit-exact repeatable); throughput: classifications share decode batches. */
  @IsIn(SENTIMENT_BATCHING_MODES)
  SENTIMENT_BATCHING: (typeof SENTIMENT_BATCHING_MODES)[number] = 'deterministic';

  /** Memory snapshot log line every this many seconds; 0 turns it off. */
  @IsInt()
  @Min(0)
  MEMORY_SNAPSHOT_INTERVAL_S: number = 60;

  /** Readiness ceilings in MiB (0: no ceiling). */
  @IsInt()
  @Min(0)
  READY_MAX_RSS_MB: number = 1100;

  /** As high as the RSS ceiling: anonymous memory is most of RSS here, and swapped-out pages still count. */
  @IsInt()
  @Min(0)
  READY_MAX_ANON_SWAP_MB: number = 1100;

  @IsInt()
  @Min(0)
  READY_MAX_HEAP_MB: number = 256;

  /**
   * Readiness also fails while the queue is full. Behind a load balancer that pulls a replica on it
   * (Kubernetes), a burst would take every replica out at once: there the 503 alone pushes back.
   */
  @Transform(toBoolean)
  @IsBoolean()
  READY_QUEUE_CHECK: boolean = true;

  /** On SIGTERM/SIGINT, in-flight requests get this long to finish before the process exits anyway. */
  @IsInt()
  @Min(0)
  @Max(600000)
  SHUTDOWN_DRAIN_MS: number = 10000;

  /** Comma-separated bearer tokens for /v1/*; empty: the API is open. */
  @IsString()
  API_KEYS: string = '';

  /** Comma-separated bearer tokens for /health/* and /metrics; empty: those stay open. */
  @IsString()
  OPS_API_KEYS: string = '';

  /** Comma-separated origins allowed to call the API from a browser (the chat widget's sites). */
  @IsString()
  CORS_ORIGINS: string = '';

  /** Requests per minute per API key (or per client IP without keys) on /v1/*; 0 turns it off. */
  @IsInt()
  @Min(0)
  RATE_LIMIT_PER_MINUTE: number = 0;

  /**
   * Which X-Forwarded-For entries to believe for the client IP (rate limits) behind a proxy or
   * ingress: `false`, `true` (all: only when nothing else can reach the port), a hop count, or
   * comma-separated proxy addresses or CIDRs.
   */
  @Matches(/^(true|false|\d+|[\da-fA-F.:/]+(\s*,\s*[\da-fA-F.:/]+)*)$/, {
    message: 'TRUST_PROXY must be true, false, a hop count or comma-separated addresses/CIDRs',
  })
  TRUST_PROXY: string = 'false';

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'info';

  /** Log request and response text; off by default so customer text stays out of logs. */
  @Transform(toBoolean)
  @IsBoolean()
  LOG_CONTENT: boolean = false;
}

export class ConfigError extends Error {}

/** Validates the environment; the error names every bad variable and why. */
export function parseEnvironment(env: NodeJS.ProcessEnv): Environment {
  const known = Object.keys(new Environment());
  const provided = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => known.includes(key) && value !== ''),
  );
  const parsed = plainToInstance(Environment, provided, { enableImplicitConversion: true, exposeDefaultValues: true });
  const errors = validateSync(parsed);
  if (errors.length > 0) {
    const reasons = errors.map(
      (e) => `${e.property}=${JSON.stringify(env[e.property])} (${Object.values(e.constraints ?? {}).join('; ')})`,
    );
    throw new ConfigError(`Invalid configuration: ${reasons.join(', ')}`);
  }
  return parsed;
}
