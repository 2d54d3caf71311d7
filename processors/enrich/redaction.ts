/**
 * Redaction: masks secrets and personal data in an event's text before the enrichment publishes
 * anything, so the original never reaches the enriched topic or Elasticsearch.
 *
 * A rule is a named regular expression. Where it has a named group `secret`, only that group is
 * masked and the rest of the match stays for search (the `Bearer` scheme, the key in
 * `api_key=…`, the host of a URL, the domain of an e-mail address); otherwise the whole match is.
 * The mask is `[REDACTED:<rule>]`. Rules run in order on the text the previous ones left, so a
 * secret caught by an earlier rule (a JWT after `Bearer`) is counted once, by that rule.
 */

export interface RedactionRule {
  /** Lowercase name, shown in the mask, the counts and `panacea.redactions`. */
  name: string;
  /** What it masks, for a person reading the rules. */
  description: string;
  /** Global, with indices (`gd` flags); a `secret` group limits the mask to that part. */
  pattern: RegExp;
  /**
   * Texts every match contains; a text holding none of them is not scanned. Most texts hold no
   * secret, and a substring search costs far less than a regular expression scan. Lowercase, and
   * compared with the lowercased text, when the pattern ignores case (flag `i`).
   */
  mustContain?: readonly string[];
}

/** Redactions made in one piece of work, by rule name. */
export type RedactionCounts = Record<string, number>;

/** The characters a token value in a header or an assignment is made of. */
const TOKEN_CHARS = String.raw`[A-Za-z0-9\-._~+/]`;
/** A value after `key=` or `key:`, up to a space, quote or separator. */
const VALUE_CHARS = String.raw`[^\s"'&,;]`;

/**
 * The built-in rules, in the order they run. Each one demands more than its prefix (a length, a
 * digit, a second part) so ordinary words that share the prefix pass: `sk-learn`, `xoxo`,
 * `Bearer authentication`, `password: required`.
 */
export const BUILT_IN_RULES: readonly RedactionRule[] = [
  {
    name: 'pem_private_key',
    description: 'PEM private key blocks (RSA, EC, OPENSSH, PKCS#8, encrypted), whole block',
    // The body holds no `-----`: a BEGIN without its END is given up at the next dashes line
    // instead of being scanned to the end of the text from every BEGIN.
    pattern:
      /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:[^-]|-(?!----))*-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----/dg,
    mustContain: ['-----BEGIN '],
  },
  {
    name: 'url_password',
    description: 'the password of `scheme://user:password@host`; scheme, user and host are kept',
    // Bounded parts: text like `a.b.c.…` has a word boundary at every dot, and an unbounded
    // scheme would be scanned to the end from each of them.
    pattern: /\b[A-Za-z][A-Za-z0-9+.-]{0,31}:\/\/[^\s:/@]{1,256}:(?<secret>[^\s@/]{1,256})@/dg,
    mustContain: ['://'],
  },
  {
    name: 'bearer',
    description:
      'the credentials after `Bearer` (as in `Authorization: Bearer …`): 16+ token characters with a digit or symbol',
    pattern: new RegExp(
      String.raw`\b[Bb]earer\s+(?<secret>(?=${TOKEN_CHARS}*[0-9\-._~+/])${TOKEN_CHARS}{16,}=*)`,
      'dg',
    ),
    mustContain: ['earer'],
  },
  {
    name: 'jwt',
    description: 'JSON Web Tokens: three base64url parts, the first two starting `eyJ`',
    pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/dg,
    mustContain: ['eyJ'],
  },
  {
    name: 'sk_key',
    description:
      'OpenAI and Anthropic style keys: `sk-`, `sk-proj-`, `sk-ant-…` then 20+ characters with a digit',
    pattern: /(?<![A-Za-z0-9_-])sk-(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{20,}/dg,
    mustContain: ['sk-'],
  },
  {
    name: 'aws_access_key',
    description: 'AWS access key ids: `AKIA` or `ASIA` then 16 uppercase letters or digits',
    pattern: /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/dg,
    mustContain: ['AKIA', 'ASIA'],
  },
  {
    name: 'github_token',
    description:
      'GitHub tokens: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` (36+) and `github_pat_` (22+)',
    pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})/dg,
    mustContain: ['gh'],
  },
  {
    name: 'slack_token',
    description: 'Slack tokens: `xoxa-`, `xoxb-`, `xoxp-`, `xoxo-`, `xoxs-`, `xoxr-` with a digit',
    pattern: /\bxox[abposr]-(?=[A-Za-z0-9-]*[0-9])[A-Za-z0-9-]{10,}/dg,
    mustContain: ['xox'],
  },
  {
    name: 'secret_assignment',
    description:
      'the value of `api_key=`, `token:`, `password=`, `client_secret: "…"` and the like (6+ characters with a digit, or 20+); the key is kept',
    pattern: new RegExp(
      String.raw`(?<![A-Za-z0-9])(?:api[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|secret[_-]?key|client[_-]?secret|private[_-]?key|password|passwd|pwd|token|secret)["']?\s*[:=]\s*["']?` +
        String.raw`(?<secret>(?!\[REDACTED)(?:(?=${VALUE_CHARS}*[0-9])${VALUE_CHARS}{6,}|${VALUE_CHARS}{20,}))`,
      'dgi',
    ),
    // Compared with the text in lowercase, as the pattern ignores case.
    mustContain: ['key', 'token', 'secret', 'pass', 'pwd'],
  },
  {
    name: 'email',
    description:
      'e-mail addresses: the local part is masked, the domain kept (`[REDACTED:email]@example.com`)',
    pattern:
      /(?<![A-Za-z0-9._%+-])(?<secret>[A-Za-z0-9._%+-]+)@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}\b/dg,
    mustContain: ['@'],
  },
];

export function maskFor(ruleName: string): string {
  return `[REDACTED:${ruleName}]`;
}

/** Masks what the rules find in `text`, adding one to `counts[rule]` per mask. */
export function redactText(
  text: string,
  rules: readonly RedactionRule[],
  counts: RedactionCounts,
): string {
  let result = text;
  let lowercase: string | undefined;
  for (const rule of rules) {
    if (rule.mustContain !== undefined) {
      const haystack = rule.pattern.ignoreCase ? (lowercase ??= result.toLowerCase()) : result;
      if (!rule.mustContain.some((part) => haystack.includes(part))) continue;
    }

    let masked = '';
    let copiedUpTo = 0;
    let found = 0;
    for (const match of result.matchAll(rule.pattern)) {
      const [start, end] = match.indices?.groups?.secret ?? match.indices?.[0] ?? [0, 0];
      if (end <= start) continue;
      masked += result.slice(copiedUpTo, start) + maskFor(rule.name);
      copiedUpTo = end;
      found += 1;
    }
    if (found === 0) continue;

    result = masked + result.slice(copiedUpTo);
    lowercase = undefined;
    counts[rule.name] = (counts[rule.name] ?? 0) + found;
  }
  return result;
}

/**
 * Paths of the event that are identifiers, not text: they join the event to other systems (the
 * Kafka key, the agent registry, traces) and are left as they are. Every other string is scanned,
 * so a field added to the contract later is redacted without anyone remembering to.
 */
const IDENTIFIER_PATHS = new Set([
  'kind',
  'eventId',
  'agent.id',
  'workflowId',
  'taskId',
  'traceId',
  'spanId',
  'audit.sourceIp',
]);

/**
 * A copy of `event` with every text field and every attribute key and value redacted. The shape
 * stays the same: strings stay strings, numbers and booleans are not touched.
 */
export function redactEvent<T extends object>(
  event: T,
  rules: readonly RedactionRule[],
  counts: RedactionCounts,
): T {
  return redactValue(event, '', rules, counts) as T;
}

function redactValue(
  value: unknown,
  path: string,
  rules: readonly RedactionRule[],
  counts: RedactionCounts,
): unknown {
  if (typeof value === 'string') {
    return IDENTIFIER_PATHS.has(path) ? value : redactText(value, rules, counts);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;

  // Attribute keys are the producer's free text as much as their values: a token used as a key
  // would otherwise be stored in the clear. Field names of the contract are not.
  const isAttributes = path.endsWith('attributes');
  const result: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) {
    const childPath = path === '' ? key : `${path}.${key}`;
    const redacted = redactValue(entry, childPath, rules, counts);
    const newKey = isAttributes ? freeKey(redactText(key, rules, counts), result) : key;
    result[newKey] = redacted;
  }
  return result;
}

/** Two keys masked to the same text stay two keys: the later ones get `#2`, `#3`, … */
function freeKey(key: string, taken: Record<string, unknown>): string {
  if (!Object.hasOwn(taken, key)) return key;
  for (let index = 2; ; index += 1) {
    const candidate = `${key}#${index}`;
    if (!Object.hasOwn(taken, candidate)) return candidate;
  }
}
