import { ConfigError } from '../config/environment.js';
import { ModelPullError } from '../model-pull/pull-model.js';
import { TasksFileError } from '../prompts/tasks-file.js';
import { ModelFileError, ModelResourceError } from '../modules/model/model.service.js';

/**
 * Exit codes of a failed start, read by the service manager (the unit's RestartPreventExitStatus=2):
 * 2 when a restart cannot fix it (bad configuration or tasks file, a file that is not a usable GGUF, a missing or
 * broken native binary, a download refused or failing its checksum), 1 when it may pass (out of
 * memory, an I/O or network error) or is not recognised.
 */
export function exitCode(error: unknown): 1 | 2 {
  if (error instanceof ConfigError || error instanceof TasksFileError || error instanceof ModelFileError) return 2;
  if (error instanceof ModelPullError) return error.transient ? 1 : 2;
  return 1;
}

/** Startup problems an operator can act on end the process with one line, not a stack trace. */
export function exitWith(error: unknown): never {
  const known =
    error instanceof ConfigError ||
    error instanceof TasksFileError ||
    error instanceof ModelFileError ||
    error instanceof ModelResourceError ||
    error instanceof ModelPullError;
  process.stderr.write(`duet: ${known ? (error as Error).message : ((error as Error)?.stack ?? String(error))}\n`);
  process.exit(exitCode(error));
}
