// npm run model:pull: downloads the default model (MODEL_URL) to MODEL_PATH with progress,
// resume and a SHA-256 check. Exits with one line when it cannot: 2 when retrying cannot help,
// 1 when it may (see exit-codes.ts).
import { exitWith } from '../app/exit-codes.js';
import { ConfigModule } from '../config/config.module.js';
import { pullConfiguredModel } from './pull-model.js';

async function main(): Promise<void> {
  const { config } = await ConfigModule.load();
  const result = await pullConfiguredModel(config);
  process.stderr.write(`duet: model saved to ${config.modelPath} (${result.bytes} bytes, sha256 ${result.sha256})\n`);
}

main().catch(exitWith);
