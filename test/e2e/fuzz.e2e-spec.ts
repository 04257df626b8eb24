import fc from 'fast-check';
import {
  FuzzRequest,
  jsonRequest,
  otherRequest,
  rawRequest,
  responseProblem,
  shapedRequest,
} from '../support/fuzz-requests.js';
import { startTestApp, TestApp } from '../support/test-app.js';

/** Fixed, so a failure here is the same failure on the next run; `npm run fuzz` draws new seeds. */
const SEED = 20261201;

describe('generated requests to every route (fast-check, in-process)', () => {
  let t: TestApp;
  let sent = 0;
  beforeAll(async () => {
    // Two tokens per reply (JSON answers too): the few valid chat requests cost the tiny model milliseconds.
    t = await startTestApp({ CHAT_MAX_TOKENS: '2', STRUCTURED_MAX_TOKENS: '2' });
  });
  afterAll(() => t.close());

  async function send(request: FuzzRequest) {
    sent++;
    const response = await t.app
      .getHttpAdapter()
      .getInstance()
      .inject({
        method: request.method as 'GET',
        url: request.url,
        headers: request.headers,
        payload: request.payload,
      });
    return { status: response.statusCode, headers: response.headers, body: response.rawPayload };
  }

  it.each([
    ['bodies shaped like each route’s request', shapedRequest, 800],
    ['any JSON value as the body', jsonRequest, 600],
    ['bodies not JSON, cut short, too deep, too wide or poisoned', rawRequest, 400],
    ['any method on the routes and other paths', otherRequest, 400],
  ])('%s: no 5xx, every error in its route’s shape and within the cap', async (_kind, requests, numRuns) => {
    await fc.assert(
      fc.asyncProperty(requests, async (request) => {
        expect(responseProblem(request, await send(request))).toBeUndefined();
      }),
      { numRuns, seed: SEED },
    );
    // The burst left the process answering at once.
    const started = performance.now();
    expect((await t.get('/health/live')).statusCode).toBe(200);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('sent at least 2,000 requests', () => {
    expect(sent).toBeGreaterThanOrEqual(2000);
  });
});
