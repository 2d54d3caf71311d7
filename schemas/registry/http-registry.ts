/**
 * A client of a Confluent-compatible schema registry (Confluent Schema Registry's REST API, which
 * Apicurio Registry serves under `/apis/ccompat/v7`), used when `SCHEMA_REGISTRY_URL` is set.
 *
 * It behaves like the embedded registry, whichever server answers:
 * - A subject is BACKWARD unless someone set its mode. Servers disagree on the default (Confluent:
 *   BACKWARD; Apicurio 2.x: NONE, for every subject without a mode of its own), so before this
 *   client registers the first version of a subject that has no subject-level mode (404 on
 *   `GET /config/{subject}`), it sets the subject to BACKWARD (`PUT /config/{subject}`). A mode set
 *   earlier, even before the subject existed (`panacea schemas mode`), is kept; a subject that
 *   already has versions and no mode of its own follows the server's global level.
 * - A new version is checked here first, with the embedded registry's rules, so a refusal names
 *   the field and the rule whatever wording the server uses. The server checks again; its 409 is
 *   the fallback and carries the server's own sentence.
 * - An id nobody registered is `undefined` (the server's 404), not an error.
 * Every error names the HTTP status and the registry's `error_code` in its context.
 *
 * Schema text is always sent in one form (`schemaText`): Apicurio gives the same schema written
 * with other spacing a new id, and ids are per content, shared by every subject with that text.
 * Tested against Apicurio Registry 2.4.2.Final (test/integration/http-schema-registry.test.ts).
 */
import type avro from 'avsc';
import type { Logger } from 'pino';

import { messageOf, PanaceaError } from '../../core/errors.js';
import {
  COMPATIBILITY_MODES,
  DEFAULT_COMPATIBILITY_MODE,
  type CompatibilityMode,
} from './compatibility.js';
import {
  assertCompatible,
  readSchemaText,
  schemaText,
  type RegisteredSchema,
  type SchemaRegistry,
} from './schema-registry.js';

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const REQUEST_TIMEOUT_MS = 10_000;

export interface HttpRegistryOptions {
  /** Base URL, e.g. `http://127.0.0.1:8081` or `http://127.0.0.1:8080/apis/ccompat/v7`. */
  url: string;
  /** Where the client says what it changed on the server (a new subject's mode). */
  logger?: Logger;
}

export function openHttpRegistry(options: HttpRegistryOptions): SchemaRegistry {
  return new HttpSchemaRegistry(options.url, options.logger);
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

  constructor(
    url: string,
    private readonly logger: Logger | undefined,
  ) {
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

    const versions = await this.versions(subject);
    const mode = await this.modeForRegistration(subject, versions.length === 0);
    assertCompatible(subject, mode, schema, versions);

    const response = await this.request('POST', `${subjectPath(subject)}/versions`, {
      schema: text,
    });
    if (response.status === 409) {
      throw new PanaceaError(
        'SCHEMA_INCOMPATIBLE',
        `subject ${subject} refuses the new schema: the registry at ${this.baseUrl} answered 409: ${errorMessageOf(response.body)}`,
        { subject, ...this.statusContext(response) },
      );
    }
    if (response.status === 422) {
      throw new PanaceaError(
        'SCHEMA_INVALID',
        `the registry at ${this.baseUrl} refused a version of ${subject} as not valid (422): ${errorMessageOf(response.body)}`,
        { subject, ...this.statusContext(response) },
      );
    }
    this.expectOk(response, `register a version of ${subject}`);
    const registered = await this.lookup(subject, text);
    if (registered === undefined) {
      throw new PanaceaError(
        'SCHEMA_REGISTRY_UNAVAILABLE',
        `the registry accepted a version of ${subject} but does not find it afterwards`,
        { subject, url: this.baseUrl },
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

    // Which subject and version the id belongs to; registries older than Confluent 5.5 lack
    // this, and the id is readable without it. Apicurio lists every subject with this content.
    const where = await this.request('GET', `/schemas/ids/${id}/versions`);
    const first =
      where.status === 200 && Array.isArray(where.body)
        ? (where.body[0] as { subject?: unknown; version?: unknown } | undefined)
        : undefined;
    const entry: RegisteredSchema = {
      id,
      subject: typeof first?.subject === 'string' ? first.subject : '',
      version: typeof first?.version === 'number' ? first.version : 0,
      schema: comparableText(schema),
    };
    this.byId.set(id, entry);
    return entry;
  }

  async versions(subject: string): Promise<RegisteredSchema[]> {
    const entries: RegisteredSchema[] = [];
    for (const version of await this.versionNumbers(subject)) {
      const one = await this.request('GET', `${subjectPath(subject)}/versions/${version}`);
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

  /**
   * The mode the next version of `subject` is checked under: its own, else BACKWARD for a subject
   * without versions (what its first registration through this client sets), else the global one.
   */
  async compatibility(subject: string): Promise<CompatibilityMode> {
    const own = await this.subjectLevel(subject);
    if (own !== undefined) return own;
    if ((await this.versionNumbers(subject)).length === 0) return DEFAULT_COMPATIBILITY_MODE;
    return this.globalLevel();
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

  /** The mode a registration is checked under; a new subject without one is set to BACKWARD. */
  private async modeForRegistration(
    subject: string,
    firstVersion: boolean,
  ): Promise<CompatibilityMode> {
    const own = await this.subjectLevel(subject);
    if (own !== undefined) return own;
    if (!firstVersion) return this.globalLevel();

    // Set before the first version, so no second version can ever be checked under the
    // server's own default (NONE on Apicurio). Setting it twice from two processes is harmless.
    await this.setCompatibility(subject, DEFAULT_COMPATIBILITY_MODE);
    this.logger?.info(
      { subject, compatibility: DEFAULT_COMPATIBILITY_MODE, url: this.baseUrl },
      'set the compatibility of a new subject',
    );
    return DEFAULT_COMPATIBILITY_MODE;
  }

  /** The subject's own mode, or undefined when it has none (404). */
  private async subjectLevel(subject: string): Promise<CompatibilityMode | undefined> {
    // Without `defaultToGlobal`, so that Confluent answers 404 for "no mode of its own" as
    // Apicurio does, instead of the global level.
    const response = await this.request('GET', `/config/${encodeURIComponent(subject)}`);
    if (response.status === 404) return undefined;
    this.expectOk(response, `read the compatibility of ${subject}`);
    return this.levelIn(response, `the compatibility of ${subject}`);
  }

  private async globalLevel(): Promise<CompatibilityMode> {
    const response = await this.request('GET', '/config');
    this.expectOk(response, 'read the global compatibility level');
    return this.levelIn(response, 'the global compatibility');
  }

  private levelIn(response: ResponseOf, what: string): CompatibilityMode {
    const level = levelOf(response.body);
    if (level === undefined) throw this.malformed(what, response.body);
    return level;
  }

  /** The subject's version numbers; none for a subject the registry does not know (404). */
  private async versionNumbers(subject: string): Promise<number[]> {
    const response = await this.request('GET', `${subjectPath(subject)}/versions`);
    if (response.status === 404) return [];
    this.expectOk(response, `list the versions of ${subject}`);
    if (!Array.isArray(response.body) || !response.body.every(Number.isInteger)) {
      throw this.malformed(`versions of ${subject}`, response.body);
    }
    return response.body as number[];
  }

  /**
   * The registered entry of this exact schema under the subject, if any. A 404 means either no
   * such subject or no such schema under it (Apicurio answers 40401 for both).
   */
  private async lookup(subject: string, text: string): Promise<RegisteredSchema | undefined> {
    const response = await this.request('POST', subjectPath(subject), { schema: text });
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
      schema: comparableText(value.schema),
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
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new PanaceaError(
        'SCHEMA_REGISTRY_UNAVAILABLE',
        `the schema registry at ${this.baseUrl} stopped answering ${method} ${path} mid-body: ${messageOf(error)}`,
        { url: this.baseUrl },
        error,
      );
    }
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
    // Retriable whatever the status: a registry that refuses a read (401, 403, a 404 from a
    // wrong URL) is not the record's fault, so the pipeline waits rather than dead-letters.
    throw new PanaceaError(
      'SCHEMA_REGISTRY_UNAVAILABLE',
      `the schema registry at ${this.baseUrl} could not ${what}: HTTP ${response.status}: ${errorMessageOf(response.body)}`,
      this.statusContext(response),
    );
  }

  /** The HTTP status and the registry's own error code, for an error's context. */
  private statusContext(response: ResponseOf): { url: string; status: number; errorCode?: number } {
    const errorCode = (response.body as { error_code?: unknown } | undefined)?.error_code;
    return {
      url: this.baseUrl,
      status: response.status,
      ...(typeof errorCode === 'number' ? { errorCode } : {}),
    };
  }

  private malformed(what: string, body: unknown): PanaceaError {
    return new PanaceaError(
      'SCHEMA_REGISTRY_UNAVAILABLE',
      `the schema registry at ${this.baseUrl} answered ${what} with an unexpected body: ${JSON.stringify(body)?.slice(0, 200)}`,
      { url: this.baseUrl },
    );
  }
}

function subjectPath(subject: string): string {
  return `/subjects/${encodeURIComponent(subject)}`;
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

/**
 * A schema text from the server in the form this client compares; text that is not a schema is
 * kept as it came, for the codec to refuse with the reason.
 */
function comparableText(text: string): string {
  const read = readSchemaText(text);
  return 'problem' in read ? text : read.text;
}
