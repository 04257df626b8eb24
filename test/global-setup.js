import { execFileSync } from 'node:child_process';

/** Generates the tiny fixture model if it is missing (about a second); the generator skips existing files. */
export default function globalSetup() {
  execFileSync(process.execPath, ['--import', 'tsx', 'test/fixtures/generate-models.ts', 'tiny'], { stdio: 'inherit' });
}
