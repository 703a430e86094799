#!/usr/bin/env node
// The codecllm CLI. Runs the compiled library (npm run build); `make setup` builds it.
import { main } from '../dist/src/cli/main.js';
main(process.argv).catch((e) => {
  process.stderr.write(`codecllm: ${e && e.message ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
