import { AppConfig } from './app-config.js';
import { ConfigError, DEFAULT_MODEL_PATH, parseEnvironment } from './environment.js';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = new AppConfig(parseEnvironment({}), 2);
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      threads: 2,
      sequences: 4,
      batchSize: 128,
      clientSystemMessages: 'append',
      maxBodyBytes: 1048576,
      logLevel: 'info',
      logContent: false,
      readyMaxRssBytes: 1100 * 1048576,
      readyMaxAnonSwapBytes: 1100 * 1048576,
      headersTimeoutMs: 10000,
      bodyTimeoutMs: 30000,
      keepAliveTimeoutMs: 72000,
      unreadBodyBounds: { maxBytes: 32 * 1048576, maxMs: 5000 },
    });
    expect(config.modelPath.endsWith(DEFAULT_MODEL_PATH)).toBe(true);
    expect(config.tasks.map((task) => task.name)).toEqual(['sentiment', 'chat']);
    expect(config.tasks[1]).toMatchObject({ maxTokens: 64, maxChars: 60 });
  });

  it('applies CHAT_MAX_TOKENS and CHAT_MAX_CHARS to the chat task only when set', () => {
    const config = new AppConfig(parseEnvironment({ CHAT_MAX_TOKENS: '12', CHAT_MAX_CHARS: '200' }), 2);
    expect(config.tasks[1]).toMatchObject({ name: 'chat', maxTokens: 12, maxChars: 200 });
    expect(() => parseEnvironment({ CHAT_MAX_TOKENS: '257' })).toThrow(/CHAT_MAX_TOKENS="257"/);
  });

  it('reads numbers and booleans from strings', () => {
    const config = new AppConfig(
      parseEnvironment({ PORT: '9000', SEQUENCES: '8', LOG_CONTENT: 'true', THREADS: '1' }),
      2,
    );
    expect(config).toMatchObject({ port: 9000, sequences: 8, logContent: true, threads: 1 });
  });

  it('sizes SEQUENCES to the threads unless set', () => {
    expect([1, 2, 3, 4, 16].map((cpus) => new AppConfig(parseEnvironment({}), cpus).sequences)).toEqual([
      2, 4, 6, 8, 8,
    ]);
    expect(new AppConfig(parseEnvironment({ THREADS: '1' }), 4).sequences).toBe(2);
    expect(new AppConfig(parseEnvironment({ SEQUENCES: '3' }), 16).sequences).toBe(3);
  });

  it('lowers THREADS to the CPU quota and remembers what was asked', () => {
    const config = new AppConfig(parseEnvironment({ THREADS: '16' }), 2);
    expect(config.threads).toBe(2);
    expect(config.threadsClampedFrom).toBe(16);
  });

  it('checks the queue in readiness unless READY_QUEUE_CHECK=false', () => {
    expect(new AppConfig(parseEnvironment({}), 2).readyQueueCheck).toBe(true);
    expect(new AppConfig(parseEnvironment({ READY_QUEUE_CHECK: 'false' }), 2).readyQueueCheck).toBe(false);
  });

  it('reads TRUST_PROXY as off, on, a hop count or proxy addresses', () => {
    const trustProxy = (value?: string) => new AppConfig(parseEnvironment({ TRUST_PROXY: value }), 2).trustProxy;
    expect([trustProxy(), trustProxy('true'), trustProxy('2')]).toEqual([false, true, 2]);
    expect(trustProxy('10.0.0.0/8, 192.168.1.1,::1')).toEqual(['10.0.0.0/8', '192.168.1.1', '::1']);
    expect(() => parseEnvironment({ TRUST_PROXY: 'yes' })).toThrow(/TRUST_PROXY="yes"/);
  });

  it('names every invalid variable', () => {
    expect(() => parseEnvironment({ PORT: '-1', SEQUENCES: 'many' })).toThrow(ConfigError);
    expect(() => parseEnvironment({ PORT: '-1', SEQUENCES: 'many' })).toThrow(/PORT="-1".*SEQUENCES="many"/);
  });

  it('keeps the client timeouts between 100 ms and 10 minutes', () => {
    expect(() =>
      parseEnvironment({ HEADERS_TIMEOUT_MS: '99', BODY_TIMEOUT_MS: '600001', KEEP_ALIVE_TIMEOUT_MS: '0' }),
    ).toThrow(/HEADERS_TIMEOUT_MS="99".*BODY_TIMEOUT_MS="600001".*KEEP_ALIVE_TIMEOUT_MS="0"/);
    expect(parseEnvironment({ BODY_TIMEOUT_MS: '100' }).BODY_TIMEOUT_MS).toBe(100);
  });

  it('never reads an unread body for longer than BODY_TIMEOUT_MS', () => {
    const bounds = (env: Record<string, string>) => new AppConfig(parseEnvironment(env), 2).unreadBodyBounds;
    expect(bounds({ UNREAD_BODY_MAX_MS: '20000', BODY_TIMEOUT_MS: '3000' }).maxMs).toBe(3000);
    expect(bounds({ UNREAD_BODY_MAX_BYTES: '0', UNREAD_BODY_MAX_MS: '100' })).toEqual({ maxBytes: 0, maxMs: 100 });
    expect(() => parseEnvironment({ UNREAD_BODY_MAX_BYTES: '-1' })).toThrow(/UNREAD_BODY_MAX_BYTES="-1"/);
  });

  it('ignores empty values and unrelated variables', () => {
    expect(parseEnvironment({ PORT: '', HOME: '/root' }).PORT).toBe(8080);
  });
});
