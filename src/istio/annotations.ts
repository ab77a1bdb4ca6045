// Every label and annotation bluegreen-guard reads or writes. One place, so the
// webhook, the watcher, the chart and the docs agree on the spelling.

export const PREFIX = 'bluegreen-guard.io/';

/** Namespace label that opts a namespace in: `bluegreen-guard.io/guard=enabled`. */
export const GUARD_LABEL = `${PREFIX}guard`;
/** Per-object override of the namespace opt-in (`enabled` | `disabled`), annotation on a VirtualService. */
export const GUARD_ANNOTATION = `${PREFIX}guard`;

/** The rollback target. Written by the watcher when a cutover is confirmed stable. */
export const STABLE_SUBSET = `${PREFIX}stable-subset`;
export const DEFAULT_STABLE_SUBSET = 'green';
export const DEFAULT_CANDIDATE_SUBSET = 'blue';

/** Rule modes, on a Namespace or a VirtualService/DestinationRule: `canary-first=deny,probes=warn`. */
export const RULE_MODES = `${PREFIX}rules`;

/** Break-glass: a non-empty reason lets members of the configured groups override denials. */
export const BREAK_GLASS = `${PREFIX}break-glass`;

// Watcher state, recorded on the VirtualService so restarts and leader changes keep it.
export const CANDIDATE_SUBSET = `${PREFIX}candidate-subset`;
export const CUTOVER_STARTED_AT = `${PREFIX}cutover-started-at`;
export const FULL_TRAFFIC_AT = `${PREFIX}full-traffic-at`;
export const ROLLED_BACK_AT = `${PREFIX}rolled-back-at`;
export const ROLLBACK_REASON = `${PREFIX}rollback-reason`;
export const PREVIOUS_WEIGHTS = `${PREFIX}previous-weights`;
export const STABLE_SINCE = `${PREFIX}stable-since`;
/**
 * When the cutover first reached full traffic. Unlike FULL_TRAFFIC_AT (the start of the hold, rewritten when
 * the hold starts over) it is kept through the hold and after confirmation: keep-previous counts from it.
 */
export const FULL_TRAFFIC_REACHED_AT = `${PREFIX}full-traffic-reached-at`;

/**
 * The cutover report's steps (watcher/cutover-report.ts). ZERO_PERCENT_AT: when the watcher first saw a candidate
 * subset routed at 0 % while no candidate had traffic (removed when no route names a candidate). CANDIDATE_DEPLOYED_AT
 * and CANDIDATE_READY_AT: the earliest creation and the latest Ready transition of the candidate's pods, read when its
 * first traffic is recorded (in the same patch as CUTOVER_STARTED_AT). LAST_CUTOVER: the finished cutover's steps with
 * its outcome (JSON), written at confirmation or rollback, so the report outlives the state annotations cleared then.
 */
export const ZERO_PERCENT_AT = `${PREFIX}zero-percent-at`;
export const CANDIDATE_DEPLOYED_AT = `${PREFIX}candidate-deployed-at`;
export const CANDIDATE_READY_AT = `${PREFIX}candidate-ready-at`;
export const LAST_CUTOVER = `${PREFIX}last-cutover`;

/** Per-VirtualService smoke-test URL for the watcher's `smoke-test` rule; overrides the configured template. */
export const SMOKE_TEST_URL = `${PREFIX}smoke-test-url`;

/** On a Job: a migration that must have succeeded before its version's share rises. */
export const BEFORE_CUTOVER = `${PREFIX}before-cutover`;
/** On a Job: while it is active, no cutover of its service (a data backfill, a long-running job). */
export const BLOCKS_CUTOVER = `${PREFIX}blocks-cutover`;
/**
 * Rollback latch: which workload revisions the watcher rolled back, when and why (JSON, see
 * istio/rollback-latch.ts). The webhook refuses traffic back to them until a new revision is
 * deployed or a member of the configured groups clears the latch.
 */
export const ROLLBACK_LATCH = `${PREFIX}rollback-latch`;
/** The reason a latch was cleared; set together with removing ROLLBACK_LATCH (`bluegreen-guard ack`). */
export const ROLLBACK_LATCH_ACK = `${PREFIX}rollback-latch-ack`;
/** Recovery after a rollback: pending, recovered (in N s) or failed, with the measured values (JSON, watcher/recovery.ts). */
export const RECOVERY = `${PREFIX}recovery`;
/** The watcher's pre-traffic smoke test of a candidate at 0 %: outcome and the revisions tested (JSON, watcher/pre-traffic-smoke.ts). */
export const SMOKE_RESULT = `${PREFIX}smoke-result`;
/**
 * Failover drills opt in with `enabled`: on the VirtualService (this annotation) or on its
 * namespace (a label of the same key). Nothing else is ever drilled (watcher/drill.ts).
 */
export const DRILL = `${PREFIX}drill`;
/**
 * On a drill's raise of the candidate (JSON: id, started at). A watcher write that carries it is
 * judged by the webhook like anyone's cutover: the watcher's exemption covers its rollbacks only.
 */
export const DRILL_IN_PROGRESS = `${PREFIX}drill-in-progress`;
/** Set by `kubectl bluegreen drill`: the leader runs a drill now and answers in DRILL_REPORT. */
export const DRILL_REQUESTED_AT = `${PREFIX}drill-requested-at`;
/** The last drill's report (JSON, watcher/drill.ts DrillReport). */
export const DRILL_REPORT = `${PREFIX}last-drill`;
