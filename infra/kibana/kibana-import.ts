/**
 * Sends saved objects to Kibana's import API (`POST <KIBANA_URL>/api/saved_objects/_import`,
 * multipart form-data with the NDJSON as `file`, header `kbn-xsrf`) and reads its per-object
 * answer. Node's own fetch, FormData and Blob: no HTTP client dependency for one request.
 *
 * Credentials in KIBANA_URL (`https://user:password@kibana:5601`) become a Basic Authorization
 * header: fetch refuses a URL that carries them, and they must never reach a log line.
 */
import { messageOf, PanaceaError } from '../../core/errors.js';

/** The import parses and migrates every object before answering; a large set takes seconds. */
export const DEFAULT_IMPORT_TIMEOUT_MS = 30_000;

export interface KibanaImportOptions {
  kibanaUrl: string;
  ndjson: string;
  /** Replace objects with the same id instead of reporting them as conflicts. */
  overwrite: boolean;
  /** Whole request, connect to last byte; default DEFAULT_IMPORT_TIMEOUT_MS. */
  timeoutMs?: number;
}

export interface ImportedObject {
  type: string;
  id: string;
}

export interface RejectedObject {
  type: string;
  id: string;
  title?: string;
  /** Kibana's error type: `conflict`, `missing_references`, `unsupported_type`, `unknown`. */
  errorType: string;
  /** What Kibana said beyond the type, e.g. the missing references; may be empty. */
  detail: string;
}

export interface KibanaImportResult {
  successCount: number;
  imported: ImportedObject[];
  rejected: RejectedObject[];
}

interface ImportResponse {
  success?: boolean;
  successCount?: number;
  successResults?: { type: string; id: string }[];
  errors?: {
    type: string;
    id: string;
    title?: string;
    meta?: { title?: string };
    error?: { type?: string; message?: string; references?: { type: string; id: string }[] };
  }[];
}

export async function importSavedObjects(
  options: KibanaImportOptions,
): Promise<KibanaImportResult> {
  const { url, authorization } = importUrl(options.kibanaUrl, options.overwrite);
  const form = new FormData();
  form.append('file', new Blob([options.ndjson], { type: 'application/ndjson' }), 'export.ndjson');

  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: {
        'kbn-xsrf': 'true',
        ...(authorization === undefined ? {} : { authorization }),
      },
      body: form,
      signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_IMPORT_TIMEOUT_MS),
    });
  } catch (error) {
    throw new PanaceaError(
      'KIBANA_UNAVAILABLE',
      `Kibana at ${redacted(url)} could not be reached: ${causeOf(error)}`,
      { url: redacted(url) },
      error,
    );
  }

  const text = await response.text().catch(() => '');
  if (!response.ok) throw httpError(response.status, text, url);
  let body: ImportResponse;
  try {
    body = JSON.parse(text) as ImportResponse;
  } catch {
    throw new PanaceaError(
      'KIBANA_UNAVAILABLE',
      `Kibana at ${redacted(url)} answered ${response.status} with no JSON: ${text.slice(0, 200)}`,
      { url: redacted(url) },
    );
  }
  return toResult(body);
}

function toResult(body: ImportResponse): KibanaImportResult {
  const rejected = (body.errors ?? []).map((error) => {
    const references = error.error?.references ?? [];
    const detail =
      references.length > 0
        ? `missing ${references.map((reference) => `${reference.type} ${reference.id}`).join(', ')}`
        : (error.error?.message ?? '');
    const title = error.title ?? error.meta?.title;
    return {
      type: error.type,
      id: error.id,
      ...(title === undefined ? {} : { title }),
      errorType: error.error?.type ?? 'unknown',
      detail,
    };
  });
  return {
    successCount: body.successCount ?? 0,
    imported: (body.successResults ?? []).map(({ type, id }) => ({ type, id })),
    rejected,
  };
}

/** The import endpoint under KIBANA_URL (which may end in a space, `/s/ops`), minus credentials. */
function importUrl(
  kibanaUrl: string,
  overwrite: boolean,
): { url: URL; authorization: string | undefined } {
  const url = new URL(`${kibanaUrl.replace(/\/+$/, '')}/api/saved_objects/_import`);
  if (overwrite) url.searchParams.set('overwrite', 'true');
  const authorization =
    url.username === ''
      ? undefined
      : `Basic ${Buffer.from(
          `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
        ).toString('base64')}`;
  url.username = '';
  url.password = '';
  return { url, authorization };
}

function httpError(status: number, text: string, url: URL): PanaceaError {
  // Kibana's error body is `{ statusCode, error, message }`; its message says what was wrong.
  let message = text.slice(0, 500);
  try {
    const body = JSON.parse(text) as { message?: string; error?: string };
    message = body.message ?? body.error ?? message;
  } catch {
    // Not JSON (a proxy's HTML page): the start of the text says enough.
  }
  const hint = status === 401 || status === 403 ? ' (check the credentials in KIBANA_URL)' : '';
  const code = status >= 500 || status === 429 ? 'KIBANA_UNAVAILABLE' : 'KIBANA_REQUEST_REJECTED';
  return new PanaceaError(
    code,
    `Kibana at ${redacted(url)} answered ${status}: ${message}${hint}`,
    { url: redacted(url), status },
  );
}

/** fetch reports "fetch failed" and hides the reason (ECONNREFUSED, a timeout) in `cause`. */
function causeOf(error: unknown): string {
  if (error instanceof DOMException && error.name === 'TimeoutError') return 'timed out';
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? messageOf(error);
}

function redacted(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
