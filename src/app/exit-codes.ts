import { ConfigError } from '../config/environment.js';
import { ModelFileError, ModelPullError, ModelResourceError } from '../modules/model/model.errors.js';
import { TasksFileError } from '../prompts/tasks-file.js';

/** Startup failures a restart cannot fix: a bad configuration or tasks file, a model file that is not a usable GGUF. */
const FINAL_FAILURES = [ConfigError, TasksFileError, ModelFileError];

/** Startup failures an operator can act on: reported in one line, not a stack trace. */
const KNOWN_FAILURES = [...FINAL_FAILURES, ModelResourceError, ModelPullError];

/**
 * Exit codes of a failed start, read by the service manager (the unit's RestartPreventExitStatus=2):
 * 2 when a restart cannot fix it (bad configuration or tasks file, a file that is not a usable GGUF, a missing or
 * broken native binary, a download refused or failing its checksum), 1 when it may pass (out of
 * memory, an I/O or network error) or is not recognised.
 */
export function exitCode(error: unknown): 1 | 2 {
  if (FINAL_FAILURES.some((type) => error instanceof type)) return 2;
  if (error instanceof ModelPullError) return error.transient ? 1 : 2;
  return 1;
}

/** Startup problems an operator can act on end the process with one line, not a stack trace. */
export function exitWith(error: unknown): never {
  const known = KNOWN_FAILURES.some((type) => error instanceof type);
  process.stderr.write(`duet: ${known ? (error as Error).message : ((error as Error)?.stack ?? String(error))}\n`);
  process.exit(exitCode(error));
}
