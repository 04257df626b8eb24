import { Agent, type IncomingHttpHeaders, request } from 'node:http';

/** One keep-alive connection pool for every benchmark request: loopback, plain HTTP. */
const agent = new Agent({ keepAlive: true });

export interface JsonReply {
  status: number;
  headers: IncomingHttpHeaders;
  /** From sending the request to the last byte of the reply. */
  ms: number;
  json: Record<string, any>;
}

/**
 * POSTs a JSON body with node:http. The benchmarks time requests of a few milliseconds, and
 * fetch (undici) adds ~1 ms of its own per request on this VM (paired overhead p50 1.75-2.0 ms
 * with fetch, 0.7-1.7 ms with this), which is the client's cost, not the service's.
 */
export function postJson(
  baseUrl: string,
  path: string,
  body: object,
  headers: Record<string, string> = {},
): Promise<JsonReply> {
  const payload = JSON.stringify(body);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const outgoing = request(
      new URL(path, baseUrl),
      {
        method: 'POST',
        agent,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          try {
            resolve({
              status: response.statusCode!,
              headers: response.headers,
              ms: performance.now() - started,
              json: JSON.parse(Buffer.concat(chunks).toString('utf8')),
            });
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}
