import { BATCH_STARVATION_BOUND, DecodeLock, type HeldTurn, OVERTAKE_BOUND, type TurnOrder } from './decode-lock.js';

/** A turn of a fixed rank, admitted at `since`. */
const ranked = (rank: number, since: number): TurnOrder => ({ rank: () => rank, since });

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('DecodeLock', () => {
  it('tells its listeners of each released turn: class, mode and how long it was held', async () => {
    const lock = new DecodeLock();
    const held: HeldTurn[] = [];
    lock.onTurnHeld((turn) => held.push(turn));
    const writer = await lock.exclusive('interactive');
    const started = performance.now();
    while (performance.now() - started < 20); // held for at least 20 ms
    writer();
    writer(); // a second release is not a second turn
    (await lock.shared())();
    expect(held).toEqual([
      { trafficClass: 'interactive', exclusive: true, ms: expect.any(Number) },
      { trafficClass: 'batch', exclusive: false, ms: expect.any(Number) },
    ]);
    expect(held[0].ms).toBeGreaterThanOrEqual(20);
    expect(held[1].ms).toBeLessThan(held[0].ms);
  });

  it('lets shared holders overlap', async () => {
    const lock = new DecodeLock();
    const [a, b] = await Promise.all([lock.shared(), lock.shared()]);
    a();
    b();
  });

  it('holds an exclusive request until every shared holder has released, and blocks shared ones meanwhile', async () => {
    const lock = new DecodeLock();
    const events: string[] = [];
    const reader = await lock.shared();
    const writer = lock.exclusive().then((release) => (events.push('exclusive'), release));
    const lateReader = lock.shared().then((release) => (events.push('late shared'), release));
    await tick();
    expect(events).toEqual([]); // the writer waits for the reader; the late reader queues behind the writer
    reader();
    const releaseWriter = await writer;
    await tick();
    expect(events).toEqual(['exclusive']);
    releaseWriter();
    (await lateReader)();
    expect(events).toEqual(['exclusive', 'late shared']);
  });

  it('serves exclusive requests one at a time, in arrival order', async () => {
    const lock = new DecodeLock();
    const order: number[] = [];
    const first = await lock.exclusive();
    const rest = [1, 2, 3].map((n) => lock.exclusive().then((release) => (order.push(n), release)));
    await tick();
    expect(order).toEqual([]);
    first();
    for (const pending of rest) (await pending)();
    expect(order).toEqual([1, 2, 3]);
  });

  it('ignores a second release of the same grant', async () => {
    const lock = new DecodeLock();
    const a = await lock.shared();
    const b = await lock.shared();
    a();
    a(); // must not release b's hold
    let granted = false;
    void lock.exclusive().then(() => (granted = true));
    await tick();
    expect(granted).toBe(false);
    b();
    await tick();
    expect(granted).toBe(true);
  });

  it('serves interactive turns before batch turns that arrived earlier', async () => {
    const lock = new DecodeLock();
    const order: string[] = [];
    const first = await lock.exclusive('batch');
    const waiters = [
      lock.exclusive('batch').then((release) => (order.push('batch'), release)),
      lock.shared('interactive').then((release) => (order.push('interactive shared'), release)),
      lock.exclusive('interactive').then((release) => (order.push('interactive exclusive'), release)),
    ];
    first();
    (await waiters[1])();
    (await waiters[2])();
    (await waiters[0])();
    expect(order).toEqual(['interactive shared', 'interactive exclusive', 'batch']);
  });

  it(`grants a waiting batch turn after ${BATCH_STARVATION_BOUND} interactive turns in a row`, async () => {
    const lock = new DecodeLock();
    const order: string[] = [];
    const holder = await lock.exclusive('interactive');
    const batch = lock.exclusive('batch').then((release) => (order.push('batch'), release));
    // A stream of interactive turns, each arriving while the one before holds the lock.
    let release = holder;
    for (let turn = 1; turn <= BATCH_STARVATION_BOUND + 2; turn++) {
      const next = lock.exclusive('interactive').then((r) => (order.push(`interactive ${turn}`), r));
      release();
      release = await Promise.race([next, batch]);
    }
    release();
    expect(order.indexOf('batch')).toBe(BATCH_STARVATION_BOUND);
  });

  it("serves a class's turn of the lowest rank first, the earliest admitted among equals", async () => {
    const lock = new DecodeLock();
    const order: string[] = [];
    const holder = await lock.exclusive('batch', ranked(64, 0));
    const waiters = [
      ['backfill', 63, 2],
      ['later single', 1, 4],
      ['other backfill', 63, 1],
      ['earlier single', 1, 3],
    ].map(([name, rank, since]) =>
      lock
        .exclusive('batch', ranked(rank as number, since as number))
        .then((release) => (order.push(name as string), release)),
    );
    holder();
    for (const index of [3, 1, 2, 0]) (await waiters[index])();
    expect(order).toEqual(['earlier single', 'later single', 'other backfill', 'backfill']);
  });

  it("reads a waiting turn's rank when it chooses the next turn, not when the turn was asked for", async () => {
    const lock = new DecodeLock();
    const order: string[] = [];
    const holder = await lock.exclusive('batch', ranked(0, 0));
    let outstanding = 10;
    const backfill = lock
      .exclusive('batch', { rank: () => outstanding, since: 1 })
      .then((release) => (order.push('backfill'), release));
    const single = lock.exclusive('batch', ranked(5, 2)).then((release) => (order.push('single'), release));
    outstanding = 1; // the backfill's other work was done meanwhile
    holder();
    (await backfill)();
    (await single)();
    expect(order).toEqual(['backfill', 'single']);
  });

  it('lets the earliest admitted request take its next turn after releasing one, ahead of a later one', async () => {
    const lock = new DecodeLock();
    const order: string[] = [];
    const first = await lock.exclusive('batch', ranked(1, 1));
    const later = lock.exclusive('batch', ranked(1, 2)).then((release) => (order.push('later'), release));
    // Released, and asked for again a few promise callbacks later, as answerQuestions does.
    const again = Promise.resolve()
      .then(() => first())
      .then(() => lock.exclusive('batch', ranked(1, 1)))
      .then((release) => (order.push('first again'), release));
    (await again)();
    (await later)();
    expect(order).toEqual(['first again', 'later']);
  });

  it(`grants the oldest turn of a class after ${OVERTAKE_BOUND} turns in a row went ahead of it`, async () => {
    const lock = new DecodeLock();
    const order: string[] = [];
    const holder = await lock.exclusive('batch', ranked(1, 0));
    const backfill = lock.exclusive('batch', ranked(100, 1)).then((release) => (order.push('backfill'), release));
    // A stream of single turns of lower rank, each arriving while the one before holds the lock.
    let release = holder;
    for (let turn = 1; turn <= OVERTAKE_BOUND + 2; turn++) {
      const next = lock.exclusive('batch', ranked(1, 1 + turn)).then((r) => (order.push(`single ${turn}`), r));
      release();
      release = await Promise.race([next, backfill]);
    }
    release();
    expect(order.indexOf('backfill')).toBe(OVERTAKE_BOUND);
  });
});
