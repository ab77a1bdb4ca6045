import { describe, expect, it } from '@jest/globals';
import { defaultWatcherConfig, parseWatcherConfig, WatcherConfigError } from '../../../src/config/watcher-config.js';
import { DEFAULT_ERROR_RATIO_QUERY } from '../../../src/prometheus/query-templates.js';

function problems(raw: unknown): string[] {
  try {
    parseWatcherConfig(raw);
  } catch (err) {
    if (err instanceof WatcherConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a WatcherConfigError');
}

describe('parseWatcherConfig', () => {
  it('gives the seed defaults for an empty document', () => {
    const c = parseWatcherConfig({});
    expect(c).toEqual(defaultWatcherConfig());
    expect(c).toMatchObject({
      intervalSeconds: 15,
      errorRate: { ratio: 0.05, windowSeconds: 120 },
      latencyP99: { thresholdMs: 2000, consecutiveMinutes: 3 },
      earlyWindow: { durationSeconds: 300, errorRatio: 0.005, latencyP99Ms: 800, errorLogsPerSecond: 2, circuitBreakerOpen: 0 },
      holdSeconds: 600,
      dryRun: false,
      lease: { durationSeconds: 15 },
      promotion: { enabled: false, labelKey: 'env', labelValue: 'prod' },
    });
    expect(parseWatcherConfig(null)).toEqual(defaultWatcherConfig());
  });

  it('overrides only what is given', () => {
    const c = parseWatcherConfig({
      prometheusUrl: 'http://prometheus.monitoring:9090',
      errorRate: { ratio: 0.02 },
      queries: { circuitBreakerOpen: { query: 'sum by (namespace, app, version) (x)', labels: { namespace: 'namespace', service: 'app', version: 'version' } } },
      alerts: { extraLabels: { cluster: 'prod-eu' } },
      smokeTest: { url: 'http://{{service}}.{{namespace}}.svc/health-check' },
    });
    expect(c.errorRate).toEqual({ ratio: 0.02, windowSeconds: 120, stepSeconds: 15, rateWindowSeconds: 60 });
    expect(c.queries.errorRatio.query).toBe(DEFAULT_ERROR_RATIO_QUERY);
    expect(c.queries.circuitBreakerOpen?.labels.service).toBe('app');
    expect(c.queries.errorLogs).toBeNull();
    expect(c.alerts.extraLabels).toEqual({ cluster: 'prod-eu' });
    expect(c.prometheusUrl).toBe('http://prometheus.monitoring:9090');
  });

  it('with recordingRules, reads the recorded series for the two rollback rules and keeps the rest', () => {
    const c = parseWatcherConfig({ queries: { recordingRules: true } });
    expect(c.queries.recordingRules).toBe(true);
    expect(c.queries.errorRatio.query).toContain('namespace_service_version:istio_requests_5xx:rate{{rateWindow}}');
    expect(c.queries.latencyP99.query).toBe('namespace_service_version:istio_request_duration_milliseconds_p99:rate{{rateWindow}}');
    expect(c.queries.errorRatio.labels).toEqual(parseWatcherConfig({}).queries.errorRatio.labels);
    expect(parseWatcherConfig({}).queries.recordingRules).toBe(false);
  });

  it.each<[string, unknown, string]>([
    ['a misspelt field', { errorRate: { ratoi: 0.1 } }, 'errorRate.ratoi: unknown field; fix: remove it or correct the spelling (known here: ratio, windowSeconds, stepSeconds, rateWindowSeconds)'],
    ['a ratio given as a percentage', { errorRate: { ratio: 5 } }, 'errorRate.ratio: must be ≤ 1, got 5; fix: lower it (default 0.05)'],
    ['a string where a number belongs', { latencyP99: { thresholdMs: '2s' } }, 'latencyP99.thresholdMs: must be a number, got "2s"'],
    ['a window that is not a multiple of the step', { errorRate: { windowSeconds: 100 } }, 'errorRate.windowSeconds (100) must be a multiple of errorRate.stepSeconds (15)'],
    ['fractional minutes', { latencyP99: { consecutiveMinutes: 2.5 } }, 'latencyP99.consecutiveMinutes: must be a whole number, got 2.5'],
    ['a URL without scheme', { prometheusUrl: 'prometheus:9090' }, 'prometheusUrl: must be an http:// or https:// URL'],
    ['a required query set to null', { queries: { latencyP99: null } }, 'queries.latencyP99: cannot be null'],
    ['a bad label name', { queries: { errorLogs: { query: 'x', labels: { service: 'app-name' } } } }, 'queries.errorLogs.labels.service: "app-name" is not a valid Prometheus label name'],
    ['a renew deadline past the lease', { lease: { renewDeadlineSeconds: 20 } }, 'lease.renewDeadlineSeconds (20) must be below lease.durationSeconds (15)'],
    ['an unknown severity', { blind: { severity: 'page' } }, 'blind.severity: must be one of critical, warning, info, got "page"'],
    ['a bad regex', { alerts: { ignoreAlertnameRegex: '(' } }, 'alerts.ignoreAlertnameRegex: "(" is not a valid regular expression'],
    ['a list as the document', [1], 'the configuration: must be a mapping, got a list'],
    ['recorded series and an own template at once', { queries: { recordingRules: true, errorRatio: { query: 'x' } } }, 'queries.errorRatio: set together with queries.recordingRules: true, which reads the chart\'s recorded series instead; fix: remove one of them'],
  ])('rejects %s, naming the field and the fix', (_name, raw, expected) => {
    expect(problems(raw).join('\n')).toContain(expected);
  });

  it('reports every problem at once', () => {
    expect(problems({ intervalSeconds: 0, dryRun: 'yes', holdSeconds: -1 })).toHaveLength(3);
  });
});
