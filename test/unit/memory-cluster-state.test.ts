import { describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { MemoryClusterState } from '../../src/cluster/memory-cluster-state.js';
import { slim } from '../../src/cluster/slim.js';

describe('MemoryClusterState', () => {
  it('keeps only the pod fields the rules read', () => {
    const state = new MemoryClusterState();
    const pod = slim({
      kind: 'Pod',
      metadata: { name: 'web-v2-abc', namespace: 'shop', labels: { app: 'web', version: 'v2' }, managedFields: [{}] },
      spec: { containers: [{ name: 'web', image: 'web:2' }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    if (pod) state.upsert(pod);
    expect(state.pods('shop')).toEqual([
      { kind: 'Pod', metadata: { name: 'web-v2-abc', namespace: 'shop', labels: { app: 'web', version: 'v2' } }, ready: true, phase: 'Running' },
    ]);
  });

  it('loads @kubernetes/client-node for real under jest', () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:1');
  });
});
