import { ensureFixtures } from './fixtures/generate-models.js';

/** Generates the tiny fixture model once if it is missing (seconds). */
export default function globalSetup(): void {
  ensureFixtures(['tiny']);
}
