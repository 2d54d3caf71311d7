#!/usr/bin/env node
// Entry point of the `panacea` command; the TypeScript sources are compiled to dist/ by `npm install`.
import { main } from '../dist/cli/main.js';

// A reader that closes the pipe early (`panacea schemas list | head`) is not a failure of ours.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
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
