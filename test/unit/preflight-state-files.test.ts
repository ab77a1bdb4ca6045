import { describe, expect, it } from '@jest/globals';
import { ManifestError, parseManifests, stateFromObjects } from '../../src/cluster/load-state-files.js';

describe('state files for preflight', () => {
  it('reads multi-document YAML, kind: List and typed lists whose items carry no kind', () => {
    const text = [
      'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: web, namespace: shop}\n  spec: {selector: {app: web}}',
      '# an empty document\n',
      'apiVersion: networking.istio.io/v1\nkind: DestinationRuleList\nitems:\n- metadata: {name: web, namespace: shop}\n  spec: {host: web, subsets: [{name: blue, labels: {version: v2}}]}',
    ].join('\n---\n');
    expect(parseManifests(text, 'state.yaml').map((o) => o.kind)).toEqual(['Service', 'DestinationRule']);
  });

  it('reads JSON as kubectl -o json prints it', () => {
    const json = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'shop' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }] });
    const { state } = stateFromObjects(parseManifests(json, 'state.json'), 'default');
    expect(state.pods('shop')).toEqual([{ kind: 'Pod', metadata: { name: 'p', namespace: 'shop' }, ready: true }]);
  });

  it('puts objects without a namespace in the default one and counts kinds the rules never read', () => {
    const objects = parseManifests('kind: Service\nmetadata: {name: web}\n---\nkind: ConfigMap\nmetadata: {name: c}\n---\nkind: Namespace\nmetadata: {name: shop}\n', 'x.yaml');
    const { state, ignored } = stateFromObjects(objects, 'team-a');
    expect(state.service('team-a', 'web')).toBeDefined();
    expect(state.namespace('shop')?.metadata.name).toBe('shop');
    expect([...ignored]).toEqual([['ConfigMap', 1]]);
  });

  it.each([
    ['YAML that does not parse', 'kind: [', 'x.yaml: document 1 is not valid YAML'],
    ['a scalar document', 'just text', 'x.yaml: document 1 is not a Kubernetes object'],
    ['an object without kind', 'metadata: {name: a}', 'x.yaml: document 1 has no kind.'],
    ['an object without a name', 'kind: Pod\nmetadata: {}', 'x.yaml: document 1 (Pod) has no metadata.name.'],
    ['a bad list item', 'kind: List\nitems:\n- 7', 'x.yaml: document 1, item 1 is not a Kubernetes object'],
  ])('rejects %s with the file and the place', (_what, text, message) => {
    expect(() => parseManifests(text, 'x.yaml')).toThrow(ManifestError);
    expect(() => parseManifests(text, 'x.yaml')).toThrow(message);
  });
});
