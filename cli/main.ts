/**
 * The `panacea` command: parses the command name, runs it, and turns every failure into a clear
 * message on stderr and an exit code (0 done, 1 some input rejected, 2 usage or connection error).
 */
import { loadConfig } from '../core/config.js';
import { PanaceaError } from '../core/errors.js';
import { EXIT_FAILURE, say } from './command-line.js';
import { STACK_USAGE, stackCommand } from './commands/stack.js';

const USAGE = `usage:
  ${STACK_USAGE}
  panacea es setup|status|retention [--json] [--dry-run]
                                                 index templates and data streams (setup),
                                                 what they hold (status), expire data (retention)
  panacea produce --file FILE|-                  publish NDJSON contract events
  panacea import --format openhands FILE [--tz ZONE] [--agent-id ID]
                                                 publish a real agent session
  panacea import --format swe-agent FILE --start RFC3339 [--agent-id ID] [--partial]
                                                 publish a SWE-agent run (.traj); --partial
                                                 keeps the valid steps before a bad one (exit 1)
  panacea schemas check [FILE...] | list | mode SUBJECT [MODE] | register FILE [--subject NAME]
                                                 lint, list and evolve the event schemas
  panacea agents register ID --name NAME [--team T] [--owner O] [--env E] [--label K=V]...
  panacea agents register --file FILE | list | remove ID...
                                                 the agent registry the enrichment adds to events
  panacea run [--until-idle]                     run the pipeline
  panacea dlq inspect [--topic T]... [--stage S] [--reason CODE] [--json]
                                                 dead letters by stage and reason: counts, first
                                                 and last rejection, source topics, re-driven
  panacea dlq inspect --show TOPIC:PARTITION:OFFSET [--json]
                                                 one dead letter: headers, key, value decoded
  panacea dlq replay --reason CODE [--stage S] [--topic T]... [--dry-run] [--again]
                                                 re-drive dead letters through the stage that
                                                 rejected them, once each (--again: once more)
  panacea alerts silence add --match K=V [--match K=V]... (--for 2h | --until RFC3339)
                                 [--starts RFC3339] [--comment T] [--author A]
  panacea alerts silence list [--all] | expire ID...
                                                 silences of the alerts stage
  panacea alerts check-rules [FILE]              validate an alert rules file
  panacea audit verify [--from RFC3339] [--to RFC3339] [--public-key FILE] [--json]
                                                 check the audit archive's hashes, chain and
                                                 signatures; exit 1 naming the first broken segment
  panacea audit retention [--dry-run] [--json]   delete archive segments past retention, not held
  panacea audit hold add [--from RFC3339] [--to RFC3339] [--actor ID] [--resource ID]
                         --reason TEXT --by NAME
  panacea audit hold remove HOLD_ID --reason TEXT --by NAME | hold list [--history] [--json]
                                                 legal holds, each change in a signed hold log
  panacea audit export --from RFC3339 --to RFC3339 [--actor ID] [--resource ID]
                       [--outcome success|failure|denied] --format ndjson|csv [--output FILE]
                                                 verified archived events for offline analysis
  panacea replay --topic T [--topic T]... [--from RFC3339|P:OFFSET,...] [--to RFC3339|P:OFFSET,...]
                 [--agent ID]... [--workflow ID]... [--kind K]...
                 [--into sinks|elasticsearch:NAMESPACE|topic:NAME] [--dry-run] [--json]
                                                 run an exact range [from, to) of history through
                                                 the sinks again, beside the live pipeline
  panacea replay --from-archive [--from RFC3339] [--to RFC3339] [--agent ID]... [--workflow ID]...
                 [--kind audit]
                 [--into sinks|elasticsearch:NAMESPACE|topic:NAME] [--dry-run] [--json]
                                                 write the verified audit archive back (by Kafka
                                                 timestamp); exit 2 on a broken archive
  panacea kibana import [--file DIR_OR_FILE] [--overwrite]
                                                 data views, searches and dashboard to KIBANA_URL
  panacea demo [--agents N]                      stack up, pipeline and a simulated fleet (npm start)
  panacea [--config FILE] config check|print|schema [--json]
                                                 validate the settings, show them (secrets masked)
                                                 and where each came from, or the file's JSON Schema
  panacea destinations check | test NAME         check the alert destinations file; send a signed
                                                 test notification to one destination

configuration: a YAML or JSON file (--config FILE before the command, or PANACEA_CONFIG), each key
             overridden by its environment variable; "panacea config print" lists every one
             (KAFKA_BROKERS, ELASTICSEARCH_URL, PANACEA_NAMESPACE, LOG_LEVEL, …)
             (see README)`;

type Command = (args: string[], config: ReturnType<typeof loadConfig>) => Promise<number>;

// Commands load on demand, so `panacea stack status` does not load the pipeline's dependencies.
const COMMANDS: Record<string, () => Promise<Command>> = {
  stack: async () => stackCommand,
  produce: async () => (await import('./commands/produce.js')).produceCommand,
  import: async () => (await import('./commands/import.js')).importCommand,
  schemas: async () => (await import('./commands/schemas.js')).schemasCommand,
  agents: async () => (await import('./commands/agents.js')).agentsCommand,
  es: async () => (await import('./commands/es.js')).esCommand,
  run: async () => (await import('./commands/run.js')).runCommand,
  dlq: async () => (await import('./commands/dlq.js')).dlqCommand,
  demo: async () => (await import('./commands/demo.js')).demoCommand,
  replay: async () => (await import('./commands/replay.js')).replayCommand,
  kibana: async () => (await import('./commands/kibana.js')).kibanaCommand,
  audit: async () => (await import('./commands/audit.js')).auditCommand,
  config: async () => (await import('./commands/config.js')).configCommand,
  alerts: async () => (await import('./commands/alerts.js')).alertsCommand,
  destinations: async () => (await import('./commands/alert-destinations.js')).destinationsCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    say(USAGE);
    return name === undefined ? EXIT_FAILURE : 0;
  }
  const load = COMMANDS[name];
  if (load === undefined) {
    process.stderr.write(`panacea: unknown command "${name}"\n${USAGE}\n`);
    return EXIT_FAILURE;
  }
  // `panacea run --help` asks for the usage, as `panacea --help` does: answered before the
  // configuration is loaded or anything connects, and not an error.
  if (args.includes('--help') || args.includes('-h')) {
    say(USAGE);
    return 0;
  }
  // The configuration file is taken before the command only (bin/panacea.js reads it before
  // anything loads); after the command it would be refused as an unknown option of that command.
  if (args.some((arg) => arg === '--config' || arg.startsWith('--config='))) {
    process.stderr.write(
      `panacea ${name}: USAGE: --config goes before the command: panacea --config FILE ${name} …\n`,
    );
    return EXIT_FAILURE;
  }

  try {
    const config = loadConfig();
    const command = await load();
    return await command(args, config);
  } catch (error) {
    if (error instanceof PanaceaError) {
      process.stderr.write(`panacea ${name}: ${error.reason}\n`);
      if (error.code === 'USAGE') process.stderr.write(`${usageOf(name)}\n`);
      return EXIT_FAILURE;
    }
    throw error;
  }
}

/**
 * The usage lines of one command, with their explanations, so the line that says what went
 * wrong stays in sight; the whole usage is `panacea --help`.
 */
export function usageOf(name: string): string {
  const lines = USAGE.split('\n');
  const own: string[] = [];
  let inCommand = false;
  for (const line of lines) {
    const command = /^ {2}panacea (?:\[--config FILE\] )?(\S+)/.exec(line)?.[1];
    if (command !== undefined) inCommand = command === name;
    else if (!/^ {10,}\S/.test(line)) inCommand = false;
    if (inCommand) own.push(line);
  }
  return `usage:\n${own.join('\n')}\n(all commands: panacea --help)`;
}
