// What a drill reads from Prometheus: the candidate's request counter (Istio's
// `istio_requests_total`, reporter destination) and when it was last scraped,
// so the drill can tell traffic arriving and traffic gone from a scrape that
// has not happened yet.
import type { MetricsSource } from '../prometheus/metrics-source.js';
import type { DrillTraffic } from './drill.js';
import type { ServiceKey } from './verdict.js';

const quote = (v: string) => JSON.stringify(v);

export class PrometheusDrillTraffic implements DrillTraffic {
  constructor(private readonly source: MetricsSource) {}

  async requests(key: ServiceKey, atSeconds: number): Promise<{ count: number; scrapedAtSeconds: number } | null> {
    const sel = `istio_requests_total{reporter="destination", destination_service_namespace=${quote(key.namespace)}, destination_service_name=${quote(key.service)}, destination_version=${quote(key.version)}}`;
    const [count, scraped] = await Promise.all([this.source.instantQuery(`sum(${sel})`, atSeconds), this.source.instantQuery(`max(timestamp(${sel}))`, atSeconds)]);
    const c = count[0]?.value;
    const t = scraped[0]?.value;
    return c === undefined || t === undefined || !Number.isFinite(c) || !Number.isFinite(t) ? null : { count: c, scrapedAtSeconds: t };
  }
}
