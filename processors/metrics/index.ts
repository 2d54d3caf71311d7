/**
 * The metrics stage's pure core: event-time windows per agent and per workflow, the agent status
 * state machine and the task overview. Nothing here touches Kafka, Elasticsearch or a clock; the
 * stage (metrics-stage.ts) feeds events in, passes processing time in, and carries state out.
 *
 * DESIGN: how the stage will keep the figures exact through SIGKILL and rebalances
 *
 * 1. Input and state per partition. The stage reads `agent.events.enriched` (one topic, keyed by
 *    agent id, every kind in one agent's order, already validated; the enriched document maps back
 *    to the event). For each assigned partition it keeps one WindowAggregator, one
 *    AgentStatusTracker and one TaskOverview. All three only ever hold what that partition's
 *    records said, so a partition's state is complete in itself and moves with the partition.
 *    (Reading the four raw topics instead would split one agent over four partitions; the
 *    combiner below would cope, but quiet topics would hold windows open.)
 *
 * 2. One transaction per partition at a time, holding the results of the batches of up to a
 *    second (`commitIntervalMs`), so a busy partition writes its checkpoint once a second and
 *    not once per fetched batch. It uses a kafkajs transactional producer
 *    whose `transactionalId` names the input partition (`<prefix>panacea-metrics-<partition>`),
 *    so that a new owner of the partition fences the old one at `initTransactions` (kafkajs has no
 *    consumer-group fencing of KIP-447). In that transaction:
 *    - the results: closed windows (`final: true`) and updates of open ones (`final: false`) as
 *      partial records `{ source, result }` keyed by `documentId`, status changes keyed by agent
 *      id, and changed task records keyed `task:<agent id>:<task id>`;
 *    - the checkpoint: `{ nextOffset, windows: aggregator.toJSON(), status: tracker.toJSON(),
 *      tasks: overview.toJSON() }` to the compacted topic `<prefix>panacea.metrics-state`, keyed by
 *      group, topic and partition;
 *    - the input offset, through `transaction.sendOffsets` for the stage's consumer group.
 *    Then commit. A state dropped before its commit (a failed send, a fenced producer) rewinds
 *    the consumer's fetch position to its checkpoint's offset, since its batches were counted
 *    into a transaction that is now aborted. Everything downstream reads with read_committed (kafkajs's default).
 *    A checkpoint grows with the partition's open windows, agents and tasks; one above 512 KiB is
 *    written as chunks under keys of their own and a head holding their count and SHA-256, in
 *    the same transaction (see checkpoint-chunks.ts), so no partition outgrows Kafka's record
 *    limit.
 *
 * 3. On assignment (start, or a partition moving in), the stage reads the state topic to its end,
 *    restores the partition's checkpoint (`WindowAggregator.restore` and friends) and seeks to its
 *    `nextOffset`, which equals the committed offset since both were written in one transaction;
 *    no checkpoint means a first run, with empty state from the committed offset.
 *
 * Why this is exact: a SIGKILL mid-batch leaves an open transaction that is aborted (fenced by the
 *    next `initTransactions` of the same id, or timed out), so its results, its checkpoint and its
 *    offset vanish together; the records after the last commit are read again into the state that
 *    was committed with that offset. No count is added twice, none is lost. The aggregator is
 *    also deterministic per partition (tests replay from a mid-stream checkpoint and get identical
 *    output), so a replay even writes the same results again; the decisions taken from processing
 *    time (stale agents, `advanceWatermark` for a quiet partition, stuck tasks) need not replay the
 *    same, because only committed ones were ever visible.
 *
 * 4. Workflows across partitions. A workflow's agents may sit on several partitions, each giving a
 *    partial window under the same `documentId`, written to `agent.metrics` with the source in
 *    its id (`workflow:<id>:<start>|<source>`) and the `documentId` as its key, so all partials of
 *    a window land on one partition of `agent.metrics` and one consumer of the metrics sink: one
 *    writer per window. The sink (sinks/elasticsearch/metrics-sink-stage.ts) stores each partial
 *    in `metrics-agent.window_partial-<namespace>`; once that bulk write is acknowledged, it reads
 *    every partial of each window the batch touched with a realtime `mget` (one id per partition
 *    of the enriched topic), restores their figures from `panacea.metrics.state`, merges them
 *    with `combinePartialWindows` (exact: integer counts and sums, sketch buckets, maxima) and
 *    indexes the result under `documentId` in `metrics-agent.window-<namespace>`, listing the
 *    merged sources in `panacea.metrics.sources`. Its version is the sum of the partials' stored
 *    versions, which only grows as they do, so a combination from an older reading never
 *    overwrites a newer one. The sink commits its offsets after both writes, so a crash between
 *    them combines the window again on redelivery. Agent windows come from one source and pass
 *    through unchanged.
 *
 * 5. Elasticsearch. `toMetricsDocument` gives the document, `_id` = `documentId`, written with the
 *    `index` operation so a newer version overwrites. That needs a plain index (or alias), not a
 *    data stream: a data stream takes only `create`. The name `metrics-agent.window-<namespace>`
 *    also matches the built-in `metrics` template (`metrics-*-*`, priority 100) of a full
 *    Elasticsearch, so our template must take a higher priority and leave `data_stream` out, and
 *    map `panacea.metrics.state` with `enabled: false`. To keep a retried older write from
 *    overwriting a newer one, write with `version_type: external` and a version that only grows:
 *    the source offset of the batch (for combined documents, the sum over their partials).
 *    Task records go to `tasks-agent-<namespace>` (`_id` `task:<agent id>:<task id>`), so "stuck
 *    now" is a query at any moment.
 *
 * Not chosen: committing offsets only up to the oldest record of any open window and rebuilding
 * on restart. It rebuilds windows but not the late count, the status machine or the task overview
 * (they depend on records before that point and on processing time), and a window closed before
 * the crash but holding records after the commit point would be recomputed from part of them
 * unless the watermark travelled in the commit metadata too.
 */
export {
  AGENT_STATUSES,
  AGENT_STATUS_DEFAULTS,
  AgentStatusTracker,
  type AgentStatus,
  type AgentStatusOptions,
  type AgentStatusState,
  type StatusCause,
  type StatusChange,
} from './agent-status.js';
export {
  METRICS_DATASET,
  toMetricsDocument,
  windowDocumentId,
  type MetricsDocument,
  type WindowResult,
  type WindowScope,
} from './metrics-document.js';
export {
  DEFAULT_RELATIVE_ACCURACY,
  MIN_INDEXABLE_VALUE,
  QuantileSketch,
  type QuantileSketchState,
} from './quantile-sketch.js';
export {
  TASK_OVERVIEW_DEFAULTS,
  TaskOverview,
  type TaskOverviewOptions,
  type TaskOverviewRow,
  type TaskOverviewState,
  type TaskRecord,
  type TaskState,
} from './task-overview.js';
export {
  WINDOW_AGGREGATOR_DEFAULTS,
  WindowAggregator,
  type AddOutcome,
  type WindowAggregatorOptions,
  type WindowAggregatorState,
} from './window-aggregator.js';
export { combinePartialWindows, type PartialWindow } from './window-combiner.js';
export {
  WindowFigures,
  type WindowFiguresOptions,
  type WindowFiguresState,
} from './window-figures.js';
