/**
 * The compose file cannot run here (no Docker engine), so this checks what can be checked without
 * it: it parses, every image is pinned and the servers' match the versions the project runs, the
 * pipeline's environment is valid configuration that points at the services, and the ports and
 * mounted files line up with the code's defaults and the repository.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

import {
  DEFAULT_ELASTICSEARCH_URL,
  DEFAULT_KAFKA_BROKERS,
  loadConfig,
} from '../../../core/config.js';
import { settingByVariable } from '../../../core/settings.js';
import { ELASTICSEARCH_IMAGE, KAFKA_IMAGE } from '../../../infra/stack/docker-servers.js';

const composeDir = fileURLToPath(new URL('../../../infra/compose/', import.meta.url));

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
}

const compose = parseYaml(readFileSync(path.join(composeDir, 'compose.yaml'), 'utf8')) as {
  services: Record<string, Service>;
};
const services = compose.services;

function service(name: string): Service {
  const found = services[name];
  if (found === undefined) throw new Error(`compose.yaml has no service ${name}`);
  return found;
}

/** The host side of `127.0.0.1:HOST:CONTAINER`. */
function hostPorts(entry: Service): number[] {
  return (entry.ports ?? []).map((mapping) => Number(mapping.split(':').at(-2)));
}

describe('compose file', () => {
  it('has the six services, each image pinned to a version', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['elasticsearch', 'grafana', 'kafka', 'kibana', 'pipeline', 'prometheus'].sort(),
    );
    for (const [name, entry] of Object.entries(services)) {
      expect(entry.image, name).toMatch(/:v?\d+\.\d+\.\d+$/);
    }
  });

  it('runs the Kafka and Elasticsearch the project runs, and the Kibana of that Elasticsearch', () => {
    expect(service('kafka').image).toBe(KAFKA_IMAGE);
    expect(service('elasticsearch').image).toBe(ELASTICSEARCH_IMAGE);
    expect(service('kibana').image?.split(':')[1]).toBe(ELASTICSEARCH_IMAGE.split(':')[1]);
  });

  it("gives the pipeline valid settings that point at the services' own addresses", () => {
    const environment = service('pipeline').environment ?? {};
    for (const variable of Object.keys(environment)) {
      expect(settingByVariable(variable), variable).toBeDefined();
    }
    const config = loadConfig({ ...environment });

    const advertised = service('kafka').environment?.KAFKA_ADVERTISED_LISTENERS ?? '';
    expect(advertised.split(',')).toContain(`INTERNAL://${config.kafkaBrokers.join(',')}`);
    const elasticsearch = new URL(config.elasticsearchUrl);
    expect(elasticsearch.hostname).toBe('elasticsearch');
    expect(service('elasticsearch').ports).toContain(`127.0.0.1:9200:${elasticsearch.port}`);
    expect(config.observability.httpPort).toBeDefined();
    expect(service('pipeline').ports).toContain(
      `127.0.0.1:${config.observability.httpPort}:${config.observability.httpPort}`,
    );
    const scrape = readFileSync(path.join(composeDir, 'prometheus.yml'), 'utf8');
    expect(scrape).toContain(`'pipeline:${config.observability.httpPort}'`);
  });

  it("publishes Kafka, Elasticsearch and the metrics on the host at the code's default addresses", () => {
    const defaults = loadConfig({});
    expect(hostPorts(service('kafka'))).toEqual([Number(DEFAULT_KAFKA_BROKERS.split(':')[1])]);
    expect(hostPorts(service('elasticsearch'))).toEqual([
      Number(new URL(DEFAULT_ELASTICSEARCH_URL).port),
    ]);
    expect(hostPorts(service('pipeline'))).toEqual([defaults.observability.httpPort]);
    expect(service('kafka').environment?.KAFKA_ADVERTISED_LISTENERS).toContain(
      `EXTERNAL://${DEFAULT_KAFKA_BROKERS}`,
    );
  });

  it('mounts only files that are in the repository, and builds from a Dockerfile that is there', () => {
    for (const entry of Object.values(services)) {
      for (const volume of entry.volumes ?? []) {
        const source = volume.split(':')[0] ?? '';
        if (!source.startsWith('.')) continue; // a named volume
        expect(existsSync(path.join(composeDir, source)), volume).toBe(true);
      }
    }
    const build = service('pipeline').build;
    expect(build).toBeDefined();
    const dockerfile = path.join(composeDir, build!.context, build!.dockerfile);
    expect(readFileSync(dockerfile, 'utf8')).toMatch(/^FROM node:20\.\d+/m);
  });
});
