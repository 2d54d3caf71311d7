/**
 * The alerts stage's parts: the rules file, the rule conditions, the alert engine and the
 * silences. The pure ones (rules-file.ts, rule-conditions.ts, alert-engine.ts) touch no Kafka,
 * Elasticsearch or clock; alerts-stage.ts feeds them and carries their state.
 *
 * DESIGN
 *
 * 1. Input. The stage reads `agent.events.enriched` (match, absence and audit_rate rules) and
 *    `agent.metrics` (threshold rules, on the window figures of the metrics stage; workflow
 *    partials are merged with `combinePartialWindows`, as the metrics sink does). A threshold
 *    rule compares the latest window of each agent or workflow, open or closed: an open window's
 *    update counts as soon as it arrives, so an agent failing now is noticed within the window,
 *    and a newer window that no longer crosses the bound resolves the alert.
 *
 * 2. One owner. An alert can be fed by any partition of either topic (an agent's windows are
 *    keyed by window, its events by agent), so the state is one whole rather than per partition.
 *    A partition assigner gives every input partition to one member of the group; other instances
 *    are hot standbys. Alert volumes are small (one record per window and agent, plus events), so
 *    one owner is not the bottleneck; if it ever is, rules can be split over deployments.
 *
 * 3. Exactly once. The owner's transactional producer (id = the consumer group) writes, in one
 *    transaction: the notifications since the last commit, the checkpoint (input offsets, rule
 *    conditions, alert states) to the compacted `panacea.alerts-state`, and the input offsets
 *    through `sendOffsets`. A new owner fences the previous one at its first transaction, then
 *    reads the checkpoint, so a notification is visible (to read_committed readers: the webhook
 *    and Elasticsearch sinks) if and only if the state that says it was sent is. After a SIGKILL
 *    the open transaction is aborted and its notifications are decided again from the last
 *    checkpoint: none lost, none repeated. Notification ids are deterministic per firing and
 *    notification number, so a receiver that sees one twice anyway can tell.
 *
 * 4. Time. Processing time for everything that waits: `for`, the repeat interval, silences,
 *    match `resolveAfter`, audit_rate windows and absences. Event time cannot drive a timer for an
 *    agent that has gone silent (its events are what would move the clock), and agents' clocks
 *    disagree. To keep decisions from the log where possible, an event's arrival time is its
 *    enriched record's Kafka timestamp (the enrichment's clock, the same on replay): absence
 *    measures silence from it and audit_rate counts events within a window of it. Threshold
 *    rules use the metrics stage's event-time windows and need no clock.
 *    After a restore, evaluation waits until the input has been read up to where it ended at
 *    the restore (or a minute has passed), so events that arrived while the stage was down are
 *    counted before anything is decided: an agent that spoke meanwhile is not reported absent,
 *    and one that really went silent is.
 *
 * 5. Silences live in the compacted `panacea.silences`, written by `panacea alerts silence`
 *    and read as a table by the stage. They are not part of the checkpoint: a silence is
 *    applied as it stands at the evaluation that publishes the notification.
 */
export {
  AlertEngine,
  fingerprintOf,
  renderAnnotations,
  type AlertEngineState,
  type AlertState,
  type Condition,
  type SilenceMatcher,
} from './alert-engine.js';
export { ALERTS_STAGE, startAlertsStage, type AlertsStageOptions } from './alerts-stage.js';
export { RuleConditions, type RuleConditionsState } from './rule-conditions.js';
export {
  loadAlertRules,
  parseAlertRules,
  RULE_KINDS,
  THRESHOLD_METRICS,
  type AlertRule,
  type AlertRules,
} from './rules-file.js';
export {
  createSilence,
  openSilenceStore,
  validateSilence,
  type Silence,
  type SilenceStore,
} from './silences.js';
