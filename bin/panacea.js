#!/usr/bin/env node
// Entry point of the `panacea` command; the TypeScript sources are compiled to dist/ by `npm install`.
import { applyConfigFile, takeConfigOption } from '../dist/core/config-file.js';

// A reader that closes the pipe early (`panacea schemas list | head`) is not a failure of ours.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

// The configuration file fills process.env before anything reads it: the logger reads LOG_LEVEL
// when its module loads, so main (which loads it) is imported only after this.
let args;
try {
  args = takeConfigOption(process.argv.slice(2), process.env);
  applyConfigFile(process.env);
} catch (error) {
  process.stderr.write(`panacea: ${error instanceof Error ? error.message : String(error)}\n`);
  // As for any other configuration error (see cli/command-line.ts, EXIT_FAILURE).
  process.exit(2);
}
const { main } = await import('../dist/cli/main.js');

main(args).then(
  (exitCode) => {
    // A command is done when main returns; a client's leftover timer or socket (a consumer that
    // crashed, a retry loop) must not keep the process alive after that. Logs are written
    // synchronously, so nothing is lost by exiting here.
    process.exit(exitCode);
  },
  (error) => {
    process.stderr.write(
      `panacea: unexpected failure: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(2);
  },
);
