// The soak's memory verdict from a fitted slope and its standard error: a slope whose interval
// holds the limit has not shown either way, and saying "fail" there reports noise as a leak.

export type Verdict = 'pass' | 'fail' | 'inconclusive';

/** Exit codes of `npm run soak` by verdict (2 is a malformed option, before anything runs). */
export const VERDICT_EXIT_CODES: Record<Verdict, number> = { pass: 0, fail: 1, inconclusive: 3 };

/** Student's t, two-sided 95% (0.975 quantile), for 1 to 30 degrees of freedom. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** The 95% two-sided t quantile for `degreesOfFreedom` (at least 1); the normal's 1.96 beyond the table. */
export function t975(degreesOfFreedom: number): number {
  return T975[Math.max(1, Math.floor(degreesOfFreedom)) - 1] ?? 1.96;
}

export interface SlopeVerdict {
  verdict: Verdict;
  /** The slope's 95% interval, KiB per 1,000 requests. */
  interval: [number, number];
  /**
   * When inconclusive: how long a run of the same traffic would narrow the interval enough to
   * exclude the limit, if the fitted slope and the readings' scatter stayed as measured (the
   * slope's standard error shrinks with the span of requests it is fitted over). Absent when the
   * slope sits on the limit: no length decides that.
   */
  toDecide?: { requests: number; durationS: number };
}

/**
 * Pass when the interval's upper end is under the limit, fail when its lower end is above it,
 * inconclusive otherwise. `points` is how many readings the slope was fitted to (t has n - 2
 * degrees of freedom); `requests` and `requestsPerS` are the run's, for the length it would take.
 */
export function slopeVerdict(fit: {
  slope: number;
  standardError: number;
  points: number;
  limit: number;
  requests: number;
  requestsPerS: number;
}): SlopeVerdict {
  const half = t975(fit.points - 2) * fit.standardError;
  const interval: [number, number] = [fit.slope - half, fit.slope + half];
  if (interval[1] < fit.limit) return { verdict: 'pass', interval };
  if (interval[0] > fit.limit) return { verdict: 'fail', interval };
  const distance = Math.abs(fit.slope - fit.limit);
  if (distance === 0 || half === 0) return { verdict: 'inconclusive', interval };
  return { verdict: 'inconclusive', interval, toDecide: runLength(Math.ceil((fit.requests * half) / distance), fit) };
}

/** `requests` with the time they take at the run's own rate. */
export function runLength(requests: number, { requestsPerS }: { requestsPerS: number }) {
  return { requests, durationS: requestsPerS > 0 ? Math.round(requests / requestsPerS) : 0 };
}
