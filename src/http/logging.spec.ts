import { __resetOutOfContextForTests } from 'nestjs-pino/PinoLogger.js';
import { createPino, nestLogger } from './logging.js';

/** A logger at `level` whose lines are parsed into `lines`. */
function capture(level: 'debug' | 'info' | 'warn' | 'error') {
  const lines: Record<string, unknown>[] = [];
  const pino = createPino(level, { write: (line) => void lines.push(JSON.parse(line)) });
  __resetOutOfContextForTests(); // see nestLogger
  return { pino, logger: nestLogger(pino), lines };
}

describe('logging', () => {
  it('writes one JSON object per line: ISO time, level name, context and the logged fields', () => {
    const { logger, lines } = capture('info');
    logger.log({ event: 'task_warmed', task: 'chat', ms: 12 }, 'Tasks');
    logger.warn('plain text', 'Config');
    expect(lines).toEqual([
      {
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        level: 'info',
        context: 'Tasks',
        event: 'task_warmed',
        task: 'chat',
        ms: 12,
      },
      { time: expect.any(String), level: 'warn', context: 'Config', message: 'plain text' },
    ]);
  });

  it('drops lines below LOG_LEVEL', () => {
    const { logger, lines } = capture('warn');
    logger.debug?.({ event: 'detail' }, 'Tasks');
    logger.log({ event: 'task_warmed' }, 'Tasks');
    logger.error({ event: 'unhandled_error' }, 'Errors');
    expect(lines.map((line) => [line.level, line.event])).toEqual([['error', 'unhandled_error']]);
  });

  it('never writes the Authorization or X-Api-Key header of a logged request', () => {
    const { pino, lines } = capture('info');
    pino.info({ req: { headers: { authorization: 'Bearer secret-key', 'x-api-key': 'other-key', accept: '*/*' } } });
    expect(lines[0].req).toEqual({
      headers: { authorization: '[redacted]', 'x-api-key': '[redacted]', accept: '*/*' },
    });
    expect(JSON.stringify(lines)).not.toMatch(/secret-key|other-key/);
  });
});
