/**
 * The package entry point for agents: `import { createAgentPublisher } from 'panacea'`. The pino
 * transport is the `panacea/pino` entry (pino-transport.ts).
 */
export { createAgentPublisher } from './agent-publisher.js';
export { DEFAULT_OPTIONS } from './options.js';
export type { AgentPublisherOptions, Compression, DroppedEvent } from './options.js';
export type { EventEncoder } from './encoding.js';
export type {
  AgentPublisher,
  DeliveryReport,
  EventContext,
  PublishReceipt,
  PublisherStats,
} from './types.js';
export { PanaceaError, ERROR_CATALOGUE, type ErrorCode } from '../../core/errors.js';
export type {
  ActivityBody,
  AgentEvent,
  AgentIdentity,
  AttributeValue,
  AuditBody,
  ErrorBody,
  EventKind,
  HeartbeatBody,
} from '../../schemas/event.js';
