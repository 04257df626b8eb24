// Container health probe: `node dist/health-probe.js /health/ready` exits 0 when Duet answers the
// path with 2xx, else 1. The image's HEALTHCHECK and the Kubernetes probes run it: slim images have
// no curl, and an httpGet probe cannot send a bearer token kept in a Secret. When OPS_API_KEYS
// guards /health/*, the first key authenticates.
const path = process.argv[2] ?? '/health/ready';
const host = process.env.HOST ?? '';
const target = ['', '0.0.0.0', '::'].includes(host) ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
const key = (process.env.OPS_API_KEYS ?? '').split(',')[0].trim();

try {
  const response = await fetch(`http://${target}:${process.env.PORT || 8080}${path}`, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
    signal: AbortSignal.timeout(4000),
  });
  process.exitCode = response.ok ? 0 : 1;
} catch {
  process.exitCode = 1;
}
