import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../../../core/config.js';
import {
  DEFAULT_RETRY_POLICY,
  hostAllowed,
  parseDestinations,
} from '../../../../sinks/webhooks/destinations-file.js';
import { thrownPanaceaError } from '../../fixtures/panacea-error.js';

const SECRET = 'a-secret-of-enough-length';
const environment = { HOOK_SECRET: SECRET };

function parse(text: string) {
  return parseDestinations(text, 'destinations.yaml', environment);
}

function problem(text: string) {
  return thrownPanaceaError(() => parse(text));
}

describe('alert destinations file', () => {
  it('reads YAML with durations, env secrets and defaults', () => {
    const { destinations } = parse(`
destinations:
  - name: ops
    type: webhook
    url: https://hooks.example.com/panacea
    secret: env:HOOK_SECRET
    timeout: 2s
    retry: { initialDelay: 100ms, maxDelay: 2s, maxAttempts: 5, maxTotalTime: 1m }
  - name: chat
    type: slack
    url: https://chat.example.com/hooks/abc
  - name: am
    type: alertmanager
    url: http://127.0.0.1:9093
    generatorUrl: https://kibana.example.com/alerts/{fingerprint}
    firingTtl: 1h
`);
    expect(destinations.map((destination) => destination.name)).toEqual(['ops', 'chat', 'am']);
    const [ops, chat, am] = destinations;
    expect(ops?.secret).toBe(SECRET);
    expect(ops?.timeoutMs).toBe(2_000);
    expect(ops?.retry).toEqual({
      initialDelayMs: 100,
      maxDelayMs: 2_000,
      maxAttempts: 5,
      maxTotalMs: 60_000,
    });
    expect(chat?.secret).toBeUndefined();
    expect(chat?.retry).toEqual(DEFAULT_RETRY_POLICY);
    expect(am?.firingTtlMs).toBe(3_600_000);
    expect(am?.url.href).toBe('http://127.0.0.1:9093/');
  });

  it('reads the same file written as JSON', () => {
    const { destinations } = parse(
      JSON.stringify({
        destinations: [
          { name: 'ops', type: 'webhook', url: 'http://127.0.0.1:8081/x', secret: SECRET },
        ],
      }),
    );
    expect(destinations[0]?.url.port).toBe('8081');
  });

  it('names the destination and the field of a bad value', () => {
    const error = problem(`
destinations:
  - name: ops
    type: webhook
    url: https://hooks.example.com/
    secret: env:HOOK_SECRET
    retry: { maxDelay: soon }
`);
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('destination "ops": retry.maxDelay: expected a duration');
    expect(error.message).toContain('got "soon"');
    expect(error.context.field).toBe('destinations[0].retry.maxDelay');
  });

  it.each([
    ['an unknown type', 'type: email', 'type: expected one of webhook, slack, alertmanager'],
    [
      'a URL of another scheme',
      'url: ftp://hooks.example.com/',
      'url: expected an http:// or https:// URL, got scheme "ftp:"',
    ],
    [
      'a URL that does not parse',
      'url: "https://"',
      'url: expected an http:// or https:// URL, got "https://"',
    ],
    [
      'a URL with credentials',
      'url: https://user:pw@hooks.example.com/',
      'url: must not carry a user or password',
    ],
    ['a URL with no host (not read as host "x")', 'url: "http:///x"', 'url: expected a host in'],
    ['a URL without slashes', 'url: "https:hooks.example.com/"', 'url: expected a host in'],
    ['a name unfit for a consumer group', 'name: "Ops Hook"', 'name: expected lowercase letters'],
    ['an unknown key', 'retries: 3', 'retries: unknown key'],
    ['a timeout over 10 s', 'timeout: 30s', 'timeout: expected'],
    ['a timeout without its unit', 'timeout: 5', 'timeout: expected a duration with its unit'],
    ['a port fetch refuses', 'url: http://127.0.0.1:6000/x', 'url: port 6000 is one that fetch'],
    ['a blank secret', 'secret: "                "', 'secret: is blank'],
    ['an env secret without a name', 'secret: "env:"', 'secret: expected env:VARIABLE'],
    ['a zero concurrency', 'concurrency: 0', 'concurrency: expected a whole number from 1 to 64'],
  ])('refuses %s', (_case, line, message) => {
    const fields: Record<string, string> = {
      name: 'name: ops',
      type: 'type: webhook',
      url: 'url: https://hooks.example.com/',
      secret: 'secret: env:HOOK_SECRET',
    };
    const key = line.split(':')[0] as string;
    const entry = { ...fields, [key]: line };
    const text = `destinations:\n  - ${Object.values(entry).join('\n    ')}\n`;
    expect(problem(text).message).toContain(message);
  });

  it('requires a secret for a webhook and refuses a short one or a missing variable', () => {
    const base =
      'destinations:\n  - name: ops\n    type: webhook\n    url: https://h.example.com/\n';
    expect(problem(base).message).toContain('secret: required for a webhook destination');
    expect(problem(`${base}    secret: short\n`).message).toContain(
      'at least 16 characters, got 5',
    );
    const missing = problem(`${base}    secret: env:NOT_SET_ANYWHERE\n`);
    expect(missing.message).toContain('the environment variable NOT_SET_ANYWHERE is not set');
  });

  it('never shows the secret in an error', () => {
    const error = problem(`
destinations:
  - name: ops
    type: webhook
    url: https://hooks.example.com/
    secret: env:HOOK_SECRET
    timeout: never
`);
    expect(error.message).not.toContain(SECRET);
  });

  it('refuses a host outside the file allowlist or the destination allowlist', () => {
    const global = problem(`
allowHosts: [hooks.example.com]
destinations:
  - { name: ops, type: slack, url: "https://evil.example.net/x" }
`);
    expect(global.message).toContain(
      'destination "ops": url: host "evil.example.net" is not in allowHosts (hooks.example.com)',
    );
    const own = problem(`
allowHosts: ["*.example.com"]
destinations:
  - { name: ops, type: slack, url: "https://b.example.com/x", allowHosts: [a.example.com] }
`);
    expect(own.message).toContain('host "b.example.com" is not in allowHosts (a.example.com)');
    const { destinations } = parse(`
allowHosts: ["*.example.com"]
destinations:
  - { name: ops, type: slack, url: "https://a.example.com/x", allowHosts: [a.example.com] }
`);
    expect(destinations[0]?.allowHosts).toEqual([['*.example.com'], ['a.example.com']]);
  });

  it('refuses duplicate names, an empty list and alertmanager fields on other types', () => {
    expect(
      problem(`
destinations:
  - { name: ops, type: slack, url: "https://a.example.com/x" }
  - { name: ops, type: slack, url: "https://b.example.com/x" }
`).message,
    ).toContain('destinations[1]: name "ops" is used twice');
    expect(problem('destinations: []').message).toContain(
      'destinations: expected a non-empty list',
    );
    expect(
      problem(`
destinations:
  - { name: ops, type: slack, url: "https://a.example.com/x", firingTtl: 1h }
`).message,
    ).toContain('firingTtl: only for an alertmanager destination');
  });

  it('names the file when it is not YAML', () => {
    expect(problem('destinations: [unclosed').message).toMatch(
      /^destinations.yaml: not valid YAML/,
    );
  });

  it('is found through PANACEA_ALERT_DESTINATIONS', () => {
    expect(loadConfig({}).alertDestinationsFile).toBeUndefined();
    expect(
      loadConfig({ PANACEA_ALERT_DESTINATIONS: '/etc/panacea/d.yaml' }).alertDestinationsFile,
    ).toBe('/etc/panacea/d.yaml');
  });
});

describe('host allowlist', () => {
  it('matches exact names and wildcard subdomains, not look-alikes', () => {
    expect(hostAllowed('hooks.example.com', ['hooks.example.com'])).toBe(true);
    expect(hostAllowed('HOOKS.example.com', ['hooks.example.com'])).toBe(true);
    expect(hostAllowed('a.b.example.com', ['*.example.com'])).toBe(true);
    expect(hostAllowed('example.com', ['*.example.com'])).toBe(false);
    expect(hostAllowed('badexample.com', ['*.example.com'])).toBe(false);
    expect(hostAllowed('hooks.example.com.evil.net', ['hooks.example.com'])).toBe(false);
  });
});
