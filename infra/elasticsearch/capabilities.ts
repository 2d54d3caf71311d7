/**
 * What the connected Elasticsearch can do, read from the modules its node reports. The product is
 * designed for a full distribution; the minimal integration-test distribution this machine runs
 * lacks several modules, and each gap is reported by name and worked around visibly here.
 */
import type { Client } from '@elastic/elasticsearch';

export interface ElasticsearchCapabilities {
  version: string;
  modules: string[];
  /** `constant_keyword` (module constant-keyword); without it `data_stream.*` is a keyword. */
  constantKeyword: boolean;
  /**
   * The data streams module: `PUT/GET _data_stream` and the lifecycle service that applies a
   * template's `data_retention`. Without it Panacea enforces retention itself.
   */
  dataStreamLifecycle: boolean;
  /** Missing modules that change behaviour, with what it means, for setup and status output. */
  degradations: string[];
}

export async function readCapabilities(client: Client): Promise<ElasticsearchCapabilities> {
  const response = await client.nodes.info({
    node_id: '_local',
    metric: ['plugins'],
    filter_path: ['nodes.*.modules.name', 'nodes.*.version'],
  });
  const node = Object.values(response.nodes ?? {})[0] as
    { version?: string; modules?: Array<{ name: string }> } | undefined;
  const modules = (node?.modules ?? []).map((module) => module.name);
  // A distribution that reports no module list at all is assumed to be full.
  const has = (module: string): boolean => modules.length === 0 || modules.includes(module);

  const degradations: string[] = [];
  const constantKeyword = has('constant-keyword');
  if (!constantKeyword)
    degradations.push(
      'module constant-keyword missing: data_stream.* fields are mapped as keyword',
    );
  const dataStreamLifecycle = has('data-streams');
  if (!dataStreamLifecycle) {
    degradations.push(
      'module data-streams missing: data streams are created on first write, and retention is enforced by Panacea (rollover and deletion of expired backing indices) instead of the data stream lifecycle',
    );
  }
  return {
    version: node?.version ?? 'unknown',
    modules,
    constantKeyword,
    dataStreamLifecycle,
    degradations,
  };
}
