/**
 * `panacea demo` (what `npm start` runs): brings up the local stack if needed, runs the pipeline,
 * imports the shipped real OpenHands session, and streams a simulated fleet of agents through it
 * until Ctrl-C. The stack stays up afterwards so the data can still be searched.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import type { PanaceaConfig } from '../../core/config.js';
import { messageOf, PanaceaError } from '../../core/errors.js';
import { componentLogger } from '../../core/logger.js';
import { createNaming } from '../../core/naming.js';
import { stackUp } from '../../infra/stack/stack.js';
import type { AgentProfile } from '../../processors/enrich/agent-registry/agent-profile.js';
import { createSimulatedFleet, type SimulatedAgent } from '../../producers/demo/simulated-fleet.js';
import {
  datasetsDirectory,
  OPENHANDS_SESSION_FILE,
} from '../../producers/importers/shipped-datasets.js';
import type { AgentEvent } from '../../schemas/event.js';
import { EXIT_FAILURE, EXIT_OK, parseCommandArgs, say, untilStopSignal } from '../command-line.js';
import { createElasticsearchClient, startPipeline } from '../pipeline.js';
import { serveObservability } from './run.js';
import { openPublisher } from '../publishing.js';
import { withAgentRegistry } from './agents.js';
import { readSession } from './import.js';
import { stackOptionsFrom } from './stack.js';

const logger = componentLogger('demo');

const TICK_INTERVAL_MS = 1_000;
const PROGRESS_INTERVAL_MS = 15_000;
const STOP_TIMEOUT_MS = 15_000;

export async function demoCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const { values } = parseCommandArgs(args, { agents: { type: 'string', default: '6' } });
  const agentCount = Number(values.agents);
  // Checked before the stack starts, so a typo costs a second and not half a minute.
  if (!Number.isInteger(agentCount) || agentCount < 1 || agentCount > 1000) {
    throw new PanaceaError(
      'USAGE',
      `--agents: expected an integer from 1 to 1000, got "${values.agents}"`,
    );
  }
  const stack = await stackUp(stackOptionsFrom(config, {}), componentLogger('stack'));
  const running: PanaceaConfig = {
    ...config,
    kafkaBrokers: stack.kafkaBrokers,
    elasticsearchUrl: stack.elasticsearchUrl,
  };

  const naming = createNaming(running);
  // The pipeline's own signals, as `panacea run` serves them.
  const observability = await serveObservability(running);
  const pipeline = await startPipeline(running).catch(async (error: unknown) => {
    await observability.close();
    throw error;
  });
  observability.attach(pipeline);
  const publisher = await openPublisher(running, naming);
  const withRealSession = await importShippedSession(publisher.publish);

  const fleet = createSimulatedFleet(Date.now(), { agentCount });
  // Registered before their first event, so every document shows the agents' names and teams.
  await withAgentRegistry(running, async (registry) => {
    await registry.register(fleet.agents.map(registrationOf));
    return EXIT_OK;
  });
  const published: Record<string, number> = {};
  const publishDue = async (): Promise<void> => {
    const events = fleet.advanceTo(Date.now());
    await publisher.publish(events);
    for (const event of events) published[event.kind] = (published[event.kind] ?? 0) + 1;
  };
  printWhereToLook(running, withRealSession);

  const elasticsearch = createElasticsearchClient(running);
  const stopSignal = untilStopSignal();
  let stopped = false;
  const loop = (async () => {
    let lastProgressMs = Date.now();
    while (!stopped) {
      await publishDue();
      if (Date.now() - lastProgressMs >= PROGRESS_INTERVAL_MS) {
        lastProgressMs = Date.now();
        const stored = await countDocuments(elasticsearch, `logs-agent.*-${running.namespace}`);
        logger.info({ published, storedDocuments: stored }, 'demo progress');
      }
      await sleep(TICK_INTERVAL_MS);
    }
  })();

  let exitCode = EXIT_OK;
  try {
    const reason = await Promise.race([stopSignal, pipeline.failed, loop.then(() => 'loop ended')]);
    logger.info({ reason }, 'stopping the demo');
  } catch (error) {
    logger.error({ err: error }, 'the demo failed');
    exitCode = EXIT_FAILURE;
  }
  stopped = true;
  await loop.catch(() => undefined);
  // After a failure a crashed consumer may never finish disconnecting; what was committed stays
  // committed, so giving up on a clean stop after a while loses nothing.
  const shutdown = Promise.allSettled([
    publisher.close(),
    pipeline.stop().finally(() => observability.close()),
    elasticsearch.close(),
  ]);
  await Promise.race([shutdown, sleep(STOP_TIMEOUT_MS)]);
  // Only servers this data directory's stack started are ours to suggest stopping.
  const ours = [stack.kafka, stack.elasticsearch].some(
    (component) => component.source === 'docker' || component.source === 'maven',
  );
  process.stderr.write(
    ours
      ? 'The stack is still running, with everything stored so far. `npx panacea stack down` stops it.\n'
      : 'Everything stored so far stays on the servers the demo used; it started none of them.\n',
  );
  return exitCode;
}

function registrationOf(agent: SimulatedAgent): AgentProfile {
  return {
    id: agent.id,
    name: agent.name,
    team: agent.team,
    owner: `${agent.team}@example.com`,
    environment: 'demo',
    labels: { agent_type: agent.type, agent_version: agent.version },
  };
}

/** Imports the real session when it is there; says so and returns false when it is not. */
async function importShippedSession(
  publish: (events: AgentEvent[]) => Promise<void>,
): Promise<boolean> {
  const file = path.join(datasetsDirectory(), OPENHANDS_SESSION_FILE);
  if (!existsSync(file)) {
    logger.warn(
      { file },
      'the real OpenHands session is not there (set PANACEA_DATASETS_DIR); simulated fleet only',
    );
    return false;
  }
  const events = await readSession(file);
  await publish(events);
  logger.info({ file, events: events.length }, 'imported the real OpenHands session');
  return true;
}

async function countDocuments(
  client: ReturnType<typeof createElasticsearchClient>,
  index: string,
): Promise<number | string> {
  try {
    const response = await client.count({
      index,
      ignore_unavailable: true,
      allow_no_indices: true,
    });
    return response.count;
  } catch (error) {
    return `unknown (${messageOf(error)})`;
  }
}

/** Every query names this deployment's namespace, so a shared cluster shows only the demo's data. */
function printWhereToLook(config: PanaceaConfig, withRealSession: boolean): void {
  const namespace = config.namespace;
  const pattern = `logs-agent.*-${namespace}`;
  const flowing = withRealSession
    ? 'simulated agents and a real OpenHands session are'
    : 'simulated agents are';
  const url = config.elasticsearchUrl;
  say(`
Panacea demo running: ${flowing} flowing through the pipeline.

  KAFKA_BROKERS=${config.kafkaBrokers.join(',')}
  ELASTICSEARCH_URL=${url}

Where to look:
  documents:       curl -s '${url}/${pattern}/_search?size=5&sort=@timestamp:desc&pretty'
  failed tasks:    curl -s '${url}/logs-agent.activity-${namespace}/_search?q=event.outcome:failure&pretty'
  denied actions:  curl -s '${url}/logs-agent.audit-${namespace}/_search?q=panacea.audit.outcome:denied&pretty'
  critical errors: curl -s '${url}/logs-agent.error-${namespace}/_search?q=log.level:critical&pretty'
  counts per kind: curl -s '${url}/_cat/indices/.ds-logs-agent.*-${namespace}-*?v'
  agent windows:   curl -s '${url}/metrics-agent.window-${namespace}/_search?q=panacea.metrics.scope:agent&sort=@timestamp:desc&pretty'
  agent status:    curl -s '${url}/metrics-agent.status-${namespace}/_search?pretty'
  open tasks:      curl -s '${url}/metrics-agent.task-${namespace}/_search?q=panacea.task.state:in_progress&pretty'
  audit archive:   ${path.join(config.dataDir, 'audit-archive')}
  pipeline health: ${healthLine(config)}
  Kibana:          point it at ${url} and create a data view on "${pattern}" with @timestamp
  (denied actions and critical errors start after the fleet's first minutes)

Ctrl-C stops the demo cleanly (the pipeline flushes and commits first).
`);
}

function healthLine(config: PanaceaConfig): string {
  const { httpHost, httpPort } = config.observability;
  if (httpPort === undefined) return 'off (PANACEA_HTTP_PORT=off)';
  const base = `http://${httpHost === '0.0.0.0' ? '127.0.0.1' : httpHost}:${httpPort}`;
  return `curl -s ${base}/readyz; curl -s ${base}/metrics | grep ^panacea_stage`;
}
