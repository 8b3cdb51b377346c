// A tiny backend for local runs (run-local.sh): answers every request with what it received, so the
// effect of the gateway (stripped paths, X-Forwarded-* headers, dropped identity headers) is visible.
// Node's http module only; listens on loopback. Usage: node samples/demo-backend.mjs [port]
import http from 'node:http';

const port = Number(process.argv[2] ?? process.env.DEMO_BACKEND_PORT ?? 9080);
const host = '127.0.0.1';

const server = http.createServer((req, res) => {
  let size = 0;
  req.on('data', (chunk) => { size += chunk.length; });
  req.on('end', () => {
    const url = new URL(req.url, `http://${req.headers.host ?? host}`);
    const body = JSON.stringify({
      backend: 'demo-backend',
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body_bytes: size,
    }, null, 2) + '\n';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
});

server.on('error', (err) => {
  console.error(`demo-backend: cannot listen on ${host}:${port}: ${err.message}`);
  process.exit(1);
});

server.listen(port, host, () => console.log(`demo-backend listening on http://${host}:${port}`));

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
