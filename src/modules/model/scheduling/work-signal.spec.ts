import { jest } from '@jest/globals';
import { WorkSignal } from './work-signal.js';

const timedOut = { kind: 'timeout', afterMs: 2000 };
const clientGone = { kind: 'client_gone' };

describe('WorkSignal', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('fires with the request before the work starts, deadline or not', () => {
    for (const reason of [timedOut, clientGone]) {
      const request = new AbortController();
      const work = new WorkSignal(request.signal);
      request.abort(reason);
      expect(work.signal.aborted).toBe(true);
      expect(work.signal.reason).toBe(reason);
    }
  });

  it('fires at once when the request had already fired', () => {
    const request = new AbortController();
    request.abort(timedOut);
    expect(new WorkSignal(request.signal).signal.reason).toBe(timedOut);
  });

  it('once started, fires for a deadline only its grace later, and for a client gone at once', () => {
    const deadline = new AbortController();
    const late = new WorkSignal(deadline.signal);
    late.started(300);
    deadline.abort(timedOut);
    jest.advanceTimersByTime(299);
    expect(late.signal.aborted).toBe(false);
    jest.advanceTimersByTime(1);
    expect(late.signal.reason).toBe(timedOut);

    const client = new AbortController();
    const left = new WorkSignal(client.signal);
    left.started(300);
    client.abort(clientGone);
    expect(left.signal.reason).toBe(clientGone);
  });

  it('without a grace (nothing measured yet), fires at the deadline', () => {
    const request = new AbortController();
    const work = new WorkSignal(request.signal);
    work.started(0);
    request.abort(timedOut);
    expect(work.signal.aborted).toBe(true);
  });

  it('stops following the request once disposed, pending grace included', () => {
    const request = new AbortController();
    const work = new WorkSignal(request.signal);
    work.started(300);
    request.abort(timedOut);
    work.dispose();
    jest.advanceTimersByTime(1000);
    expect(work.signal.aborted).toBe(false);

    const unfollowed = new AbortController();
    const done = new WorkSignal(unfollowed.signal);
    done.dispose();
    unfollowed.abort(clientGone);
    expect(done.signal.aborted).toBe(false);
  });
});
