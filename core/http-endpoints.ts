/**
 * The HTTP endpoints of a running pipeline: `/metrics` (Prometheus text format), `/healthz`
 * (the process is alive and answers) and `/readyz` (it does its work; 503 with the reasons when
 * not). GET and HEAD only; everything else is 404 or 405. Nothing here changes the pipeline.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { PanaceaError } from './errors.js';
import type { Readiness } from './health.js';
import type { Logger } from './logger.js';

export interface HttpEndpointsOptions {
  host: string;
  port: number;
  /** The exposition text of `/metrics`. */
  scrape(): Promise<{ contentType: string; body: string }>;
  readiness(): Promise<Readiness>;
  logger: Logger;
}

export interface HttpEndpoints {
  /** `http://host:port`, the port as bound. */
  url: string;
  close(): Promise<void>;
}

export async function startHttpEndpoints(options: HttpEndpointsOptions): Promise<HttpEndpoints> {
  const startedAtMs = Date.now();
  const server = createServer((request, response) => {
    route(request, response, options, startedAtMs).catch((error: unknown) => {
      options.logger.warn({ err: error, path: request.url }, 'HTTP endpoint failed');
      if (!response.headersSent) send(response, 500, 'text/plain', 'internal error\n');
      else response.destroy();
    });
  });
  // A scraper keeps its connection open; without this a stop would wait for it to go away.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${options.host}:${options.port}`;
      // A port taken is the port's fault; an address this machine does not have is the host's.
      const hostAtFault = error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND';
      const variable = hostAtFault ? 'PANACEA_HTTP_HOST' : 'PANACEA_HTTP_PORT';
      const advice = hostAtFault
        ? 'choose an address of this machine (127.0.0.1, or 0.0.0.0 for all)'
        : 'choose another port, or off';
      reject(
        new PanaceaError(
          'CONFIG_INVALID',
          `${variable}: cannot listen on ${where} (${error.code ?? error.message}); ${advice}`,
          { field: variable },
          error,
        ),
      );
    });
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  options.logger.info({ url, paths: ['/metrics', '/healthz', '/readyz'] }, 'HTTP endpoints up');

  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function route(
  request: IncomingMessage,
  response: ServerResponse,
  options: HttpEndpointsOptions,
  startedAtMs: number,
): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz') {
    send(response, 404, 'text/plain', 'not found: try /metrics, /healthz or /readyz\n');
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    send(response, 405, 'text/plain', 'method not allowed\n');
    return;
  }

  if (path === '/metrics') {
    const { contentType, body } = await options.scrape();
    send(response, 200, contentType, body);
  } else if (path === '/healthz') {
    const uptimeSeconds = Math.round((Date.now() - startedAtMs) / 1000);
    sendJson(response, 200, { status: 'alive', uptimeSeconds });
  } else {
    const readiness = await options.readiness();
    sendJson(response, readiness.ready ? 200 : 503, readiness);
  }
}

function sendJson(response: ServerResponse, status: number, body: object): void {
  send(response, status, 'application/json', `${JSON.stringify(body)}\n`);
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
  });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
