import { slopeVerdict, t975, VERDICT_EXIT_CODES } from '../../scripts/lib/soak-verdict.js';

/** A fit over the ten floor readings the soak fits (8 degrees of freedom), against the 1 KiB limit. */
const fit = (slope: number, standardError: number) => ({
  slope,
  standardError,
  points: 10,
  limit: 1,
  requests: 4850,
  requestsPerS: 2,
});

describe('the soak verdict', () => {
  it("uses Student's t for the interval: 2.306 at 8 degrees of freedom, the normal's 1.96 past the table", () => {
    expect([t975(1), t975(8), t975(30), t975(200)]).toEqual([12.706, 2.306, 2.042, 1.96]);
  });

  it('calls the 40-minute 0.5B run (+76.4 ± 301.8 KiB per 1,000) inconclusive, and says how long would decide it', () => {
    const verdict = slopeVerdict(fit(76.4, 301.8));
    expect(verdict.verdict).toBe('inconclusive');
    expect(verdict.interval[0]).toBeCloseTo(76.4 - 2.306 * 301.8, 6);
    expect(verdict.interval[1]).toBeCloseTo(76.4 + 2.306 * 301.8, 6);
    // The standard error shrinks with the span fitted over: 9.2 times as many requests, 6.2 hours at 2/s.
    expect(verdict.toDecide).toEqual({ requests: 44767, durationS: 22384 }); // 4,850 × 2.306 × 301.8 / 75.4
  });

  it('passes when the whole interval is under the limit, fails when the whole interval is over it', () => {
    expect(slopeVerdict(fit(0.2, 0.3))).toEqual({ verdict: 'pass', interval: [0.2 - 0.6918, 0.2 + 0.6918] });
    expect(slopeVerdict(fit(27.1, 4.6)).verdict).toBe('fail');
    expect(slopeVerdict(fit(-5, 2)).verdict).toBe('pass');
    // +1.07 ± 1.85 on the tiny model (160,000 requests): its interval holds 1 KiB.
    expect(slopeVerdict(fit(1.07, 1.85)).verdict).toBe('inconclusive');
  });

  it('gives no run length when the slope sits on the limit: no length decides that', () => {
    expect(slopeVerdict(fit(1, 0.5))).toEqual({ verdict: 'inconclusive', interval: [1 - 1.153, 1 + 1.153] });
  });

  it('exits 0 on pass, 1 on fail, 3 when inconclusive (2 is a malformed option)', () => {
    expect(VERDICT_EXIT_CODES).toEqual({ pass: 0, fail: 1, inconclusive: 3 });
  });
});
