import { Backlog, ESTIMATE_STALE_MS, FIXED_CHARS, HEADROOM, PACE_WINDOW_MS, retryAfterSeconds } from './backlog.js';

/** A backlog on a clock the test moves. */
function backlogAt(start = 1000) {
  const clock = { ms: start };
  return { clock, backlog: new Backlog(() => clock.ms) };
}

describe('retryAfterSeconds', () => {
  it('rounds up to whole seconds, and is never under 1', () => {
    expect([0, -5, 1, 999, 1000, 1001, 29_500].map(retryAfterSeconds)).toEqual([1, 1, 1, 1, 1, 2, 30]);
  });
});

describe('Backlog', () => {
  it('knows nothing before a measurement, then follows measurements as a moving average', () => {
    const { clock, backlog } = backlogAt();
    expect(backlog.estimateMs('classification')).toBeUndefined();
    const ticket = backlog.add({ trafficClass: 'batch', kind: 'classification', units: 3 });
    backlog.measure('classification', 1, clock.ms, true); // nothing measured in no time: still a sample
    clock.ms += 100;
    ticket.ran(1, clock.ms - 100, true);
    expect(backlog.estimateMs('classification')).toBeCloseTo(0 + 0.2 * 100);
    expect(backlog.estimateMs('generation')).toBeUndefined();
  });

  it('counts units run side by side as the time they took together', () => {
    const { clock, backlog } = backlogAt();
    const ticket = backlog.add({ trafficClass: 'batch', kind: 'classification', units: 8 });
    // A round of 4 texts in 400 ms: 100 ms a text.
    const started = clock.ms;
    clock.ms += 400;
    ticket.ran(4, started, true);
    expect(backlog.estimateMs('classification')).toBe(100);
    // Two texts started together, done 100 ms apart: the second took only the time after the first.
    const together = clock.ms;
    clock.ms += 100;
    ticket.ran(1, together, true);
    clock.ms += 100;
    ticket.ran(1, together, true);
    expect(backlog.estimateMs('classification')).toBe(100);
  });

  it('forgets a stale estimate for the start rule, not for the work ahead', () => {
    const { clock, backlog } = backlogAt();
    backlog.measure('classification', 1, clock.ms - 40_000, true); // a unit in a stalled moment
    clock.ms += ESTIMATE_STALE_MS;
    expect(backlog.currentEstimateMs('classification')).toBe(40_000);
    clock.ms += 1;
    expect(backlog.currentEstimateMs('classification')).toBeUndefined();
    expect(backlog.estimateMs('classification')).toBe(40_000);
  });

  it('counts the work other clients will send meanwhile at their recent pace, taking turns', () => {
    const { clock, backlog } = backlogAt();
    // Another client's 3 s of work over the last window: 0.1 ms of work per ms.
    backlog.addToPace('batch', 'other', 3000);
    backlog.addToPace('batch', 'own', 30_000); // its own pace is in its own work already
    expect(backlog.arrivingMs('batch', 'own', 10_000, 10_000)).toBeCloseTo(1000);
    expect(backlog.arrivingMs('batch', 'own', 500, 10_000)).toBeCloseTo(500); // they take turns
    // Interactive work goes ahead of batch work in full; batch work never ahead of interactive.
    backlog.addToPace('interactive', 'widget', 3000);
    expect(backlog.arrivingMs('batch', 'own', 500, 10_000)).toBeCloseTo(500 + 1000);
    expect(backlog.arrivingMs('interactive', 'widget', 10_000, 10_000)).toBe(0);
    clock.ms += PACE_WINDOW_MS; // paces fade
    expect(backlog.arrivingMs('batch', 'own', 10_000, 10_000)).toBeCloseTo(2000 / Math.E);
    clock.ms += 10 * PACE_WINDOW_MS; // and are forgotten
    expect(backlog.arrivingMs('batch', 'own', 10_000, 10_000)).toBe(0);
  });

  it('expects a request to end after the work admitted before it, running or not, counted once', () => {
    const { clock, backlog } = backlogAt();
    backlog.measure('classification', 1, clock.ms - 100, true); // a text takes 100 ms
    const texts = (units: number) => ({ trafficClass: 'interactive', kind: 'classification', units }) as const;
    const budget = (ms: number) => ms / (1 - HEADROOM); // ms allowed, HEADROOM kept free
    expect(backlog.lateness(texts(1), budget(100))).toBeUndefined();
    // Three texts admitted before it, running side by side: it ends after them, not three units
    // after each (requests end in the order they were admitted, see DecodeLock).
    backlog.add(texts(3));
    expect(backlog.lateness(texts(1), budget(399))).toMatchObject({ expectedMs: 400 });
    expect(backlog.lateness(texts(1), budget(400))).toBeUndefined();
    expect(backlog.lateness(texts(2), budget(499))).toMatchObject({ expectedMs: 500 });
  });

  it("refuses batch work that other clients' pace would push past its deadline", () => {
    const { clock, backlog } = backlogAt();
    backlog.measure('classification', 1, clock.ms - 1000, true); // a text takes 1 s
    const flood = { trafficClass: 'batch', kind: 'classification', units: 20, client: 'flood' } as const;
    expect(backlog.lateness(flood, 30_000)).toBeUndefined(); // 20 s against 27 s
    // The other client's texts, done one a second and counted by their tickets, faded by their age.
    const other = backlog.add({ trafficClass: 'batch', kind: 'classification', units: 15, client: 'other' });
    for (let text = 0; text < 15; text++) {
      clock.ms += 1000;
      other.ran(1, clock.ms - 1000, true);
    }
    expect(backlog.estimateMs('classification')).toBe(1000);
    let paceMs = 0;
    for (let age = 0; age < 15; age++) paceMs += 1000 * Math.exp((-age * 1000) / PACE_WINDOW_MS);
    expect(paceMs / PACE_WINDOW_MS).toBeCloseTo(0.4, 1); // ms of work per ms
    const late = backlog.lateness(flood, 30_000);
    expect(late?.expectedMs).toBeCloseTo(20_000 + (paceMs / PACE_WINDOW_MS) * 20_000);
  });

  it('takes a stopped unit only as a lower bound', () => {
    const { clock, backlog } = backlogAt();
    const started = clock.ms;
    clock.ms += 200;
    backlog.measure('generation', 1, started, true);
    clock.ms += 50;
    backlog.measure('generation', 1, clock.ms - 50, false); // stopped after 50 ms: says nothing new
    expect(backlog.estimateMs('generation')).toBe(200);
    clock.ms += 1200;
    backlog.measure('generation', 1, clock.ms - 1200, false); // stopped after 1200 ms: at least that long
    expect(backlog.estimateMs('generation')).toBe(200 + 0.2 * 1000);
  });

  it("sizes units by their texts' length against the recent mean, beyond a part that does not grow", () => {
    const { clock, backlog } = backlogAt();
    const texts = (units: number, chars?: number) =>
      ({ trafficClass: 'batch', kind: 'classification', units, chars }) as const;
    expect(backlog.size(texts(4, 4000))).toBe(4); // nothing measured yet
    // Two texts of 100 characters in 200 ms, then one of 200 characters ending at once: moving averages.
    const measured = backlog.add(texts(2, 200));
    clock.ms += 200;
    measured.ran(2, clock.ms - 200, true);
    backlog.add(texts(1, 200)).ran(1, clock.ms - 100, true);
    const meanChars = 100 + 0.2 * (200 - 100);
    // Texts whose time (FIXED_CHARS and their own characters) is three times a mean text's.
    const longChars = 3 * (FIXED_CHARS + meanChars) - FIXED_CHARS;
    expect(backlog.size(texts(4, 4 * longChars))).toBeCloseTo(12);
    expect(backlog.size(texts(4, 4 * meanChars))).toBeCloseTo(4);
    expect(backlog.size(texts(4, 0))).toBeCloseTo((4 * FIXED_CHARS) / (FIXED_CHARS + meanChars));
    expect(backlog.size(texts(4))).toBe(4);
    // A request's own time and its place ahead of others both count its size, until it is done.
    const unitMs = backlog.estimateMs('classification')!;
    expect(backlog.lateness(texts(2, 2 * longChars), Infinity)).toBeUndefined();
    expect(backlog.lateness(texts(2, 2 * longChars), 1)?.expectedMs).toBeCloseTo(6 * unitMs);
    const long = backlog.add(texts(2, 2 * longChars));
    expect(backlog.aheadMs('batch')).toBeCloseTo(6 * unitMs);
    long.ran(1, clock.ms, true);
    expect(backlog.aheadMs('batch')).toBeCloseTo(3 * backlog.estimateMs('classification')!);
    long.end();
    expect(backlog.aheadMs('batch')).toBe(0);
  });

  it('counts interactive work ahead of interactive requests, and everything ahead of batch ones', () => {
    const { clock, backlog } = backlogAt();
    backlog.measure('classification', 1, clock.ms - 100, true);
    backlog.measure('generation', 1, clock.ms - 1000, true);
    backlog.add({ trafficClass: 'batch', kind: 'classification', units: 30 });
    const chat = backlog.add({ trafficClass: 'interactive', kind: 'generation', units: 1 });
    backlog.add({ trafficClass: 'interactive', kind: 'classification', units: 2 });
    expect(backlog.aheadMs('interactive')).toBe(1000 + 200);
    expect(backlog.aheadMs('batch')).toBe(1000 + 200 + 3000);
    chat.end();
    expect(backlog.aheadMs('interactive')).toBe(200);
  });

  it('lets a ticket give back its units as they are done, and the rest once when it ends', () => {
    const { clock, backlog } = backlogAt();
    backlog.measure('classification', 1, clock.ms - 100, true);
    const ticket = backlog.add({ trafficClass: 'batch', kind: 'classification', units: 5 });
    clock.ms += 100;
    ticket.ran(2, clock.ms - 100, true);
    expect(backlog.aheadMs('batch')).toBeCloseTo(3 * backlog.estimateMs('classification')!);
    ticket.ran(1, clock.ms, false); // stopped: still outstanding until the request ends
    expect(backlog.aheadMs('batch')).toBeGreaterThan(0);
    ticket.end();
    ticket.end();
    expect(backlog.aheadMs('batch')).toBe(0);
  });

  describe('lateness (the admission decision)', () => {
    const measured = () => {
      const { clock, backlog } = backlogAt();
      backlog.measure('classification', 1, clock.ms - 250, true);
      return backlog;
    };

    it('admits what would finish within its budget, and anything before a measurement', () => {
      const { backlog } = backlogAt();
      expect(backlog.lateness({ trafficClass: 'batch', kind: 'classification', units: 1000 }, 1)).toBeUndefined();
      const known = measured();
      known.add({ trafficClass: 'interactive', kind: 'classification', units: 3 }); // ahead of either class
      // 1 s expected, with HEADROOM of the budget kept free, whatever the class.
      for (const trafficClass of ['interactive', 'batch'] as const) {
        const single = { trafficClass, kind: 'classification', units: 1 } as const;
        expect(known.lateness(single, 1000 / (1 - HEADROOM))).toBeUndefined();
        expect(known.lateness(single, 1100)).toEqual({ expectedMs: 1000, retryAfterSeconds: 1 });
      }
    });

    it('refuses what would finish late, retrying once the work ahead has shrunk by the difference', () => {
      const backlog = measured();
      backlog.add({ trafficClass: 'batch', kind: 'classification', units: 40 }); // 10 s ahead
      // 10 s ahead + 2.5 s of its own against 4 s left less a fifth: 9.3 s late.
      expect(backlog.lateness({ trafficClass: 'batch', kind: 'classification', units: 10 }, 4000)).toEqual({
        expectedMs: 12_500,
        retryAfterSeconds: 10,
      });
      // Its own work alone is over its budget: retry no sooner than the line ahead is empty (10 s).
      expect(backlog.lateness({ trafficClass: 'batch', kind: 'classification', units: 100 }, 1000)).toEqual({
        expectedMs: 35_000,
        retryAfterSeconds: 10,
      });
    });

    it('lets an interactive request past batch work it would not wait for', () => {
      const backlog = measured();
      backlog.add({ trafficClass: 'batch', kind: 'classification', units: 400 }); // 100 s of batch work
      const single = { kind: 'classification', units: 1 } as const;
      expect(backlog.lateness({ ...single, trafficClass: 'interactive' }, 1000)).toBeUndefined();
      expect(backlog.lateness({ ...single, trafficClass: 'batch' }, 1000)?.retryAfterSeconds).toBe(100);
    });

    it("counts another client's work of the class only up to its own, as they take turns", () => {
      const backlog = measured();
      backlog.add({ trafficClass: 'batch', kind: 'classification', units: 400, client: 'flood' }); // 100 s
      backlog.add({ trafficClass: 'interactive', kind: 'classification', units: 2, client: 'screen' }); // 0.5 s, first
      const triage = { trafficClass: 'batch', kind: 'classification', units: 4 } as const; // 1 s of its own
      expect(backlog.aheadMs('batch', 'other', 1000)).toBe(500 + 1000);
      expect(backlog.lateness({ ...triage, client: 'other' }, 3200)).toBeUndefined();
      // The flooding client waits for all of its own.
      expect(backlog.lateness({ ...triage, client: 'flood' }, 3200)).toEqual({
        expectedMs: 500 + 100_000 + 1000,
        retryAfterSeconds: 99,
      });
    });

    it('admits a request alone over its budget once its kind has not been measured for a while', () => {
      const { clock, backlog } = backlogAt();
      backlog.measure('classification', 1, clock.ms - 900, true); // a slow moment: 900 ms a text
      const batch = { trafficClass: 'batch', kind: 'classification', units: 32 } as const;
      clock.ms += ESTIMATE_STALE_MS;
      expect(backlog.lateness(batch, 27_000)?.expectedMs).toBe(28_800);
      clock.ms += 1;
      expect(backlog.lateness(batch, 27_000)).toBeUndefined();
      // Not with work ahead: that work, running, measures its kind again.
      backlog.add({ ...batch, units: 1 });
      expect(backlog.lateness(batch, 27_000)?.expectedMs).toBe(29_700);
    });

    it('answers a request alone that cannot make its deadline with the shortest Retry-After', () => {
      const backlog = measured();
      expect(backlog.lateness({ trafficClass: 'batch', kind: 'classification', units: 1 }, 10)).toEqual({
        expectedMs: 250,
        retryAfterSeconds: 1,
      });
    });
  });
});
