/**
 * Each built-in redaction rule masks its case and leaves the look-alikes that are not secrets;
 * whole events are redacted in every text field and attribute key, but not in their identifiers.
 */
import { describe, expect, it } from 'vitest';

import {
  BUILT_IN_RULES,
  redactEvent,
  redactText,
  type RedactionCounts,
} from '../../../../processors/enrich/redaction.js';
import type { ActivityEvent, AuditEvent } from '../../../../schemas/event.js';

function redact(text: string): { text: string; counts: RedactionCounts } {
  const counts: RedactionCounts = {};
  return { text: redactText(text, BUILT_IN_RULES, counts), counts };
}

// Secrets are assembled at run time so no scanner mistakes this file for a leak.
const OPENAI_KEY = ['sk', 'proj', 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4'].join('-');
const ANTHROPIC_KEY = ['sk', 'ant', 'api03', 'Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2'].join('-');
const AWS_KEY = 'AKIA' + 'IOSFODNN7EXAMPLE';
const GITHUB_TOKEN = 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
const GITHUB_PAT = 'github_pat_' + '11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz';
const SLACK_TOKEN = 'xoxb-' + '123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx';
const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9' +
  '.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ' +
  '.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
const PEM_KEY = [
  '-----BEGIN RSA PRIVATE KEY-----',
  'MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun',
  'VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK',
  '-----END RSA PRIVATE KEY-----',
].join('\n');

describe('redaction rules', () => {
  it.each([
    ['sk_key', `calling the model with ${OPENAI_KEY} failed`, OPENAI_KEY],
    ['sk_key', `key=${ANTHROPIC_KEY}`.replace('key=', 'using '), ANTHROPIC_KEY],
    ['aws_access_key', `aws configure set aws_access_key_id ${AWS_KEY}`, AWS_KEY],
    ['github_token', `git clone https://x:${GITHUB_TOKEN}`.replace('x:', ''), GITHUB_TOKEN],
    ['github_token', `GH_TOKEN ${GITHUB_PAT} expired`, GITHUB_PAT],
    ['slack_token', `posting with ${SLACK_TOKEN}`, SLACK_TOKEN],
    ['jwt', `session ${JWT} rejected`, JWT],
    ['pem_private_key', `loaded key:\n${PEM_KEY}\nok`, PEM_KEY],
  ])('%s masks %j', (rule, text, secret) => {
    const { text: redacted, counts } = redact(text);

    expect(redacted).not.toContain(secret);
    expect(redacted).toContain(`[REDACTED:${rule}]`);
    expect(counts).toEqual({ [rule]: 1 });
  });

  it('bearer masks the credentials of an Authorization header and keeps the scheme', () => {
    const { text, counts } = redact('Authorization: Bearer abc123.DEF456-ghi789_jkl');

    expect(text).toBe('Authorization: Bearer [REDACTED:bearer]');
    expect(counts).toEqual({ bearer: 1 });
  });

  it('bearer takes a JWT after it, counted once as bearer', () => {
    const { text, counts } = redact(`Authorization: Bearer ${JWT}`);

    expect(text).toBe('Authorization: Bearer [REDACTED:bearer]');
    expect(counts).toEqual({ bearer: 1 });
  });

  it('url_password masks the password of a URL and keeps scheme, user and host', () => {
    const { text, counts } = redact('connecting to postgres://app:s3cr3t!pw@db.internal:5432/app');

    expect(text).toBe('connecting to postgres://app:[REDACTED:url_password]@db.internal:5432/app');
    expect(counts).toEqual({ url_password: 1 });
  });

  it('email masks the local part and keeps the domain', () => {
    const { text, counts } = redact('sent to jane.doe+agents@example.co.uk and bob@corp.io');

    expect(text).toBe('sent to [REDACTED:email]@example.co.uk and [REDACTED:email]@corp.io');
    expect(counts).toEqual({ email: 2 });
  });

  it.each([
    ['api_key=Zx81mQ2pL0', 'api_key=[REDACTED:secret_assignment]'],
    [
      '"client_secret": "a8f5f167f44f4964e6c998dee827110c"',
      '"client_secret": "[REDACTED:secret_assignment]"',
    ],
    [
      'GET /v1?access_token=9f8e7d6c5b&page=2',
      'GET /v1?access_token=[REDACTED:secret_assignment]&page=2',
    ],
    ['password: hunter22', 'password: [REDACTED:secret_assignment]'],
    [
      'OPENWEATHER_API_KEY=b1946ac92492d2347c6235b4d2611184',
      'OPENWEATHER_API_KEY=[REDACTED:secret_assignment]',
    ],
    ['Pwd: 12345678', 'Pwd: [REDACTED:secret_assignment]'],
    ['PassWord=abc123xyz', 'PassWord=[REDACTED:secret_assignment]'],
  ])('secret_assignment masks the value of %j and keeps the key', (input, expected) => {
    const { text, counts } = redact(input);

    expect(text).toBe(expected);
    expect(counts).toEqual({ secret_assignment: 1 });
  });

  it.each([
    ['sk- in ordinary words', 'risk-assessment-for-agents, desk-top, sk-learn 1.5.2, task-sk-1'],
    ['a short sk- id', 'sk-12345'],
    ['a hyphenated name without digits after sk-', 'sk-this-is-a-long-hyphenated-name'],
    ['AKIA that is too short or lowercase', 'AKIA1234 and akiaiosfodnn7example'],
    ['a short ghp_ name', 'ghp_short and github_pat_x'],
    ['xoxo without a token', 'xoxo-hugs-and-kisses'],
    ['Bearer in prose', 'the Bearer authentication scheme; bearer of bad news'],
    ['a version string', 'upgraded to 1.2.3-beta.4+build.567 (v2024.11.30)'],
    [
      'a base64 blob that is not a JWT',
      'payload aGVsbG8gd29ybGQsIHRoaXMgaXMgbm90IGEgand0IGF0IGFsbA== sent',
    ],
    ['one eyJ segment', 'header eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9 only'],
    ['user@ without a domain', 'ssh user@ failed; ping @channel; lodash@4.17.21; @Component'],
    [
      'a URL with a port and no password',
      'http://localhost:8080/path@v2 and https://example.com/@user',
    ],
    [
      'a PEM certificate',
      '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----',
    ],
    ['a public key', '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0B\n-----END PUBLIC KEY-----'],
    [
      'password words that are not values',
      'password: required; token: none; api_key rotation; max_tokens=4096',
    ],
  ])('leaves %s alone', (_case, text) => {
    const { text: redacted, counts } = redact(text);

    expect(redacted).toBe(text);
    expect(counts).toEqual({});
  });
});

describe('redaction on hostile text', () => {
  // Texts the size of the largest stack the contract takes, shaped to make a careless pattern
  // scan the rest of the text from every position.
  it.each([
    ['dots', 'a.'.repeat(131_072)],
    ['BEGIN lines without END', '-----BEGIN PRIVATE KEY-----\n'.repeat(9_362)],
    ['keys without values', 'token '.repeat(43_690)],
    ['half JWTs', 'eyJaaaaaaaaa.'.repeat(20_164)],
  ])('stays linear on %s', (_shape, text) => {
    const startedAtMs = performance.now();

    redactText(text, BUILT_IN_RULES, {});

    expect(performance.now() - startedAtMs).toBeLessThan(1_000);
  });
});

describe('redacting an event', () => {
  const activity: ActivityEvent = {
    kind: 'activity',
    eventId: 'evt-1',
    timestamp: 0,
    agent: { id: 'bot@corp.io', name: 'mailer for ops@corp.io' },
    workflowId: 'wf-1',
    activity: {
      action: `call with ${OPENAI_KEY}`,
      status: 'failed',
      attributes: {
        'user.email': 'ann@corp.io',
        [`header.${GITHUB_TOKEN}`]: true,
        '[REDACTED:github_token]': 'already there',
        tokens: 17,
      },
    },
  };

  it('masks text fields and attribute keys and values, and counts each mask', () => {
    const counts: RedactionCounts = {};

    const redacted = redactEvent(activity, BUILT_IN_RULES, counts);

    expect(redacted.agent.name).toBe('mailer for [REDACTED:email]@corp.io');
    expect(redacted.activity.action).toBe('call with [REDACTED:sk_key]');
    expect(redacted.activity.attributes).toEqual({
      'user.email': '[REDACTED:email]@corp.io',
      'header.[REDACTED:github_token]': true,
      '[REDACTED:github_token]': 'already there',
      tokens: 17,
    });
    expect(counts).toEqual({ email: 2, sk_key: 1, github_token: 1 });
  });

  it('leaves identifiers as they are: event id, agent id, workflow and the source IP', () => {
    const audit: AuditEvent = {
      kind: 'audit',
      eventId: 'evt-2',
      timestamp: 0,
      agent: { id: 'bot@corp.io' },
      audit: {
        actor: { type: 'user', id: 'ann@corp.io' },
        action: 'secret.read',
        resource: { type: 'secret', id: 's-1' },
        outcome: 'success',
        sourceIp: '10.0.0.1',
      },
    };

    const redacted = redactEvent(audit, BUILT_IN_RULES, {});

    expect(redacted.agent.id).toBe('bot@corp.io');
    expect(redacted.audit.sourceIp).toBe('10.0.0.1');
    expect(redacted.audit.actor.id).toBe('[REDACTED:email]@corp.io');
  });

  it('keeps two attribute keys that mask to the same text apart', () => {
    const event: ActivityEvent = {
      ...activity,
      activity: { action: 'x', status: 'started', attributes: { 'a@x.io': 1, 'b@x.io': 2 } },
    };

    const redacted = redactEvent(event, BUILT_IN_RULES, {});

    expect(redacted.activity.attributes).toEqual({
      '[REDACTED:email]@x.io': 1,
      '[REDACTED:email]@x.io#2': 2,
    });
  });
});
