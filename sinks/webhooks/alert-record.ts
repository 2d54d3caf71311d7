/**
 * Reads an alerts-topic record back into an AlertNotification (schemas/alert.ts), checking the
 * fields the webhook sink relies on. A record that fails is refused with CONTRACT_VIOLATION and
 * the field, and goes to the alerts topic's dead-letter topic.
 */
import { PanaceaError } from '../../core/errors.js';
import { ALERT_SEVERITIES, ALERT_STATES, type AlertNotification } from '../../schemas/alert.js';

export function readAlertNotification(value: Buffer | null): AlertNotification {
  if (value === null) throw violation('the record has no value (a tombstone)', 'value');
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (error) {
    throw new PanaceaError(
      'DECODE_FAILED',
      'the record is not a JSON alert notification',
      {},
      error,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw violation('expected a JSON object', 'value');
  }
  const record = parsed as Record<string, unknown>;

  for (const field of ['notificationId', 'fingerprint', 'rule', 'firedAt', 'emittedAt']) {
    if (typeof record[field] !== 'string' || record[field] === '') {
      throw violation(`${field}: expected a non-empty string`, field);
    }
  }
  if (!(ALERT_STATES as readonly unknown[]).includes(record.state)) {
    throw violation(`state: expected ${ALERT_STATES.join(' or ')}`, 'state');
  }
  if (!(ALERT_SEVERITIES as readonly unknown[]).includes(record.severity)) {
    throw violation(`severity: expected one of ${ALERT_SEVERITIES.join(', ')}`, 'severity');
  }
  for (const field of ['labels', 'annotations']) {
    if (!isStringMap(record[field])) throw violation(`${field}: expected string values`, field);
  }
  for (const field of ['silencedBy', 'notify']) {
    if (!isStringList(record[field]))
      throw violation(`${field}: expected a list of strings`, field);
  }
  if (record.state === 'resolved' && typeof record.resolvedAt !== 'string') {
    throw violation('resolvedAt: expected a time on a resolved notification', 'resolvedAt');
  }
  return record as unknown as AlertNotification;
}

function isStringMap(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((entry) => typeof entry === 'string')
  );
}

function isStringList(value: unknown): boolean {
  return Array.isArray(value) && value.every((entry) => typeof entry === 'string');
}

function violation(message: string, field: string): PanaceaError {
  return new PanaceaError('CONTRACT_VIOLATION', `alert notification: ${message}`, { field });
}
