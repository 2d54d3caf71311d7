/**
 * How every Elasticsearch client of the product reaches the cluster: the URL, an API key or basic
 * authentication, and the CA of an https:// server, from the configuration (see core/config.ts).
 */
import type { Client } from '@elastic/elasticsearch';

type ClientOptions = NonNullable<ConstructorParameters<typeof Client>[0]>;

import type { PanaceaConfig } from './config.js';

export function elasticsearchConnection(
  config: Pick<PanaceaConfig, 'elasticsearchUrl'> &
    Partial<Pick<PanaceaConfig, 'elasticsearchAccess'>>,
): Partial<Pick<ClientOptions, 'node' | 'auth' | 'tls'>> {
  const access = config.elasticsearchAccess ?? {};
  const auth =
    access.apiKey !== undefined
      ? { apiKey: access.apiKey }
      : access.username !== undefined
        ? { username: access.username, password: access.password ?? '' }
        : undefined;
  return {
    node: config.elasticsearchUrl,
    ...(auth === undefined ? {} : { auth }),
    ...(access.ca === undefined ? {} : { tls: { ca: access.ca } }),
  };
}

/** The URL as it may be printed: without a user or password written into it. */
export function printableUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.username === '' && url.password === '') return text;
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return text;
  }
}
