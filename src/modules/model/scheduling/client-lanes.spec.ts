import { Backlog, type Work } from './backlog.js';
import { ClientLanes } from './client-lanes.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

const notStarted = (reason: unknown) => new Error(`not started: ${String(reason)}`);

/** A backlog and lanes, and a way to admit work into both. */
function lanesWithBacklog() {
  const backlog = new Backlog();
  const lanes = new ClientLanes();
  const admit = (work: Partial<Work> & { units: number }) => {
    const ticket = backlog.add({ trafficClass: 'batch', kind: 'classification', ...work });
    lanes.join(ticket);
    return ticket;
  };
  /** Records when `ticket`'s turn comes. */
  const turnOf = (ticket: ReturnType<typeof admit>, signal?: AbortSignal) => {
    const state = { started: false, waited: undefined as boolean | undefined, error: undefined as unknown };
    lanes.turn(ticket, signal, notStarted).then(
      (waited) => Object.assign(state, { started: true, waited }),
      (error: unknown) => (state.error = error),
    );
    return state;
  };
  return { lanes, admit, turnOf };
}

describe('ClientLanes', () => {
  it("runs a client's requests of several units one after another, in admission order", async () => {
    const { lanes, admit, turnOf } = lanesWithBacklog();
    const [first, second, third] = [admit({ units: 32 }), admit({ units: 32 }), admit({ units: 8 })];
    const turns = [turnOf(third), turnOf(second), turnOf(first)];
    await tick();
    expect(turns.map((turn) => turn.started)).toEqual([false, false, true]);
    expect(turns[2].waited).toBe(false);
    expect(lanes.waiting).toBe(2);
    first.end();
    await tick();
    expect(turns.map((turn) => turn.started)).toEqual([false, true, true]);
    expect(turns[1].waited).toBe(true);
    second.end();
    await tick();
    expect(turns[0].started).toBe(true);
    expect(lanes.waiting).toBe(0);
  });

  it('keeps one lane per client and class: other clients, and interactive work, do not wait', async () => {
    const { admit, turnOf } = lanesWithBacklog();
    admit({ units: 32, client: 'flood' });
    const turns = [
      turnOf(admit({ units: 4, client: 'other' })),
      turnOf(admit({ units: 4, client: 'flood', trafficClass: 'interactive' })),
      turnOf(admit({ units: 4, client: 'flood' })),
    ];
    await tick();
    expect(turns.map((turn) => turn.started)).toEqual([true, true, false]);
  });

  it('lets a request that has no place in a lane (a single unit) start at once', async () => {
    const { lanes, admit } = lanesWithBacklog();
    admit({ units: 32 });
    const single = new Backlog().add({ trafficClass: 'batch', kind: 'classification', units: 1 });
    await expect(lanes.turn(single, undefined, notStarted)).resolves.toBe(false);
    await expect(lanes.turn(undefined, undefined, notStarted)).resolves.toBe(false);
  });

  it('gives up a waiting request whose signal fires, and one that leaves its place frees it for the next', async () => {
    const { lanes, admit, turnOf } = lanesWithBacklog();
    const first = admit({ units: 32 });
    const [second, third] = [admit({ units: 32 }), admit({ units: 32 })];
    const controller = new AbortController();
    const secondTurn = turnOf(second, controller.signal);
    const thirdTurn = turnOf(third);
    controller.abort('deadline');
    await tick();
    expect(secondTurn.error).toEqual(new Error('not started: deadline'));
    second.end(); // the request ends: its place goes
    first.end();
    await tick();
    expect(thirdTurn.started).toBe(true);
    expect(lanes.waiting).toBe(0);
    const aborted = AbortSignal.abort('gone');
    const fourth = admit({ units: 2 });
    admit({ units: 2 });
    await expect(lanes.turn(admit({ units: 2 }), aborted, notStarted)).rejects.toThrow('not started: gone');
    third.end();
    await expect(lanes.turn(fourth, aborted, notStarted)).resolves.toBe(false);
  });
});
