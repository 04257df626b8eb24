import { spawnSync } from 'node:child_process';
import { duration, fraction, nonNegativeNumber, optionalWholeNumber, wholeNumber } from './cli-options.js';

describe('command-line numbers (soak, bench)', () => {
  it('reads well-formed values', () => {
    expect([
      wholeNumber('n', '4'),
      wholeNumber('n', '0', 0),
      optionalWholeNumber('n', undefined),
      optionalWholeNumber('n', '12'),
    ]).toEqual([4, 0, undefined, 12]);
    expect([
      fraction('f', '0'),
      fraction('f', '0.45'),
      nonNegativeNumber('k', '0'),
      nonNegativeNumber('k', '2.5'),
    ]).toEqual([0, 0.45, 0, 2.5]);
    expect([duration('d', '250ms'), duration('d', '90s'), duration('d', '1.5m'), duration('d', '2h')]).toEqual([
      250, 90_000, 90_000, 7_200_000,
    ]);
  });

  it.each([
    ['whole number', () => wholeNumber('n', 'abc')],
    ['whole number', () => wholeNumber('n', '')],
    ['whole number', () => wholeNumber('n', '1.5')],
    ['whole number', () => wholeNumber('n', '0')],
    ['whole number', () => optionalWholeNumber('n', '-3')],
    ['fraction', () => fraction('f', '1')],
    ['fraction', () => fraction('f', '-0.1')],
    ['fraction', () => fraction('f', ' ')],
    ['number of at least 0', () => nonNegativeNumber('k', '-1')],
    ['number of at least 0', () => nonNegativeNumber('k', 'Infinity')],
    ['duration', () => duration('d', '30')],
    ['duration', () => duration('d', '0s')],
  ])('refuses a bad %s, naming the option', (kind, read) => {
    expect(read).toThrow(new RegExp(`^--[nfkd] must be a ${kind}`));
  });

  // The 0.5B fixture is not there in CI: a bench that started anyway would fail on the model, with another message.
  it.each([
    [['--texts=0'], '--texts must be a whole number of at least 1, got "0"'],
    [
      ['sentiment', 'labls'],
      'unknown benchmark labls: use sentiment, overload, overload-batches, overload-fairness, labels',
    ],
    [['--text=8'], "Unknown option '--text'"],
  ])(
    'bench %j stops with a usage error (exit 2) before any benchmark starts',
    (args, message) => {
      const bench = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'scripts/bench.ts', ...args, '--model=missing.gguf'],
        { encoding: 'utf8' },
      );
      const { status, stdout, stderr } = bench;
      expect({
        status,
        stdout,
        usage: stderr.startsWith(`bench: ${message}`),
        stackTrace: /\n\s+at /.test(stderr),
      }).toEqual({ status: 2, stdout: '', usage: true, stackTrace: false });
    },
    60_000,
  );
});
