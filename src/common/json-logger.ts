import { LoggerService } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';

const SEVERITY = { debug: 10, verbose: 10, log: 20, warn: 30, error: 40, fatal: 50 } as const;
type NestLevel = keyof typeof SEVERITY;
const THRESHOLD: Record<AppConfig['logLevel'], number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** One JSON line per event on stdout; structured messages are merged into the line, not stringified. */
export class JsonLogger implements LoggerService {
  constructor(
    private readonly level: AppConfig['logLevel'] = 'info',
    private readonly write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  ) {}

  log(message: unknown, context?: string) {
    this.emit('log', message, context);
  }
  error(message: unknown, stackOrContext?: string, context?: string) {
    this.emit('error', message, context ?? stackOrContext);
  }
  warn(message: unknown, context?: string) {
    this.emit('warn', message, context);
  }
  debug(message: unknown, context?: string) {
    this.emit('debug', message, context);
  }
  verbose(message: unknown, context?: string) {
    this.emit('verbose', message, context);
  }
  fatal(message: unknown, context?: string) {
    this.emit('fatal', message, context);
  }

  private emit(level: NestLevel, message: unknown, context?: string): void {
    if (SEVERITY[level] < THRESHOLD[this.level]) return;
    const fields =
      typeof message === 'object' && message !== null && !(message instanceof Error)
        ? message
        : { message: String(message) };
    this.write(
      JSON.stringify({ time: new Date().toISOString(), level: level === 'log' ? 'info' : level, context, ...fields }),
    );
  }
}
