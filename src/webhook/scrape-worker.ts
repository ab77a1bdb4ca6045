// The worker thread behind WorkerScrapeReader: runs the `up` query and the
// parse of its reply off the admission thread and answers with the change
// since its previous answer.
import { parentPort, workerData } from 'node:worker_threads';
import { PrometheusMetricsSource } from '../prometheus/prometheus-metrics-source.js';
import { PrometheusScrapeReader, type ScrapeWorkerData } from './scrape-reader.js';

const data = workerData as ScrapeWorkerData;
const reader = new PrometheusScrapeReader(new PrometheusMetricsSource({ url: data.url, timeoutMs: data.timeoutMs }), data);
const port = parentPort;
if (!port) throw new Error('scrape-worker runs as a worker thread of the webhook');

port.on('message', (request: { id: number; atMs: number }) => {
  reader.read(request.atMs).then(
    (delta) => port.postMessage({ id: request.id, ok: true, delta }),
    (err: unknown) => port.postMessage({ id: request.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
