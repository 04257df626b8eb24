import { resolve } from 'node:path';
import { loadTasks, type TaskOverrides } from '../prompts/tasks-file.js';
import type { TaskDefinition } from '../prompts/task-definitions.js';
import { cpuQuota } from './cpu-quota.js';
import { DEFAULT_MODEL_PATH, Environment, parseTrustProxy, TrustProxy } from './environment.js';

const MIB = 1024 * 1024;
const list = (value: string) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

/**
 * Two sequences per thread, at most 8: chats generating at once share decode batches, and each
 * sequence holds its own KV cache (Qwen2.5-0.5B: 24 layers x 2 KV heads x 64 x f16 K and V = 12 KiB
 * per token, 15 MiB for the default 1,280-token sequence).
 */
const defaultSequences = (threads: number) => Math.min(2 * threads, 8);

/** Validated, derived settings; the one object every module reads its configuration from. */
export class AppConfig {
  readonly port: number;
  readonly host: string;
  readonly modelPath: string;
  /** MODEL_PATH was left unset: the default file may be downloaded on start. */
  readonly modelPathIsDefault: boolean;
  readonly modelUrl: string;
  readonly modelSha256?: string;
  readonly modelAllowHttp: boolean;
  readonly threads: number;
  /** Set when THREADS asked for more than the CPU quota and was lowered to it. */
  readonly threadsClampedFrom?: number;
  readonly sequences: number;
  readonly batchSize: number;
  readonly prefixCache: boolean;
  readonly sentimentBatching: Environment['SENTIMENT_BATCHING'];
  readonly batchingWindowMs: number;
  /** Kept from batch work while an interactive task is served (at most all sequences but one). */
  readonly interactiveSequences: number;
  readonly maxQueue: number;
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** Reading and discarding a body left unread by an early answer: at most this much, then the connection is destroyed. */
  readonly unreadBodyBounds: { readonly maxBytes: number; readonly maxMs: number };
  readonly memorySnapshotIntervalS: number;
  /** Readiness ceilings in bytes; 0 means none. */
  readonly readyMaxRssBytes: number;
  readonly readyMaxAnonSwapBytes: number;
  readonly readyMaxHeapBytes: number;
  readonly readyQueueCheck: boolean;
  readonly shutdownDrainMs: number;
  /** TASKS_FILE and the chat caps from the environment, read again on reload. */
  readonly taskOverrides: TaskOverrides;
  readonly clientSystemMessages: Environment['CLIENT_SYSTEM_MESSAGES'];
  /** Token cap of a JSON answer; within every sequence's room past a prompt (MAX_OUTPUT_TOKENS). */
  readonly structuredMaxTokens: number;
  /** The built-in tasks overlaid with TASKS_FILE and the chat caps; validated, sizes checked. */
  readonly tasks: readonly TaskDefinition[];
  readonly maxBodyBytes: number;
  readonly apiKeys: readonly string[];
  readonly opsApiKeys: readonly string[];
  readonly corsOrigins: readonly string[];
  readonly rateLimitPerMinute: number;
  /** Fastify's trustProxy: which X-Forwarded-For hops name the client (see TRUST_PROXY). */
  readonly trustProxy: TrustProxy;
  readonly logLevel: Environment['LOG_LEVEL'];
  readonly logContent: boolean;

  constructor(env: Environment, cpus = cpuQuota()) {
    this.port = env.PORT;
    this.host = env.HOST;
    this.modelPath = resolve(env.MODEL_PATH);
    this.modelPathIsDefault = env.MODEL_PATH === DEFAULT_MODEL_PATH;
    this.modelUrl = env.MODEL_URL;
    this.modelSha256 = env.MODEL_SHA256?.toLowerCase();
    this.modelAllowHttp = env.MODEL_ALLOW_HTTP;
    this.threads = Math.min(env.THREADS ?? cpus, cpus);
    if (env.THREADS !== undefined && env.THREADS > cpus) this.threadsClampedFrom = env.THREADS;
    this.sequences = env.SEQUENCES ?? defaultSequences(this.threads);
    this.batchSize = env.BATCH_SIZE;
    this.prefixCache = env.PREFIX_CACHE;
    this.sentimentBatching = env.SENTIMENT_BATCHING;
    this.batchingWindowMs = env.BATCHING_WINDOW_MS;
    this.interactiveSequences = env.INTERACTIVE_SEQUENCES;
    this.maxQueue = env.MAX_QUEUE;
    this.requestTimeoutMs = env.REQUEST_TIMEOUT_MS;
    this.headersTimeoutMs = env.HEADERS_TIMEOUT_MS;
    this.bodyTimeoutMs = env.BODY_TIMEOUT_MS;
    this.keepAliveTimeoutMs = env.KEEP_ALIVE_TIMEOUT_MS;
    // A slow sender never holds a connection longer for having been refused.
    this.unreadBodyBounds = {
      maxBytes: env.UNREAD_BODY_MAX_BYTES,
      maxMs: Math.min(env.UNREAD_BODY_MAX_MS, env.BODY_TIMEOUT_MS),
    };
    this.memorySnapshotIntervalS = env.MEMORY_SNAPSHOT_INTERVAL_S;
    this.readyMaxRssBytes = env.READY_MAX_RSS_MB * MIB;
    this.readyMaxAnonSwapBytes = env.READY_MAX_ANON_SWAP_MB * MIB;
    this.readyMaxHeapBytes = env.READY_MAX_HEAP_MB * MIB;
    this.readyQueueCheck = env.READY_QUEUE_CHECK;
    this.shutdownDrainMs = env.SHUTDOWN_DRAIN_MS;
    this.clientSystemMessages = env.CLIENT_SYSTEM_MESSAGES;
    this.structuredMaxTokens = env.STRUCTURED_MAX_TOKENS;
    this.taskOverrides = { file: env.TASKS_FILE, chatMaxTokens: env.CHAT_MAX_TOKENS, chatMaxChars: env.CHAT_MAX_CHARS };
    this.tasks = loadTasks(this.taskOverrides);
    this.maxBodyBytes = env.MAX_BODY_BYTES;
    this.apiKeys = list(env.API_KEYS);
    this.opsApiKeys = list(env.OPS_API_KEYS);
    this.corsOrigins = list(env.CORS_ORIGINS);
    this.rateLimitPerMinute = env.RATE_LIMIT_PER_MINUTE;
    this.trustProxy = parseTrustProxy(env.TRUST_PROXY)!; // validated by parseEnvironment
    this.logLevel = env.LOG_LEVEL;
    this.logContent = env.LOG_CONTENT;
  }

  /** The effective configuration for the startup log: keys are counted, never printed. */
  forLog() {
    return {
      ...this,
      apiKeys: this.apiKeys.length,
      opsApiKeys: this.opsApiKeys.length,
      tasks: this.tasks.map((task) => `${task.name}:${task.kind}`),
    };
  }
}
