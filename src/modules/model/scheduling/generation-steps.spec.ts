import type { LlamaContextSequence } from 'node-llama-cpp';
import { GenerationSteps, STEP_WAIT_CAP_MS } from './generation-steps.js';

const sequence = () => ({}) as LlamaContextSequence;
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Starts a step of `of` and records when it may go. */
function step(steps: GenerationSteps, of: LlamaContextSequence, started: LlamaContextSequence[]) {
  return steps.startStep(of).then(() => void started.push(of));
}

/** Two generations in a step, started together; `started` records every start. */
async function twoInStep() {
  const steps = new GenerationSteps();
  const [a, b] = [sequence(), sequence()];
  const started: LlamaContextSequence[] = [];
  await Promise.all([step(steps, a, started), step(steps, b, started)]);
  return { steps, a, b, started };
}

describe('GenerationSteps', () => {
  it('starts a lone generation at once', async () => {
    const steps = new GenerationSteps();
    const a = sequence();
    const started: LlamaContextSequence[] = [];
    await step(steps, a, started);
    expect(started).toEqual([a]);
  });

  it('holds a step while another generation is in its step, and starts both together after it', async () => {
    const { steps, a, b, started } = await twoInStep();
    steps.stepEnded(a); // b is still in its step: a waits, however long that takes
    const next = step(steps, a, started);
    await new Promise((resolve) => setTimeout(resolve, 3 * STEP_WAIT_CAP_MS));
    expect(started).toEqual([a, b]);
    steps.stepEnded(b);
    const both = step(steps, b, started);
    await Promise.all([next, both]);
    expect(started.slice(2)).toEqual([a, b]);
  });

  it('waits at most STEP_WAIT_CAP_MS for a generation between two steps', async () => {
    const { steps, a, b, started } = await twoInStep();
    steps.stepEnded(b); // between steps, and asks for no other
    steps.stepEnded(a);
    const asked = performance.now();
    const next = step(steps, a, started);
    await tick();
    expect(started).toEqual([a, b]);
    await next;
    expect(started).toEqual([a, b, a]);
    expect(performance.now() - asked).toBeGreaterThanOrEqual(STEP_WAIT_CAP_MS - 1);
  });

  it('stops waiting for a generation that leaves', async () => {
    const { steps, a, b, started } = await twoInStep();
    steps.stepEnded(a);
    const next = step(steps, a, started);
    await tick();
    steps.leave(b); // b's last step ended its generation
    await next;
    expect(started).toEqual([a, b, a]);
  });
});
