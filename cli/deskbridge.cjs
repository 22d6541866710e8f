#!/usr/bin/env node
// The `deskbridge` executable (package.json "bin"): runs cli/main.ts through tsx, as `npm run cli` does.
/* eslint-disable @typescript-eslint/no-require-imports -- a plain CommonJS entry point */
const { register } = require('tsx/cjs/api');

register();
const { main } = require('./main.ts');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`deskbridge failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
