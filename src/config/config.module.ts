import { DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigModule as NestConfigModule } from '@nestjs/config';
import { AppConfig } from './app-config.js';
import { parseEnvironment } from './environment.js';

/** The configuration, validated, and the module that provides it to the application. */
export interface LoadedConfig {
  readonly config: AppConfig;
  readonly module: DynamicModule;
}

@Global()
@Module({})
export class ConfigModule {
  /**
   * Reads the environment once, through @nestjs/config: its `validate` hook is the class-validator
   * schema (environment.ts), so a bad value throws ConfigError (one line, exit 2). Modules inject the
   * AppConfig derived from it, typed fields rather than ConfigService lookups. Loaded before the
   * application is built: main.ts needs the model path, Fastify's options and the log level first.
   * No .env file is read; `variables` replace process.env (tests). As @nestjs/config does, the
   * defaults of unset variables are copied into process.env, and its ConfigService holds the validated
   * variables for libraries that take one.
   */
  static async load(variables?: NodeJS.ProcessEnv, cpus?: number): Promise<LoadedConfig> {
    let config: AppConfig | undefined;
    const validated = await NestConfigModule.forRoot({
      ignoreEnvFile: true,
      validate: (environment) => {
        const parsed = parseEnvironment(variables ?? environment);
        config = new AppConfig(parsed, cpus);
        return parsed;
      },
    });
    return {
      config: config!,
      module: {
        module: ConfigModule,
        imports: [validated],
        providers: [{ provide: AppConfig, useValue: config }],
        exports: [AppConfig, validated],
      },
    };
  }
}
