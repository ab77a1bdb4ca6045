import { describe, expect, it } from '@jest/globals';
import { loadWebhookConfig, parseWebhookConfig, WebhookConfigError } from '../../src/config/webhook-config.js';

const files = (map: Record<string, string>) => (path: string) => {
  const text = map[path];
  if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
  return text;
};

function problemsOf(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof WebhookConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a WebhookConfigError');
}

describe('webhook config', () => {
  it('reads up as a stream unless prometheus.refreshIn says worker or main, and names the choices otherwise', () => {
    expect(loadWebhookConfig([]).prometheus.refreshIn).toBe('stream');
    expect(parseWebhookConfig({ prometheus: { refreshIn: 'worker' } }).prometheus.refreshIn).toBe('worker');
    expect(parseWebhookConfig({ prometheus: { url: 'http://prometheus:9090', refreshIn: 'main' } }).prometheus).toMatchObject({ url: 'http://prometheus:9090', refreshIn: 'main' });
    expect(problemsOf(() => parseWebhookConfig({ prometheus: { refreshIn: 'thread' } })).join('\n')).toMatch(/prometheus\.refreshIn.*stream.*worker.*main/);
  });

  it('has working defaults without a file', () => {
    const c = loadWebhookConfig([]);
    expect(c.admission).toEqual({
      host: '0.0.0.0',
      port: 8443,
      path: '/validate',
      bodyLimitBytes: 6 * 1024 * 1024,
      workBound: { maxRoutes: 1000, maxDestinations: 4000, maxMatches: 4000 },
      maxConcurrentReviews: 2,
      maxQueuedReviews: 64,
      handshakeTimeoutMs: 10_000,
      maxConnections: 256,
    });
    expect(c.metrics.port).toBe(9090);
    expect(c.kubernetes).toMatchObject({ kubeconfig: null, cacheScope: 'cluster', istioApiVersion: 'v1' });
    expect(c.rules.rootNamespace).toBe('istio-system');
    expect(c.rules.modes['canary-first']).toBe('warn');
  });

  it('reads the YAML file and lets flags override it', () => {
    const yaml = `
admission:
  port: 9443
  bodyLimitBytes: 4194304
tls:
  certFile: /tls/tls.crt
  keyFile: /tls/tls.key
metrics:
  port: 9100
kubernetes:
  cacheScope: guarded-namespaces
logLevel: debug
rules:
  rootNamespace: mesh-root
  modes:
    probes: warn
`;
    const c = loadWebhookConfig(['--config', '/etc/c.yaml', '--port', '10443', '--root-namespace', 'istio-config', '--cert-file', '/other.crt'], files({ '/etc/c.yaml': yaml }));
    expect(c.admission).toMatchObject({ host: '0.0.0.0', port: 10443, path: '/validate', bodyLimitBytes: 4194304 });
    expect(c.tls).toEqual({ certFile: '/other.crt', keyFile: '/tls/tls.key', pollIntervalSeconds: 10 });
    expect(c.metrics.port).toBe(9100);
    expect(c.kubernetes.cacheScope).toBe('guarded-namespaces');
    expect(c.logLevel).toBe('debug');
    expect(c.rules.rootNamespace).toBe('istio-config');
    expect(c.rules.modes.probes).toBe('warn');
  });

  it('reports every problem at once, naming the field and the fix', () => {
    const problems = problemsOf(() =>
      parseWebhookConfig({
        admission: { port: 70000, bodyLimitBytes: 1048576, path: 'validate' },
        metrics: { port: 'nine' },
        kubernetes: { cacheScope: 'everything', stallSeconds: 30 },
        logLevel: 'loud',
        tsl: {},
        rules: { modes: { probes: 'maybe' } },
      }),
    );
    expect(problems).toEqual([
      'tsl: unknown field; fix: remove it or correct the spelling (known here: admission, tls, metrics, kubernetes, shutdownGraceSeconds, logLevel, prometheus, mesh, rules)',
      'admission.port: must be ≤ 65535, got 70000; fix: lower it (default 8443)',
      'admission.path: must start with "/", got "validate"',
      'admission.bodyLimitBytes: must be ≥ 3145728, got 1048576; the API server sends objects up to 3 MiB (--max-request-bytes); fix: set at least 3145728',
      'metrics.port: must be a whole number, got "nine"; fix: write a plain number (default 9090)',
      'kubernetes.cacheScope: must be one of cluster, guarded-namespaces, got "everything"',
      'kubernetes.stallSeconds: must be ≥ 70, got 30; the API server sends a watch bookmark only about once a minute; fix: set at least 70 (default 90)',
      'logLevel: must be one of fatal, error, warn, info, debug, trace, got "loud"',
      expect.stringMatching(/^rules: rules config: modes\.probes is 'maybe'\. Fix: set it to one of deny, warn, off\.$/),
    ]);
  });

  it('accepts the 3 MiB minimum body limit and refuses one port for both servers', () => {
    expect(parseWebhookConfig({ admission: { bodyLimitBytes: 3 * 1024 * 1024 } }).admission.bodyLimitBytes).toBe(3145728);
    expect(problemsOf(() => parseWebhookConfig({ admission: { port: 9000 }, metrics: { port: 9000 } }))).toEqual([
      'metrics.port: 9000 is also admission.port; fix: give the metrics their own port (default 9090)',
    ]);
  });

  it('reads the admission limits: work bound, concurrency and queue, TLS handshake timeout, connection cap', () => {
    const yaml = `
admission:
  workBound: { maxRoutes: 5000, maxDestinations: 20000, maxMatches: 30000 }
  maxConcurrentReviews: 4
  maxQueuedReviews: 0
  handshakeTimeoutMs: 3000
  maxConnections: 1024
`;
    const c = loadWebhookConfig(['--config', '/etc/c.yaml'], files({ '/etc/c.yaml': yaml }));
    expect(c.admission).toMatchObject({
      workBound: { maxRoutes: 5000, maxDestinations: 20000, maxMatches: 30000 },
      maxConcurrentReviews: 4,
      maxQueuedReviews: 0,
      handshakeTimeoutMs: 3000,
      maxConnections: 1024,
    });
    // One key given, the others keep their defaults.
    expect(parseWebhookConfig({ admission: { workBound: { maxRoutes: 10 } } }).admission.workBound).toEqual({ maxRoutes: 10, maxDestinations: 4000, maxMatches: 4000 });
  });

  it('refuses admission limits that cannot work, naming the key and the fix', () => {
    const problems = problemsOf(() =>
      parseWebhookConfig({
        admission: {
          workBound: { maxRoutes: 0, maxDestinations: 1.5, maxMatch: 10 },
          maxConcurrentReviews: 0,
          maxQueuedReviews: -1,
          handshakeTimeoutMs: 10,
          maxConnections: 2,
        },
      }),
    );
    expect(problems).toEqual([
      'admission.workBound.maxMatch: unknown field; fix: remove it or correct the spelling (known here: maxRoutes, maxDestinations, maxMatches)',
      'admission.workBound.maxRoutes: must be ≥ 1, got 0; fix: raise it (default 1000)',
      'admission.workBound.maxDestinations: must be a whole number, got number 1.5; fix: write a plain number (default 4000)',
      'admission.maxConcurrentReviews: must be ≥ 1, got 0; at least one review must be judged at a time; fix: set at least 1 (default 2)',
      'admission.maxQueuedReviews: must be ≥ 0, got -1; fix: raise it (default 64)',
      'admission.handshakeTimeoutMs: must be ≥ 1000, got 10; a TLS handshake over a busy network can take a few hundred milliseconds; fix: set at least 1000 (default 10000)',
      'admission.maxConnections: must be ≥ 8, got 2; the API server opens several connections per replica and the kubelet probes need their own; fix: set at least 8 (default 256)',
    ]);
    expect(problemsOf(() => parseWebhookConfig({ admission: { workBound: [1000], maxConcurrentReviews: 65 } }))).toEqual([
      'admission.workBound: must be a mapping, got a list; fix: write it as key: value pairs',
      'admission.maxConcurrentReviews: must be ≤ 64, got 65; fix: lower it (default 2)',
    ]);
  });

  it('names the flag that set a bad value', () => {
    expect(problemsOf(() => loadWebhookConfig(['--port', 'https']))).toEqual([
      'admission.port: must be a whole number, got "https"; fix: write a plain number (default 8443) (set by --port)',
    ]);
  });

  it('says when the config file is missing or not YAML', () => {
    expect(problemsOf(() => loadWebhookConfig(['--config', '/nope.yaml'], files({})))[0]).toMatch(/^--config \/nope\.yaml: cannot read it \(ENOENT/);
    expect(problemsOf(() => loadWebhookConfig(['--config', '/bad.yaml'], files({ '/bad.yaml': 'admission: [port: 1' })))[0]).toMatch(/^--config \/bad\.yaml: not valid YAML/);
  });

  it('reads the mesh section and hands its values to the rules', () => {
    const c = parseWebhookConfig({ mesh: { defaultStableSubset: 'blue', clusterDomain: 'mesh.example', rootNamespace: 'mesh-root', guardLabel: 'corp.example/guarded' } });
    expect(c.mesh).toEqual({ defaultStableSubset: 'blue', clusterDomain: 'mesh.example', rootNamespace: 'mesh-root', guardLabel: 'corp.example/guarded', versionLabel: 'version' });
    expect(c.rules).toMatchObject({ defaultStableSubset: 'blue', clusterDomain: 'mesh.example', rootNamespace: 'mesh-root' });
    expect(c.warnings).toEqual([]);
  });

  it('still reads rules.clusterDomain, rules.rootNamespace and rules.defaultStableSubset, with a deprecation warning each', () => {
    const c = parseWebhookConfig({ rules: { clusterDomain: 'corp.internal', defaultStableSubset: 'blue' } });
    expect(c.mesh).toMatchObject({ clusterDomain: 'corp.internal', defaultStableSubset: 'blue', rootNamespace: 'istio-system' });
    expect(c.rules).toMatchObject({ clusterDomain: 'corp.internal', defaultStableSubset: 'blue' });
    expect(c.warnings).toEqual([
      'rules.defaultStableSubset is deprecated: the webhook and the watcher now read it from mesh.defaultStableSubset; fix: move it there',
      'rules.clusterDomain is deprecated: the webhook and the watcher now read it from mesh.clusterDomain; fix: move it there',
    ]);
  });

  it('refuses a deprecated rules key that disagrees with mesh, and a bad mesh value, naming the field and the fix', () => {
    expect(problemsOf(() => parseWebhookConfig({ mesh: { defaultStableSubset: 'blue', clusterDomain: 'a..b' }, rules: { defaultStableSubset: 'green' } }))).toEqual([
      'rules.defaultStableSubset ("green") and mesh.defaultStableSubset ("blue") disagree; the webhook and the watcher must read the same value; fix: remove rules.defaultStableSubset and keep mesh.defaultStableSubset',
      'mesh.clusterDomain: "a..b" is not a DNS domain; fix: the cluster domain the kubelet uses (--cluster-domain), e.g. cluster.local',
    ]);
  });

  it('lets --cluster-domain and --root-namespace override the file, its deprecated keys included', () => {
    const yaml = 'mesh: {clusterDomain: mesh.example}\nrules: {rootNamespace: old-root}\n';
    const c = loadWebhookConfig(['--config', '/c.yaml', '--cluster-domain', 'corp.internal', '--root-namespace', 'mesh-root'], files({ '/c.yaml': yaml }));
    expect(c.mesh).toMatchObject({ clusterDomain: 'corp.internal', rootNamespace: 'mesh-root' });
    expect(c.rules).toMatchObject({ clusterDomain: 'corp.internal', rootNamespace: 'mesh-root' });
  });

  it('refuses unknown flags', () => {
    expect(() => loadWebhookConfig(['--prot', '1'])).toThrow(/Unknown option '--prot'/);
  });
});
