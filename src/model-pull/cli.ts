// npm run model:pull: downloads the default model (MODEL_URL) to MODEL_PATH with progress,
// resume and a SHA-256 check. Exits 2 with one line when it cannot.
import { AppConfig } from '../config/app-config.js';
import { ModelPullError, progressBar, pullModel } from './pull-model.js';

async function main(): Promise<void> {
  const config = AppConfig.fromEnvironment();
  const result = await pullModel({
    url: config.modelUrl,
    destination: config.modelPath,
    sha256: config.modelSha256,
    onProgress: progressBar(),
  });
  process.stderr.write(`duet: model saved to ${config.modelPath} (${result.bytes} bytes, sha256 ${result.sha256})\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`duet: ${error instanceof ModelPullError ? error.message : error.stack}\n`);
  process.exit(error instanceof ModelPullError ? 2 : 1);
});
