/* eslint-disable @typescript-eslint/no-unsafe-member-access -- tests edit raw API objects (untyped JSON) in place */
// probes with probePaths: the runbook's "synthetic health check endpoint (/live and /ready)".
// Off by default; when configured, every container's HTTP probes must use those paths.
import { describe, expect, it } from '@jest/globals';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig, parseRulesConfig, type RulesConfig } from '../../../src/webhook/rules-config.js';
import { currentAndEdited, find, primaryTo, shopObjects, stateOf, update, type Json } from './world.js';

const REQUIRED = parseRulesConfig({ probePaths: { readinessPath: '/ready', livenessPath: '/live' } });
const CANARY = 'VirtualService shop/web routes traffic to subset blue of web.shop.svc.cluster.local (100% in http[0] "testers", 1% in http[2] "primary"), but ';

function probes(edit: (containers: Json[]) => void, config: RulesConfig): string[] {
  const objects = shopObjects();
  const d = find(objects, 'Deployment', 'shop', 'web-v2');
  edit(d.spec.template.spec.containers as Json[]);
  const { old, next } = currentAndEdited(primaryTo(1));
  return review(update(old, next), stateOf(objects), config)
    .findings.filter((f) => f.rule === 'probes')
    .map((f) => f.message);
}

const container = (cs: Json[], name: string): Json => {
  const c = cs.find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
};

describe('probes: required probe paths', () => {
  it.each<[string, (cs: Json[]) => void, RulesConfig, string[]]>([
    ['probes on /ready and /live', () => {}, REQUIRED, []],
    ['any path while probePaths is not set (the default)', (cs) => (container(cs, 'web').readinessProbe.httpGet.path = '/healthz'), defaultRulesConfig(), []],
    [
      "web's readinessProbe on /healthz",
      (cs) => (container(cs, 'web').readinessProbe.httpGet.path = '/healthz'),
      REQUIRED,
      [
        `${CANARY}Deployment shop/web-v2's probes do not use the required paths: container web's readinessProbe checks /healthz, not /ready. ` +
          'Fix: give every container of Deployment shop/web-v2 a readinessProbe httpGet.path /ready and a livenessProbe httpGet.path /live (the rules config\'s probePaths), roll it out, then raise the weight.',
      ],
    ],
    [
      "log-shipper's livenessProbe a TCP check, web's without a path (Kubernetes' default /)",
      (cs) => {
        container(cs, 'log-shipper').livenessProbe = { tcpSocket: { port: 2020 }, periodSeconds: 10 };
        delete container(cs, 'web').livenessProbe.httpGet.path;
      },
      REQUIRED,
      [
        `${CANARY}Deployment shop/web-v2's probes do not use the required paths: container web's livenessProbe checks /, not /live; container log-shipper's livenessProbe is not an HTTP probe, not /live. ` +
          'Fix: give every container of Deployment shop/web-v2 a readinessProbe httpGet.path /ready and a livenessProbe httpGet.path /live (the rules config\'s probePaths), roll it out, then raise the weight.',
      ],
    ],
    [
      'only a readinessPath required, liveness on /healthz',
      (cs) => (container(cs, 'web').livenessProbe.httpGet.path = '/healthz'),
      parseRulesConfig({ probePaths: { readinessPath: '/ready' } }),
      [],
    ],
  ])('%s', (_what, edit, config, messages) => {
    expect(probes(edit, config)).toEqual(messages);
  });

  it('reports a missing probe as missing, not as a wrong path', () => {
    const messages = probes((cs) => delete container(cs, 'web').readinessProbe, REQUIRED);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain('has containers without probes: web (no readinessProbe)');
  });
});
