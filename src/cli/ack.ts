// `bluegreen-guard ack NAME -n NAMESPACE --reason TEXT`: clear the rollback
// latch on a VirtualService, with the caller's kubeconfig (the webhook checks
// the caller is in a group that may, and audits it).
import { parseArgs } from 'node:util';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { KubernetesVirtualServiceStore } from '../cluster/kubernetes-virtual-service-store.js';
import { clearRollbackLatch } from '../watcher/clear-latch.js';
import { loadKubeConfig } from './kube-config.js';

const HELP = `usage: bluegreen-guard ack NAME -n NAMESPACE --reason TEXT [options]

Clears the rollback latch the watcher recorded on VirtualService NAME: traffic
may go again to the revision it rolled back. Needs a member of the webhook's
latchAckGroups (or breakGlassGroups); the clear is audited.

  -n, --namespace NS        the VirtualService's namespace (default: default)
  --reason TEXT             why it is safe (required; recorded in bluegreen-guard.io/rollback-latch-ack)
  --kubeconfig FILE         default: $KUBECONFIG or ~/.kube/config
  --context NAME            kubeconfig context
  --istio-api-version V     networking.istio.io version: v1 (default), v1beta1, v1alpha3
`;

export async function run(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        reason: { type: 'string' },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        'istio-api-version': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    process.stderr.write(`bluegreen-guard ack: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const [name, ...extra] = positionals;
  const reason = typeof values.reason === 'string' ? values.reason : '';
  if (name === undefined || extra.length > 0 || reason.trim() === '') {
    process.stderr.write(`bluegreen-guard ack: expected one VirtualService name and a non-empty --reason\n\n${HELP}`);
    return 2;
  }
  const namespace = typeof values.namespace === 'string' ? values.namespace : 'default';
  const version = typeof values['istio-api-version'] === 'string' ? values['istio-api-version'] : 'v1';
  const kc = loadKubeConfig(values.kubeconfig as string | undefined, values.context as string | undefined);
  const store = new KubernetesVirtualServiceStore(kc.makeApiClient(CustomObjectsApi), version);
  const result = await clearRollbackLatch(store, { namespace, name, reason });
  switch (result.outcome) {
    case 'cleared': {
      const what = result.entries.map((e) => `subset ${e.subset} of ${e.host} (rolled back ${e.at}${e.reason ? `: ${e.reason}` : ''})`).join('; ');
      process.stdout.write(`virtualservice ${namespace}/${name}: rollback latch cleared (${what || 'no readable entries'}); reason recorded: "${reason.trim()}"\n`);
      return 0;
    }
    case 'not-latched':
      process.stdout.write(`virtualservice ${namespace}/${name}: no rollback latch to clear\n`);
      return 0;
    default:
      process.stderr.write(`bluegreen-guard ack: clearing the rollback latch on VirtualService ${namespace}/${name} ${result.outcome === 'refused' ? 'was refused' : 'failed'}: ${result.error}\n`);
      return 1;
  }
}
