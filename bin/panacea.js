#!/usr/bin/env node
// Entry point of the `panacea` command; the TypeScript sources are compiled to dist/ by `npm install`.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (exitCode) => {
    process.exitCode = exitCode;
  },
  (error) => {
    process.stderr.write(
      `panacea: unexpected failure: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exitCode = 2;
  },
);
