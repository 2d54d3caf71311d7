/**
 * `panacea kibana import` against a fake Kibana: an HTTP server this test starts on 127.0.0.1
 * that records each request and answers what the test tells it to. A mock, because Kibana itself
 * cannot run on the development machines; what a real Kibana does with the objects (migrations,
 * rendering) is not checked here (see README, "Kibana").
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { kibanaCommand } from '../../../cli/commands/kibana.js';
import { loadConfig } from '../../../core/config.js';
import { importSavedObjects } from '../../../infra/kibana/kibana-import.js';
import { freePort } from '../../../infra/stack/jvm-servers.js';
import {
  defaultSavedObjectsPath,
  readSavedObjectFiles,
} from '../../../infra/kibana/saved-object-files.js';

interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let server: Server;
let kibanaUrl: string;
let requests: RecordedRequest[] = [];
let answer: { status: number; body: string } = { status: 200, body: '{}' };

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks),
      });
      response.writeHead(answer.status, { 'content-type': 'application/json' });
      response.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  kibanaUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

afterEach(() => {
  requests = [];
  vi.restoreAllMocks();
});

/** Runs the command with KIBANA_URL set, and what it printed on stdout. */
async function runImport(
  args: string[],
  url: string | null = kibanaUrl,
): Promise<{ exitCode: number; stdout: string }> {
  const config = loadConfig(url === null ? {} : { KIBANA_URL: url });
  let stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const exitCode = await kibanaCommand(['import', ...args], config);
  return { exitCode, stdout };
}

/** The objects a recorded multipart request carried in its `file` part. */
async function objectsSent(request: RecordedRequest): Promise<{ type: string; id: string }[]> {
  const form = await new Request('http://fake/', {
    method: 'POST',
    headers: { 'content-type': request.headers['content-type'] ?? '' },
    body: request.body,
  }).formData();
  const file = form.get('file');
  if (!(file instanceof Blob)) throw new Error('no file part in the request');
  return (await file.text())
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string; id: string });
}

const shipped = readSavedObjectFiles(defaultSavedObjectsPath()).objects;

describe('kibana import command', () => {
  it('sends every shipped object as multipart form-data with kbn-xsrf, and reports success', async () => {
    answer = {
      status: 200,
      body: JSON.stringify({
        success: true,
        successCount: shipped.length,
        successResults: shipped.map(({ type, id }) => ({ type, id })),
      }),
    };

    const { exitCode, stdout } = await runImport([]);

    expect(exitCode).toBe(0);
    expect(stdout).toContain(`imported ${shipped.length} of ${shipped.length}, refused 0`);
    const [request] = requests;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/api/saved_objects/_import');
    expect(request?.headers['kbn-xsrf']).toBe('true');
    expect(request?.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    const sent = await objectsSent(request as RecordedRequest);
    expect(sent.map(({ type, id }) => `${type}/${id}`)).toEqual(
      shipped.map(({ type, id }) => `${type}/${id}`),
    );
  });

  it('asks for overwrite with --overwrite and sends URL credentials as Basic auth', async () => {
    answer = { status: 200, body: JSON.stringify({ success: true, successCount: 1 }) };
    const url = kibanaUrl.replace('http://', 'http://ops:s%3Acret@') + '/s/team-a/';

    await runImport(
      ['--overwrite', '--file', `${defaultSavedObjectsPath()}/02-searches.ndjson`],
      url,
    );

    const [request] = requests;
    expect(request?.url).toBe('/s/team-a/api/saved_objects/_import?overwrite=true');
    expect(request?.headers.authorization).toBe(
      `Basic ${Buffer.from('ops:s:cret').toString('base64')}`,
    );
    expect((await objectsSent(request as RecordedRequest)).every((o) => o.type === 'search')).toBe(
      true,
    );
  });

  it('names each refused object with its error type and exits 1', async () => {
    answer = {
      status: 200,
      body: JSON.stringify({
        success: false,
        successCount: shipped.length - 2,
        errors: [
          {
            type: 'dashboard',
            id: 'panacea-agent-overview',
            title: 'Panacea: AI agents overview',
            error: { type: 'conflict' },
          },
          {
            type: 'lens',
            id: 'panacea-ingest-lag',
            meta: { title: 'Ingest lag (ms)' },
            error: {
              type: 'missing_references',
              references: [{ type: 'index-pattern', id: 'panacea-logs-agent' }],
            },
          },
        ],
      }),
    };

    const { exitCode, stdout } = await runImport([]);

    expect(exitCode).toBe(1);
    expect(stdout).toContain(
      'dashboard panacea-agent-overview ("Panacea: AI agents overview"): conflict',
    );
    expect(stdout).toContain(
      'lens panacea-ingest-lag ("Ingest lag (ms)"): missing_references: missing index-pattern panacea-logs-agent',
    );
    expect(stdout).toContain(`imported ${shipped.length - 2} of ${shipped.length}, refused 2`);
    expect(stdout).toContain('--overwrite replaces them');
  });

  it('turns an HTTP error into a message with the status and what Kibana said', async () => {
    answer = {
      status: 401,
      body: JSON.stringify({ statusCode: 401, error: 'Unauthorized', message: 'missing auth' }),
    };

    await expect(runImport([])).rejects.toMatchObject({
      code: 'KIBANA_REQUEST_REJECTED',
      message: expect.stringMatching(/answered 401: missing auth \(check the credentials/),
    });
  });

  it('names the address and the reason when Kibana cannot be reached', async () => {
    // A port that was free a moment ago: nothing listens, so the connection is refused at once.
    const port = await freePort();
    const url = `http://someone:secret@127.0.0.1:${port}`;

    const failure = runImport([], url);

    await expect(failure).rejects.toMatchObject({
      code: 'KIBANA_UNAVAILABLE',
      message: `Kibana at http://127.0.0.1:${port}/api/saved_objects/_import could not be reached: ECONNREFUSED`,
    });
  });

  it('gives up on a Kibana that does not answer within the timeout', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;

    try {
      await expect(
        importSavedObjects({
          kibanaUrl: `http://127.0.0.1:${port}`,
          ndjson: '{}\n',
          overwrite: false,
          timeoutMs: 200,
        }),
      ).rejects.toMatchObject({
        code: 'KIBANA_UNAVAILABLE',
        message: /could not be reached: timed out/,
      });
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('refuses to run without KIBANA_URL and names the variable', async () => {
    await expect(runImport([], null)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('KIBANA_URL is not set'),
    });
    expect(requests).toEqual([]);
  });

  it('refuses a KIBANA_URL that is not http(s)', () => {
    expect(() => loadConfig({ KIBANA_URL: 'ftp://kibana' })).toThrow(
      'KIBANA_URL: expected an http:// or https:// URL, got "ftp://kibana"',
    );
  });
});
