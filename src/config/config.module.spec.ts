import { ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { AppConfig } from './app-config.js';
import { ConfigModule } from './config.module.js';
import { ConfigError } from './environment.js';

describe('ConfigModule', () => {
  it('provides the AppConfig derived from the validated variables, and the variables to ConfigService', async () => {
    const loaded = await ConfigModule.load({ PORT: '9000', LOG_CONTENT: 'true', HOME: '/root' }, 2);
    expect(loaded.config).toMatchObject({ port: 9000, logContent: true, threads: 2, logLevel: 'info' });
    const module = await Test.createTestingModule({ imports: [loaded.module] }).compile();
    expect(module.get(AppConfig)).toBe(loaded.config);
    expect(module.get(ConfigService).get('PORT')).toBe(9000);
  });

  it('refuses bad values with one line naming each', async () => {
    const error: unknown = await ConfigModule.load({ PORT: '-1', LOG_LEVEL: 'loud' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^Invalid configuration: PORT="-1" \(.*\), LOG_LEVEL="loud" \(.*\)$/);
    expect((error as Error).message).not.toContain('\n');
  });

  it('reads process.env when given no variables', async () => {
    const saved = process.env.PORT;
    process.env.PORT = '9100';
    try {
      expect((await ConfigModule.load(undefined, 2)).config.port).toBe(9100);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });
});
