import { spawnSync, type SpawnSyncReturns } from 'node:child_process';

/**
 * Runs a system tool a test needs. When it is not installed the test fails with one line naming
 * the Debian package that provides it, instead of an assertion diff or a stack trace.
 */
export function runTool(command: string, args: string[], debianPackage: string): SpawnSyncReturns<string> {
  const run = spawnSync(command, args, { encoding: 'utf8' });
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    const missing = new Error(`${command} is not installed: install the Debian package ${debianPackage}`);
    missing.stack = missing.message; // the line above is all there is to say
    throw missing;
  }
  if (run.error) throw run.error;
  return run;
}
