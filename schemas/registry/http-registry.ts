/**
 * A client of a Confluent-compatible schema registry (Confluent Schema Registry's REST API, which
 * Apicurio Registry serves under `/apis/ccompat/v7`), used when `SCHEMA_REGISTRY_URL` is set.
 *
 * The server assigns ids and enforces compatibility itself; this client also checks a new version
 * against the subject's versions before registering, with the same rules as the embedded registry,
 * so a refusal names the field and the rule whatever wording the server uses.
 */
import type avro from 'avsc';

import { messageOf, PanaceaError } from '../../core/errors.js';
import { COMPATIBILITY_MODES, type CompatibilityMode } from './compatibility.js';
import {
  assertCompatible,
  schemaText,
  type RegisteredSchema,
  type SchemaRegistry,
} from './schema-registry.js';

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const REQUEST_TIMEOUT_MS = 10_000;

export interface HttpRegistryOptions {
  /** Base URL, e.g. `http://127.0.0.1:8081` or `http://127.0.0.1:8080/apis/ccompat/v7`. */
  url: string;
}

export function openHttpRegistry(options: HttpRegistryOptions): SchemaRegistry {
  return new HttpSchemaRegistry(options.url);
}

interface ResponseOf {
  status: number;
  body: unknown;
}

class HttpSchemaRegistry implements SchemaRegistry {
  readonly description: string;
  private readonly baseUrl: string;
  private readonly authorization: string | undefined;
  private readonly byId = new Map<number, RegisteredSchema>();

  constructor(url: string) {
    const parsed = new URL(url);
    // Credentials in the URL become a header: fetch refuses URLs that carry them.
    this.authorization =
      parsed.username === ''
        ? undefined
        : `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')}`;
    parsed.username = '';
    parsed.password = '';
    this.baseUrl = parsed.toString().replace(/\/+$/, '');
    this.description = `Confluent-compatible at ${this.baseUrl}`;
  }

  async register(subject: string, schema: avro.Schema): Promise<RegisteredSchema> {
    const text = schemaText(schema);
    const existing = await this.lookup(subject, text);
    if (existing !== undefined) return existing;

    assertCompatible(
      subject,
      await this.compatibility(subject),
      schema,
      await this.versions(subject),
    );
    const response = await this.request(
      'POST',
      `/subjects/${encodeURIComponent(subject)}/versions`,
      {
        schema: text,
      },
    );
    if (response.status === 409 || response.status === 422) {
      throw new PanaceaError(
        'SCHEMA_INCOMPATIBLE',
        `subject ${subject} refuses the new schema: the registry answered ${response.status}: ${errorMessageOf(response.body)}`,
        { subject },
      );
    }
    this.expectOk(response, `register a version of ${subject}`);
    const registered = await this.lookup(subject, text);
    if (registered === undefined) {
      throw new PanaceaError(
        'SCHEMA_REGISTRY_UNAVAILABLE',
        `the registry accepted a version of ${subject} but does not find it afterwards`,
        { subject },
      );
    }
    return registered;
  }

  async schemaById(id: number): Promise<RegisteredSchema | undefined> {
    const cached = this.byId.get(id);
    if (cached !== undefined) return cached;

    const response = await this.request('GET', `/schemas/ids/${id}`);
    if (response.status === 404) return undefined;
    this.expectOk(response, `read schema id ${id}`);
    const schema = (response.body as { schema?: unknown }).schema;
    if (typeof schema !== 'string') throw this.malformed(`schema id ${id}`, response.body);

    // Which subject and version the id belongs to; registries older than Confluent 5.5 lack this.
    const where = await this.request('GET', `/schemas/ids/${id}/versions`);
    const first = Array.isArray(where.body)
      ? (where.body[0] as { subject?: unknown; version?: unknown } | undefined)
      : undefined;
    const entry: RegisteredSchema = {
      id,
      subject: typeof first?.subject === 'string' ? first.subject : '',
      version: typeof first?.version === 'number' ? first.version : 0,
      schema: schemaText(schema),
    };
    this.byId.set(id, entry);
    return entry;
  }

  async versions(subject: string): Promise<RegisteredSchema[]> {
    const response = await this.request('GET', `/subjects/${encodeURIComponent(subject)}/versions`);
    if (response.status === 404) return [];
    this.expectOk(response, `list the versions of ${subject}`);
    if (!Array.isArray(response.body))
      throw this.malformed(`versions of ${subject}`, response.body);

    const entries: RegisteredSchema[] = [];
    for (const version of response.body as number[]) {
      const one = await this.request(
        'GET',
        `/subjects/${encodeURIComponent(subject)}/versions/${version}`,
      );
      this.expectOk(one, `read version ${version} of ${subject}`);
      entries.push(this.entryOf(one.body, subject));
    }
    return entries.sort((left, right) => left.version - right.version);
  }

  async subjects(): Promise<string[]> {
    const response = await this.request('GET', '/subjects');
    this.expectOk(response, 'list subjects');
    if (!Array.isArray(response.body)) throw this.malformed('subjects', response.body);
    return (response.body as string[]).sort();
  }

  async compatibility(subject: string): Promise<CompatibilityMode> {
    const response = await this.request(
      'GET',
      `/config/${encodeURIComponent(subject)}?defaultToGlobal=true`,
    );
    const ownLevel = response.status === 200 ? levelOf(response.body) : undefined;
    if (ownLevel !== undefined) return ownLevel;

    const global = await this.request('GET', '/config');
    this.expectOk(global, 'read the global compatibility level');
    return levelOf(global.body) ?? 'BACKWARD';
  }

  async setCompatibility(subject: string, mode: CompatibilityMode): Promise<void> {
    const response = await this.request('PUT', `/config/${encodeURIComponent(subject)}`, {
      compatibility: mode,
    });
    this.expectOk(response, `set the compatibility of ${subject}`);
  }

  async close(): Promise<void> {
    // Nothing is held open between requests.
  }

  /** The registered entry of this exact schema under the subject, if any. */
  private async lookup(subject: string, text: string): Promise<RegisteredSchema | undefined> {
    const response = await this.request('POST', `/subjects/${encodeURIComponent(subject)}`, {
      schema: text,
    });
    if (response.status === 404) return undefined;
    this.expectOk(response, `look up a schema of ${subject}`);
    return this.entryOf(response.body, subject);
  }

  private entryOf(body: unknown, subject: string): RegisteredSchema {
    const value = body as { id?: unknown; version?: unknown; schema?: unknown };
    if (
      typeof value.id !== 'number' ||
      typeof value.version !== 'number' ||
      typeof value.schema !== 'string'
    ) {
      throw this.malformed(`an entry of ${subject}`, body);
    }
    const entry: RegisteredSchema = {
      id: value.id,
      subject,
      version: value.version,
      schema: schemaText(value.schema),
    };
    this.byId.set(entry.id, entry);
    return entry;
  }

  private async request(method: string, path: string, body?: unknown): Promise<ResponseOf> {
    const headers: Record<string, string> = { accept: CONTENT_TYPE };
    if (body !== undefined) headers['content-type'] = CONTENT_TYPE;
    if (this.authorization !== undefined) headers.authorization = this.authorization;
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw new PanaceaError(
        'SCHEMA_REGISTRY_UNAVAILABLE',
        `cannot reach the schema registry at ${this.baseUrl} (${method} ${path}): ${messageOf(error)}`,
        { url: this.baseUrl },
        error,
      );
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Kept as text: an error page from a proxy is still worth showing.
    }
    return { status: response.status, body: parsed };
  }

  private expectOk(response: ResponseOf, what: string): void {
    if (response.status >= 200 && response.status < 300) return;
    throw new PanaceaError(
      'SCHEMA_REGISTRY_UNAVAILABLE',
      `the schema registry at ${this.baseUrl} could not ${what}: HTTP ${response.status}: ${errorMessageOf(response.body)}`,
      { url: this.baseUrl },
    );
  }

  private malformed(what: string, body: unknown): PanaceaError {
    return new PanaceaError(
      'SCHEMA_REGISTRY_UNAVAILABLE',
      `the schema registry at ${this.baseUrl} answered ${what} with an unexpected body: ${JSON.stringify(body)?.slice(0, 200)}`,
      { url: this.baseUrl },
    );
  }
}

function levelOf(body: unknown): CompatibilityMode | undefined {
  const value = body as { compatibilityLevel?: unknown; compatibility?: unknown } | undefined;
  const level = value?.compatibilityLevel ?? value?.compatibility;
  return (COMPATIBILITY_MODES as readonly unknown[]).includes(level)
    ? (level as CompatibilityMode)
    : undefined;
}

function errorMessageOf(body: unknown): string {
  if (typeof body === 'object' && body !== null && 'message' in body) {
    return String((body as { message: unknown }).message);
  }
  return typeof body === 'string'
    ? body.slice(0, 300)
    : (JSON.stringify(body)?.slice(0, 300) ?? '');
}
