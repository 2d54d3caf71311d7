/**
 * Kafka and Elasticsearch in Docker containers through testcontainers, for machines with a Docker
 * engine. The containers outlive the command (the reaper is switched off for them) and are removed
 * by `stack down` through the ids kept in the stack state.
 */
import { PanaceaError } from '../../core/errors.js';
import { componentLogger } from '../../core/logger.js';

export const KAFKA_IMAGE = 'apache/kafka:4.1.1';
export const ELASTICSEARCH_IMAGE = 'docker.elastic.co/elasticsearch/elasticsearch:9.2.0';

/** True when a Docker engine answers; false quickly when there is none. */
export async function dockerEngineAvailable(): Promise<boolean> {
  // The reaper would remove our containers when this process exits; `stack down` removes them.
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await withTimeout(getContainerRuntimeClient(), 10_000);
    return true;
  } catch {
    return false;
  }
}

// Known gap: this path has never run on the project's own machines (they have no Docker engine);
// it stays marked until a machine with Docker runs the integration tests through it.
const UNTESTED_WARNING = 'the Docker path of stack up has not been tested by the project yet';

export async function startKafkaContainer(port: number): Promise<string> {
  componentLogger('stack.docker').warn({ image: KAFKA_IMAGE }, UNTESTED_WARNING);
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer(KAFKA_IMAGE)
    .withExposedPorts({ container: 9092, host: port })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${port}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  return container.getId();
}

export async function startElasticsearchContainer(port: number, heapMb: number): Promise<string> {
  componentLogger('stack.docker').warn({ image: ELASTICSEARCH_IMAGE }, UNTESTED_WARNING);
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer(ELASTICSEARCH_IMAGE)
    .withExposedPorts({ container: 9200, host: port })
    .withEnvironment({
      'discovery.type': 'single-node',
      'xpack.security.enabled': 'false',
      'cluster.routing.allocation.disk.threshold_enabled': 'false',
      ES_JAVA_OPTS: `-Xms${heapMb}m -Xmx${heapMb}m`,
    })
    .withWaitStrategy(Wait.forHttp('/_cluster/health', 9200).forStatusCode(200))
    .withStartupTimeout(180_000)
    .start();
  return container.getId();
}

export async function removeContainer(id: string): Promise<void> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  const client = await getContainerRuntimeClient();
  const container = client.container.getById(id);
  await client.container.stop(container, { timeout: 30_000 });
  await client.container.remove(container, { removeVolumes: true });
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new PanaceaError('STACK_UNAVAILABLE', `no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
