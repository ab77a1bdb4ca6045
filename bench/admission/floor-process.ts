// The floor: a bare node:https server with the webhook's certificate and
// keep-alive settings that reads the whole request body and answers a fixed
// allowed AdmissionReview. No framework, no parsing, no rules: what any
// Node HTTPS webhook pays at least, measured on the same machine, under the
// same load generator, in the same run.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { childInput, reportStartFailure, serveParent } from '../lib/bench-child.js';

const ANSWER = Buffer.from(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: '00000000-0000-0000-0000-000000000000', allowed: true } }));

function main(): void {
  const input = childInput<{ certFile: string; keyFile: string }>();
  const server = createServer({ cert: readFileSync(input.certFile), key: readFileSync(input.keyFile), minVersion: 'TLSv1.2' }, (req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': ANSWER.length });
      res.end(ANSWER);
    });
  });
  server.keepAliveTimeout = 95_000;
  server.headersTimeout = 30_000;
  server.requestTimeout = 30_000;
  server.listen(0, '127.0.0.1', () => {
    serveParent({ port: (server.address() as AddressInfo).port }, {}, () => new Promise<void>((r) => server.close(() => r())));
  });
  server.on('error', reportStartFailure);
}

main();
