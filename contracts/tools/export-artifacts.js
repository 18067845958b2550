#!/usr/bin/env node
// Copies the ABI and bytecode of the named contracts from forge's build output (out/) into
// shared/artifacts/, which the Rust bindings (`alloy::sol!`) read. forge's output is the one source
// of truth; `make bindings-check` re-exports into a temporary folder and compares.
// Usage: export-artifacts.js <forge out dir> <destination dir> <ContractName>...
'use strict';
const fs = require('fs');
const path = require('path');

const [outDir, destDir, ...names] = process.argv.slice(2);
if (!outDir || !destDir || names.length === 0) {
  process.stderr.write('usage: export-artifacts.js <forge out dir> <destination dir> <ContractName>...\n');
  process.exit(2);
}
// `Name.sol/Name.json`, or else the one `<File>.sol/Name.json` (several contracts in one file).
function findArtifact(name) {
  const own = path.join(outDir, `${name}.sol`, `${name}.json`);
  if (fs.existsSync(own)) return own;
  const found = fs
    .readdirSync(outDir)
    .map((dir) => path.join(outDir, dir, `${name}.json`))
    .filter((candidate) => fs.existsSync(candidate));
  if (found.length !== 1) {
    const why = found.length === 0 ? 'not found (did forge build run?)' : `ambiguous: ${found.join(', ')}`;
    process.stderr.write(`export-artifacts: ${name}: ${why}\n`);
    process.exit(1);
  }
  return found[0];
}

fs.mkdirSync(destDir, { recursive: true });
for (const name of names) {
  const source = findArtifact(name);
  const artifact = JSON.parse(fs.readFileSync(source, 'utf8'));
  const exported = {
    abi: artifact.abi,
    bytecode: artifact.bytecode.object,
    deployedBytecode: artifact.deployedBytecode.object,
  };
  fs.writeFileSync(path.join(destDir, `${name}.json`), JSON.stringify(exported, null, 1) + '\n');
}
