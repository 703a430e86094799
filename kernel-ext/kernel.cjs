#!/usr/bin/env node
'use strict';
/**
 * The CodecLLM Jupyter kernel: tslab's TypeScript kernel with kernel-ext/preload.cjs applied.
 * kernel.json runs: node <root>/kernel-ext/kernel.cjs --config-path {connection_file}
 * tslab's own local-install lookup is disabled so the kernel always runs the tslab of this package (the one the
 * display hook talks to), whatever node_modules the notebook's folder has.
 */
const path = require('node:path');
const preload = require('./preload.cjs');

const i = process.argv.indexOf('--config-path');
if (i < 0 || !process.argv[i + 1]) {
  process.stderr.write('usage: kernel.cjs --config-path <connection_file>\n');
  process.exit(2);
}
preload.loadLibrary().then(() => {
  const tslab = preload.tslabDir();
  const { startKernel } = require(path.join(tslab, 'dist', 'main.js'));
  const version = require(path.join(tslab, 'package.json')).version;
  startKernel({ configPath: process.argv[i + 1], enableFindLocal: false, jsKernel: false, globalVersion: version });
});
