import { Agent, request } from 'node:http';
import type { FuzzRequest, FuzzResponse } from './fuzz-requests.js';

/** Kept-alive loopback connections, opened as concurrency needs them. */
const agent = new Agent({ keepAlive: true });

export interface TimedResponse extends FuzzResponse {
  /** From sending the request to the last byte of the response. */
  ms: number;
}

/**
 * Sends a request as given (method, raw path, raw body) with node:http: fetch would normalize
 * the path and refuse some methods. Fails after `timeoutMs` without a response.
 */
export function sendRequest(baseUrl: string, outgoing: FuzzRequest, timeoutMs = 30_000): Promise<TimedResponse> {
  const { hostname, port } = new URL(baseUrl);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const headers = { ...outgoing.headers };
    if (outgoing.payload !== undefined) headers['content-length'] = String(Buffer.byteLength(outgoing.payload));
    const sent = request(
      { hostname, port, path: outgoing.url, method: outgoing.method, headers, agent, timeout: timeoutMs },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          resolve({
            status: response.statusCode!,
            headers: response.headers,
            body: Buffer.concat(chunks),
            ms: performance.now() - started,
          }),
        );
      },
    );
    sent.on('timeout', () =>
      sent.destroy(new Error(`no response to ${outgoing.method} ${outgoing.url} in ${timeoutMs} ms`)),
    );
    sent.on('error', reject);
    sent.end(outgoing.payload);
  });
}
