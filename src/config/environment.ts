import 'reflect-metadata';
import { applyDecorators } from '@nestjs/common';
import { plainToInstance, Transform } from 'class-transformer';
import { isIP } from 'node:net';
import { MAX_OUTPUT_TOKENS } from '../prompts/task-definitions.js';
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
  ValidateBy,
  validateSync,
} from 'class-validator';

export const DEFAULT_MODEL_PATH = 'models/qwen2.5-0.5b-instruct-q4_k_m.gguf';
export const DEFAULT_MODEL_URL =
  'https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_k_m.gguf';
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export const CLIENT_SYSTEM_MESSAGE_MODES = ['append', 'replace', 'ignore'] as const;
export const SENTIMENT_BATCHING_MODES = ['deterministic', 'throughput'] as const;
/**
 * Tokens per decode batch. llama.cpp sizes its compute buffer for a batch of logits, and long
 * prompts leave what they touched resident; prompt speed is the same (docs/benchmark-runs.md#measurements-behind-constants).
 */
export const DEFAULT_BATCH_SIZE = 128;

/** A timeout in milliseconds, from a tenth of a second to ten minutes. */
const TimeoutMs = () => applyDecorators(IsInt(), Min(100), Max(600000));

// Reads the raw string: implicit conversion would already have turned any non-empty string into true.
const toBoolean = ({ obj, key }: { obj: Record<string, unknown>; key: string }) => {
  const raw = obj[key];
  return raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
};

/** Fastify's trustProxy: trust no proxy, every proxy, the nearest so many hops, or proxies at these addresses. */
export type TrustProxy = boolean | number | string[];

/** proxy-addr's names for the loopback, link-local and unique-local (private) ranges. */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

const isProxyAddress = (entry: string) => {
  if (PROXY_RANGE_NAMES.includes(entry)) return true;
  const [address, prefixLength, ...rest] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  return (
    prefixLength === undefined || (/^\d{1,3}$/.test(prefixLength) && Number(prefixLength) <= (version === 4 ? 32 : 128))
  );
};

/** TRUST_PROXY as Fastify's trustProxy option; undefined when it is none of the documented forms. */
export function parseTrustProxy(raw: string): TrustProxy | undefined {
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (/^\d+$/.test(raw)) return Number(raw) >= 1 ? Number(raw) : undefined;
  const entries = raw.split(',').map((entry) => entry.trim());
  return entries.every(isProxyAddress) ? entries : undefined;
}

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

  /** Expected SHA-256 of the download; without it the X-Linked-Etag of the origin's own https response is trusted. */
  @IsOptional()
  @Matches(/^[a-fA-F0-9]{64}$/, { message: 'MODEL_SHA256 must be 64 hex digits' })
  MODEL_SHA256?: string;

  /** Lets MODEL_URL be plain http (a mirror on a trusted network; MODEL_SHA256 then required). https never redirects to http. */
  @Transform(toBoolean)
  @IsBoolean()
  MODEL_ALLOW_HTTP: boolean = false;

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

  /** A request's deadline: work not started by then is dropped; started work past it gets a grace (see WorkSignal), then 504. */
  @IsInt()
  @Min(100)
  @Max(600000)
  REQUEST_TIMEOUT_MS: number = 30000;

  /**
   * A request's line and headers must arrive within this long of its first byte (of the connection
   * opening, for its first request); else 408 and the connection is closed.
   */
  @TimeoutMs()
  HEADERS_TIMEOUT_MS: number = 10000;

  /**
   * The whole request must arrive within HEADERS_TIMEOUT_MS plus this of its first byte, so a body
   * gets at least this long after headers sent in time; else 408 and the connection is closed.
   */
  @TimeoutMs()
  BODY_TIMEOUT_MS: number = 30000;

  /**
   * An idle kept-alive connection is closed this long (plus Node's 1 s grace) after its last
   * response; above the 60 s idle timeout common in load balancers, so they close first.
   */
  @TimeoutMs()
  KEEP_ALIVE_TIMEOUT_MS: number = 72000;

  /**
   * A request answered before its body arrived (413, 401, 415) has up to this many more body bytes
   * read and discarded, so that a client still sending it can read the answer; one more byte and
   * the connection is destroyed.
   */
  @IsInt()
  @Min(0)
  @Max(1024 * 1024 * 1024)
  UNREAD_BODY_MAX_BYTES: number = 32 * 1024 * 1024;

  /**
   * How long after such an answer the rest of its body is read and discarded, at most (and never
   * longer than BODY_TIMEOUT_MS); then the connection is destroyed.
   */
  @TimeoutMs()
  UNREAD_BODY_MAX_MS: number = 5000;

  @IsInt()
  @Min(32)
  @Max(8192)
  BATCH_SIZE: number = DEFAULT_BATCH_SIZE;

  /** Requests waiting for a sequence; one more is answered 503 at once. */
  @IsInt()
  @Min(0)
  @Max(10000)
  MAX_QUEUE: number = 64;

  /** A YAML tasks file adding tasks to the built-in ones (or redefining them by name). */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  TASKS_FILE?: string;

  /** What the OpenAI route does with a client's system messages: append them to the task's persona, replace it, or ignore them. */
  @IsIn(CLIENT_SYSTEM_MESSAGE_MODES)
  CLIENT_SYSTEM_MESSAGES: (typeof CLIENT_SYSTEM_MESSAGE_MODES)[number] = 'append';

  /** Overrides the `chat` task's reply cap in tokens when set. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_OUTPUT_TOKENS)
  CHAT_MAX_TOKENS?: number;

  /** Overrides the `chat` task's reply cap in characters when set. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(2000)
  CHAT_MAX_CHARS?: number;

  /** Token cap of a JSON answer (response_format json_object / json_schema): its own, not the chat task's. */
  @IsInt()
  @Min(1)
  @Max(MAX_OUTPUT_TOKENS)
  STRUCTURED_MAX_TOKENS: number = MAX_OUTPUT_TOKENS;

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

  /**
   * Throughput mode: how long a single classification may wait for others to share its first
   * decode batch, never past its request's deadline. Waited only while company is expected (see
   * RoundGatherer), so a lone client does not wait; 0 never waits.
   */
  @IsInt()
  @Min(0)
  @Max(60000)
  BATCHING_WINDOW_MS: number = 3;

  /**
   * Sequences kept from batch work, idle or serving interactive work, while any served task is
   * interactive, so a chat finds one idle (its persona cached) whatever the triage load; at most
   * SEQUENCES - 1 are kept. 0 keeps none.
   */
  @IsInt()
  @Min(0)
  @Max(8)
  INTERACTIVE_SEQUENCES: number = 1;

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

  /**
   * Whose X-Forwarded-For to believe for the client IP (rate limits): false, true (every hop), a
   * hop count, or comma-separated proxy addresses and CIDR ranges.
   */
  @ValidateBy({
    name: 'trustProxy',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && parseTrustProxy(value) !== undefined,
      defaultMessage: () =>
        'TRUST_PROXY must be false, true, a hop count of at least 1, or comma-separated IP addresses and CIDR ranges (or loopback, linklocal, uniquelocal)',
    },
  })
  TRUST_PROXY: string = 'false';

  /** Requests per minute per API key (or per client IP without keys) on /v1/*; 0 turns it off. */
  @IsInt()
  @Min(0)
  RATE_LIMIT_PER_MINUTE: number = 0;

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
