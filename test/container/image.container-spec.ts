import { spawnSync } from 'node:child_process';

/**
 * The container image, built and run with podman (scripts/test-container.sh): a project of its own,
 * which `npm test` leaves out (podman is not on every machine) and `.ci/run` runs after it.
 */
describe('container image', () => {
  it(
    'builds, runs as non-root on a read-only model, serves, and exits 0 on SIGTERM within the drain',
    () => {
      const run = spawnSync('bash', ['scripts/test-container.sh'], { encoding: 'utf8', timeout: 25 * 60_000 });
      const verdict = run.stdout.trim().split('\n').pop() ?? '';
      if (run.status !== 0) throw new Error(`${verdict}\n${run.stderr.slice(-4000)}`);
      expect(verdict).toMatch(/^container test: passed \(image \d+ MiB = .* \+ Duet's layers \d+ MiB/);
      process.stdout.write(`${verdict}\n`);
    },
    25 * 60_000,
  ); // a first build makes the base image and installs every dependency
});
