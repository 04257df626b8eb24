import { RequestAbortedError } from '../model.errors.js';
import { paddedLengths, RoundGatherer } from './round-gatherer.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));
/** A window no test waits out: a round that depends on it never starts within the test. */
const NEVER = 3_600_000;

/** Records, per member, the order members start in and the padding each is given. */
function recorder() {
  const started: Array<{ order: number; padding: number }> = [];
  const track = (order: number) => (padding: number) => void started.push({ order, padding });
  return { started, track };
}

describe('RoundGatherer', () => {
  const signal = new AbortController().signal;

  it('starts a lone classification at once, whatever the window', async () => {
    const gatherer = new RoundGatherer(NEVER, 4);
    await expect(gatherer.arrive().join(2, 40, signal)).resolves.toBe(0);
    expect(gatherer.roundsByMembers).toEqual(new Map([[1, 1]]));
  });

  it('waits for classifications on their way, then starts them in sequence order padded to one length', async () => {
    const gatherer = new RoundGatherer(NEVER, 4);
    const { started, track } = recorder();
    const arrivals = [0, 1, 2].map(() => gatherer.arrive());
    const joined = [arrivals[0].join(3, 40, signal).then(track(3)), arrivals[1].join(0, 45, signal).then(track(0))];
    await tick();
    expect(started).toEqual([]); // a third is on its way
    joined.push(arrivals[2].join(1, 43, signal).then(track(1)));
    await Promise.all(joined);
    expect(started).toEqual([
      { order: 0, padding: 0 },
      { order: 1, padding: 2 },
      { order: 3, padding: 5 },
    ]);
    expect(gatherer.roundsByMembers).toEqual(new Map([[3, 1]]));
  });

  it('does not pad short members to a far longer one', async () => {
    const gatherer = new RoundGatherer(NEVER, 3);
    const arrivals = [0, 1, 2].map(() => gatherer.arrive());
    const paddings = await Promise.all([
      arrivals[0].join(0, 30, signal),
      arrivals[1].join(1, 80, signal),
      arrivals[2].join(2, 31, signal),
    ]);
    expect(paddings).toEqual([1, 0, 0]);
  });

  it('starts without one that left before joining', async () => {
    const gatherer = new RoundGatherer(NEVER, 4);
    const [first, failed] = [gatherer.arrive(), gatherer.arrive()];
    const joined = first.join(0, 10, signal);
    failed.leave();
    await expect(joined).resolves.toBe(0);
  });

  it('expects as many as the last round had, for at most the window', async () => {
    const gatherer = new RoundGatherer(50, 4);
    const pair = [gatherer.arrive(), gatherer.arrive()];
    await Promise.all([pair[0].join(0, 5, signal), pair[1].join(1, 5, signal)]);
    pair.forEach((arrival) => arrival.leave());
    const { started, track } = recorder();
    const lone = gatherer.arrive();
    const joined = lone.join(0, 5, signal).then(track(0));
    await tick();
    expect(started).toEqual([]); // the last round had two
    await joined; // the window ends the wait
    lone.leave();
    await expect(gatherer.arrive().join(0, 5, signal)).resolves.toBe(0); // and the next expects one
  });

  it('starts a ready round only once every member of the round before has left', async () => {
    const gatherer = new RoundGatherer(0, 4);
    const first = gatherer.arrive();
    await first.join(0, 5, signal);
    const { started, track } = recorder();
    const next = [gatherer.arrive(), gatherer.arrive()];
    const joined = [next[0].join(2, 5, signal).then(track(2)), next[1].join(1, 9, signal).then(track(1))];
    await tick();
    expect(started).toEqual([]); // sequence 0 is still evaluating
    first.leave();
    await Promise.all(joined);
    expect(started).toEqual([
      { order: 1, padding: 0 },
      { order: 2, padding: 4 },
    ]);
  });

  it('starts a round once every sequence has a member', async () => {
    const gatherer = new RoundGatherer(NEVER, 2);
    const arrivals = [0, 1, 2].map(() => gatherer.arrive());
    await expect(Promise.all([arrivals[0].join(1, 3, signal), arrivals[1].join(0, 7, signal)])).resolves.toEqual([
      4, 0,
    ]);
    arrivals[2].leave();
  });

  it('lets an aborted member leave at once; the others still start together', async () => {
    const gatherer = new RoundGatherer(NEVER, 4);
    const arrivals = [0, 1, 2].map(() => gatherer.arrive());
    const abort = new AbortController();
    const { started, track } = recorder();
    const leaving = arrivals[0].join(0, 99, abort.signal);
    const staying = arrivals[1].join(1, 10, signal).then(track(1));
    abort.abort('client gone');
    await expect(leaving).rejects.toBeInstanceOf(RequestAbortedError);
    expect(started).toEqual([]);
    await arrivals[2].join(2, 12, signal).then(track(2));
    await staying;
    // The longest member left: the padding is to the longest of those that stayed.
    expect(started).toEqual([
      { order: 1, padding: 2 },
      { order: 2, padding: 0 },
    ]);
  });

  it('with a window of 0 never waits', async () => {
    const gatherer = new RoundGatherer(0, 4);
    const [first] = [gatherer.arrive(), gatherer.arrive()];
    await expect(first.join(0, 1, signal)).resolves.toBe(0);
  });
});

describe('paddedLengths', () => {
  it('leaves equal lengths as they are', () => {
    expect(paddedLengths([32, 32, 32, 32])).toEqual([32, 32, 32, 32]);
  });

  it('pads similar lengths to one and keeps apart what would cost more to pad than a micro-batch', () => {
    // Four at 38: 24 filler tokens for one micro-batch; 30 and 38: 8 filler tokens for two.
    expect(paddedLengths([38, 26, 34, 30])).toEqual([38, 30, 38, 30]);
  });

  it('pads everything to the longest when micro-batches cost more than any padding, nothing when free', () => {
    expect(paddedLengths([38, 26, 34, 30], 1000)).toEqual([38, 38, 38, 38]);
    expect(paddedLengths([38, 26, 34, 30], 0)).toEqual([38, 26, 34, 30]);
  });
});
