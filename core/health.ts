/**
 * Readiness of a running pipeline, decided from what its parts report: connected (Kafka and
 * Elasticsearch answer), assigned (every stage's consumer is a member of its group) and not held
 * up too long (no writer paused by an Elasticsearch outage for longer than the limit). Every
 * failed check gives a reason a person can act on; `/readyz` returns them as JSON.
 */

/** The state of one stage's consumer group membership, as the stage runner publishes it. */
export type GroupState = 'joined' | 'rebalancing' | 'crashed' | 'stopped';

export interface StageHealth {
  stage: string;
  /** Undefined until the stage's consumer reported anything. */
  groupState: GroupState | undefined;
  partitions: number;
  /** The writer's current outage, ms; undefined for a stage without a writer. */
  currentPauseMs: number | undefined;
}

export interface ConnectionCheck {
  ok: boolean;
  /** Why it failed, e.g. `Elasticsearch does not answer: connect ECONNREFUSED`. */
  reason?: string;
}

export interface ReadinessInputs {
  /** True until the pipeline has started all its stages. */
  starting: boolean;
  kafka: ConnectionCheck;
  elasticsearch: ConnectionCheck;
  stages: StageHealth[];
  maxPauseMs: number;
}

export interface Readiness {
  ready: boolean;
  reasons: string[];
  checks: {
    kafka: ConnectionCheck;
    elasticsearch: ConnectionCheck;
    stages: Record<string, { group: GroupState | 'unknown'; partitions: number; pauseMs?: number }>;
  };
}

export function assessReadiness(inputs: ReadinessInputs): Readiness {
  const reasons: string[] = [];
  if (inputs.starting) reasons.push('the pipeline is starting');
  if (!inputs.kafka.ok) reasons.push(inputs.kafka.reason ?? 'Kafka does not answer');
  if (!inputs.elasticsearch.ok) {
    reasons.push(inputs.elasticsearch.reason ?? 'Elasticsearch does not answer');
  }

  const stages: Readiness['checks']['stages'] = {};
  for (const stage of inputs.stages) {
    if (stage.groupState !== 'joined') {
      const state = stage.groupState ?? 'not joined yet';
      reasons.push(`stage ${stage.stage}: consumer is not a member of its group (${state})`);
    }
    const pauseMs = stage.currentPauseMs;
    if (pauseMs !== undefined && pauseMs > inputs.maxPauseMs) {
      reasons.push(
        `stage ${stage.stage}: paused by Elasticsearch for ${Math.round(pauseMs / 1000)} s, ` +
          `over the ${Math.round(inputs.maxPauseMs / 1000)} s limit (PANACEA_READY_MAX_PAUSE_MS)`,
      );
    }
    stages[stage.stage] = {
      group: stage.groupState ?? 'unknown',
      partitions: stage.partitions,
      ...(pauseMs === undefined ? {} : { pauseMs }),
    };
  }

  return {
    ready: reasons.length === 0,
    reasons,
    checks: { kafka: inputs.kafka, elasticsearch: inputs.elasticsearch, stages },
  };
}
