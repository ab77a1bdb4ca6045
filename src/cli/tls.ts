// `bluegreen-guard tls --config FILE`: the webhook pod's TLS sidecar for
// self-managed certificates. Checks on start and every checkIntervalSeconds;
// /ready turns 200 once the serving pair is in outDir, /live while checks do
// not keep failing. Composition root: config parsed once here.
import { AdmissionregistrationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { DirectoryServingPairSink, KubernetesCaBundleTarget, KubernetesTlsSecretStore } from '../tls/kubernetes-tls-ports.js';
import { rotateOnce } from '../tls/tls-rotator.js';

const USAGE = `usage: bluegreen-guard tls --config FILE

Keep the webhook's self-managed CA and serving certificate in a Secret, renew
them well before expiry, keep the webhook configuration's caBundle current and
write tls.crt/tls.key into outDir. The Helm chart runs it as a sidecar.

  --config FILE   YAML: secret {namespace, name}, webhookConfiguration, dnsNames,
                  outDir, caValidityDays, certValidityDays, renewBeforeDays,
                  checkIntervalSeconds, healthPort, logLevel`;

interface TlsConfig {
  secret: { namespace: string; name: string };
  webhookConfiguration: string;
  dnsNames: string[];
  outDir: string;
  caValidityDays: number;
  certValidityDays: number;
  renewBeforeDays: number;
  checkIntervalSeconds: number;
  healthPort: number;
  logLevel: string;
}

export function parseTlsConfig(raw: unknown): TlsConfig {
  const problems: string[] = [];
  const o = (raw ?? {}) as Record<string, unknown>;
  const str = (v: unknown, path: string): string => {
    if (typeof v === 'string' && v.trim() !== '') return v;
    problems.push(`${path}: must be a non-empty string, got ${JSON.stringify(v)}`);
    return '';
  };
  const int = (v: unknown, path: string, min: number, fallback: number): number => {
    if (v === undefined) return fallback;
    if (typeof v === 'number' && Number.isInteger(v) && v >= min) return v;
    problems.push(`${path}: must be a whole number ≥ ${min}, got ${JSON.stringify(v)}`);
    return fallback;
  };
  const secret = (o.secret ?? {}) as Record<string, unknown>;
  const config: TlsConfig = {
    secret: { namespace: str(secret.namespace, 'secret.namespace'), name: str(secret.name, 'secret.name') },
    webhookConfiguration: str(o.webhookConfiguration, 'webhookConfiguration'),
    dnsNames: Array.isArray(o.dnsNames) && o.dnsNames.length > 0 ? o.dnsNames.map((n, i) => str(n, `dnsNames[${i}]`)) : (problems.push('dnsNames: list the Service DNS names the API server calls'), []),
    outDir: str(o.outDir, 'outDir'),
    caValidityDays: int(o.caValidityDays, 'caValidityDays', 1, 3650),
    certValidityDays: int(o.certValidityDays, 'certValidityDays', 1, 365),
    renewBeforeDays: int(o.renewBeforeDays, 'renewBeforeDays', 0, 90),
    checkIntervalSeconds: int(o.checkIntervalSeconds, 'checkIntervalSeconds', 1, 3600),
    healthPort: int(o.healthPort, 'healthPort', 0, 9092),
    logLevel: typeof o.logLevel === 'string' ? o.logLevel : 'info',
  };
  if (config.renewBeforeDays >= config.certValidityDays) problems.push(`renewBeforeDays (${config.renewBeforeDays}) must be below certValidityDays (${config.certValidityDays})`);
  if (config.caValidityDays <= config.certValidityDays + config.renewBeforeDays) problems.push(`caValidityDays (${config.caValidityDays}) must exceed certValidityDays + renewBeforeDays`);
  if (problems.length > 0) throw new Error(`invalid tls configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return config;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.config) {
    process.stderr.write(`bluegreen-guard tls: --config FILE is required\n\n${USAGE}\n`);
    return 2;
  }
  const config = parseTlsConfig(parseYaml(readFileSync(values.config, 'utf8')));
  const log = pino({ level: config.logLevel, base: { component: 'tls' } });
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const ports = {
    secret: new KubernetesTlsSecretStore(kc.makeApiClient(CoreV1Api), config.secret.namespace, config.secret.name),
    caBundle: new KubernetesCaBundleTarget(kc.makeApiClient(AdmissionregistrationV1Api), config.webhookConfiguration),
    files: new DirectoryServingPairSink(config.outDir),
  };
  const policy = { caValidityDays: config.caValidityDays, certValidityDays: config.certValidityDays, renewBeforeDays: config.renewBeforeDays, dnsNames: config.dnsNames };

  let ready = false;
  let failuresInARow = 0;
  const server = createServer((req, res) => {
    const ok = req.url === '/ready' ? ready : req.url === '/live' ? failuresInARow < 5 : undefined;
    res.writeHead(ok === undefined ? 404 : ok ? 200 : 503, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ ready, failuresInARow }));
  });
  await new Promise<void>((resolve) => server.listen(config.healthPort, '0.0.0.0', resolve));
  log.info({ port: (server.address() as { port: number }).port, secret: `${config.secret.namespace}/${config.secret.name}` }, 'tls sidecar started');

  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  const check = async (): Promise<void> => {
    try {
      let result = await rotateOnce(new Date(), policy, ports);
      if (result.action === 'lost-race') result = await rotateOnce(new Date(), policy, ports);
      ready = result.action !== 'lost-race';
      failuresInARow = 0;
      const line = { action: result.action, reason: result.reason, caBundleUpdated: result.caBundleUpdated, filesUpdated: result.filesUpdated, renewAt: result.renewAt?.toISOString() };
      if (result.action === 'keep' && !result.caBundleUpdated && !result.filesUpdated) log.debug(line, 'certificates current');
      else log.info(line, 'certificates checked');
    } catch (err) {
      failuresInARow++;
      log.error({ err, failuresInARow }, 'certificate check failed; retrying');
    }
    if (!stopping) timer = setTimeout(() => void check(), (failuresInARow > 0 ? Math.min(config.checkIntervalSeconds, 10) : config.checkIntervalSeconds) * 1000);
  };
  await check();
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      stopping = true;
      if (timer) clearTimeout(timer);
      server.close(() => resolve());
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}
