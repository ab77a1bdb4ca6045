// Hostile input against the webhook as it runs: the real process (built CLI,
// the chart's config, caches synced from the real API server), over HTTPS, sent
// what an attacker inside the cluster could send. A seeded fuzzer (corpus: the
// fixtures in test/fixtures) runs for BGG_FUZZ_SECONDS (default 60); the seed
// is printed and BGG_FUZZ_SEED replays it. Then ten maximum-size reviews at
// once, with the process's peak RSS held to the chart's memory limit.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_BODY_LIMIT_BYTES } from '../../src/webhook/admission-transport.js';
import { admissionReview } from '../support/admission-review.js';
import { crashInput, fixtureCorpus, ReviewFuzzer, type FuzzCase } from '../support/admission-fuzz.js';
import { REPO } from '../support/built-cli.js';
import type { Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';

const FUZZ_SECONDS = Number(process.env.BGG_FUZZ_SECONDS ?? 60);
const SEED = Number(process.env.BGG_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

jest.setTimeout(FUZZ_SECONDS * 1000 + 240_000);

let stage: Stage;
let scene: Scene;
let agent: Agent;

beforeAll(async () => {
  stage = await startStage({ watchers: 0 });
  scene = await stage.seed({ namespacePrefix: 'hostile', traffic: false });
  agent = new Agent({ keepAlive: true, ca: stage.certificates.caPem, maxSockets: 16 });
}, 600_000);

afterAll(async () => {
  agent?.destroy();
  await stage?.stop();
}, 120_000);

interface Reply {
  status: number;
  text: string;
}

function send(body: Buffer, path?: string): Promise<Reply> {
  const url = new URL(stage.webhook!.admissionUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: path ?? url.pathname, method: body.length > 0 || !path ? 'POST' : 'GET', agent, headers: path ? {} : { 'Content-Type': 'application/json', 'Content-Length': body.length }, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end(path ? undefined : body);
  });
}

/**
 * What is wrong with the answer to `c`, or undefined. A body over the limit
 * (the chart keeps the default) is refused unread, so it gets a 413 naming the
 * limit and no uid: finding the uid would mean reading what the limit refuses.
 */
function problem(c: FuzzCase, reply: Reply): string | undefined {
  if (reply.status >= 500) return `HTTP ${reply.status}: ${reply.text.slice(0, 300)}`;
  if (c.body.length > DEFAULT_BODY_LIMIT_BYTES) {
    if (reply.status !== 413 || !/larger than|limit/i.test(reply.text)) return `a ${c.body.length}-byte body over the ${DEFAULT_BODY_LIMIT_BYTES}-byte limit got HTTP ${reply.status}: ${reply.text.slice(0, 200)}`;
    return undefined;
  }
  let uid: unknown;
  try {
    uid = (JSON.parse(reply.text) as { response?: { uid?: unknown } }).response?.uid;
  } catch {
    return `HTTP ${reply.status} with a body that is not an AdmissionReview: ${reply.text.slice(0, 200)}`;
  }
  if (c.uid !== undefined && uid !== c.uid) return `HTTP ${reply.status} answered uid ${JSON.stringify(uid)}, the request had ${JSON.stringify(c.uid)}`;
  return undefined;
}

async function ready(): Promise<number> {
  return (await send(Buffer.alloc(0), '/ready')).status;
}

/** Peak and current RSS of the webhook's node process (the tether's child), from /proc. */
function memoryMiB(): { peak: number; now: number } {
  const tether = stage.webhook!.process.pid;
  const child = readFileSync(`/proc/${tether}/task/${tether}/children`, 'utf8').trim().split(/\s+/)[0];
  const status = readFileSync(`/proc/${child}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { peak: kib('VmHWM') / 1024, now: kib('VmRSS') / 1024 };
}

function chartMemoryLimitMiB(): number {
  const values = parse(readFileSync(join(REPO, 'charts', 'bluegreen-guard', 'values.yaml'), 'utf8')) as { webhook: { resources: { limits: { memory: string } } } };
  const limit = values.webhook.resources.limits.memory;
  const m = /^(\d+)Mi$/.exec(limit);
  if (!m) throw new Error(`webhook.resources.limits.memory is ${limit}; this test reads Mi`);
  return Number(m[1]);
}

describe('hostile admission requests', () => {
  it('the crash input (top-level kind nested 10,000 deep) gets a 400 with its uid; the webhook keeps serving', async () => {
    const c = crashInput(scene.namespace, parse(scene.virtualService({ [scene.stableSubset]: 100 })) as Record<string, unknown>);
    expect(c.body.length).toBeGreaterThan(20_000);
    const reply = await send(c.body);
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.text)).toMatchObject({ response: { uid: 'crash-kind-10000', allowed: false, status: { message: expect.stringMatching(/deeper than 100 levels/) } } });
    expect(stage.webhook!.process.isRunning).toBe(true);
    expect(await ready()).toBe(200);
  });

  it(`fuzzed reviews for ${FUZZ_SECONDS} s: no crash, no 5xx, the uid echoed whenever there was one, ready after`, async () => {
    process.stdout.write(`hostile-input fuzz: seed ${SEED} (replay with BGG_FUZZ_SEED=${SEED}), ${FUZZ_SECONDS} s\n`);
    const fuzzer = new ReviewFuzzer(SEED, fixtureCorpus(), scene.namespace);
    const deadline = Date.now() + FUZZ_SECONDS * 1000;
    const failures: string[] = [];
    const statuses: Record<number, number> = {};
    let sent = 0;
    while (Date.now() < deadline && failures.length < 10) {
      const c = fuzzer.next();
      sent++;
      let reply: Reply;
      try {
        reply = await send(c.body);
      } catch (e) {
        failures.push(`case ${sent} (${c.mutation}): ${(e as Error).message}`);
        if (!stage.webhook!.process.isRunning) break;
        continue;
      }
      statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
      const p = problem(c, reply);
      if (p) failures.push(`case ${sent} (${c.mutation}): ${p}`);
    }
    process.stdout.write(`hostile-input fuzz: seed ${SEED}, ${sent} reviews, answers by status ${JSON.stringify(statuses)}\n`);
    expect({ seed: SEED, failures }).toEqual({ seed: SEED, failures: [] });
    expect(sent).toBeGreaterThan(50);
    expect(stage.webhook!.process.isRunning).toBe(true);
    expect(await ready()).toBe(200);
  });

  it('ten concurrent maximum-size reviews keep the webhook under the chart\'s memory limit (429s allowed)', async () => {
    const limitMiB = chartMemoryLimitMiB();
    const base = parse(scene.virtualService({ [scene.stableSubset]: 100 })) as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
    // As much work as one review may ask (1,000 routes, 4,000 destinations and matches), then filler to just under the body limit.
    const routes = Array.from({ length: 1_000 }, (_, i) => ({
      name: `r${i}`,
      match: Array.from({ length: 4 }, (_, j) => ({ uri: { prefix: `/p${i}/${j}` }, headers: { 'x-user': { exact: `u${j}` } } })),
      route: ['green', 'blue', 'green', 'blue'].map((subset, j) => ({ destination: { host: scene.service, subset }, weight: j === 0 ? 100 : 0 })),
    }));
    const largest = (uid: string, routeCount: number): Buffer => {
      const object = { ...base, metadata: { ...base.metadata, annotations: { filler: '' } }, spec: { ...base.spec, http: routeCount === 1_000 ? routes : Array.from({ length: routeCount }, (_, i) => ({ name: `w${i}`, route: [{ destination: { host: scene.service, subset: 'green' } }] })) } };
      const size = Buffer.byteLength(JSON.stringify(admissionReview(object, { uid })));
      // An UPDATE carries the object twice (object and oldObject).
      (object.metadata.annotations as Record<string, string>).filler = 'x'.repeat(Math.max(0, Math.floor((6 * 1024 * 1024 - 4_096 - size) / 2)));
      return Buffer.from(JSON.stringify(admissionReview(object, { uid })));
    };
    const sizes = [largest('size-0', 1_000).length, largest('size-1', 10_000).length];
    expect(sizes.map((n) => n > 6 * 1024 * 1024 - 8_192 && n <= 6 * 1024 * 1024)).toEqual([true, true]);
    const before = memoryMiB();
    const answers: Record<number, number> = {};
    for (const [round, routeCount] of [[0, 1_000], [1, 10_000], [2, 1_000]] as const) {
      const bodies = Array.from({ length: 10 }, (_, i) => largest(`max-${round}-${i}`, routeCount));
      const replies = await Promise.all(bodies.map((b) => send(b)));
      replies.forEach((r, i) => {
        answers[r.status] = (answers[r.status] ?? 0) + 1;
        expect([200, 429]).toContain(r.status);
        if (r.status === 200) expect((JSON.parse(r.text) as { response: { uid: string } }).response.uid).toBe(`max-${round}-${i}`);
      });
    }
    const after = memoryMiB();
    process.stdout.write(
      `hostile-input memory: 3 rounds of 10 concurrent 6 MiB reviews, answers ${JSON.stringify(answers)}; webhook RSS before ${before.now.toFixed(0)} MiB, peak ${after.peak.toFixed(0)} MiB, after ${after.now.toFixed(0)} MiB; chart limit ${limitMiB} MiB\n`,
    );
    expect(after.peak).toBeLessThan(limitMiB);
    expect(stage.webhook!.process.isRunning).toBe(true);
    expect(await ready()).toBe(200);
  });
});
