// Builds every example in examples/ into build/<name>.wasm with the flags a script needs: the stub runtime (no
// GC: a run is short), `abort` routed to keeper_v1.fail, top-level initialisation exported as `_initialize`
// (the host forbids a start function), optimised. Run by `make setup` (through `npm run build`).
import asc from "assemblyscript/asc";
import { mkdirSync, readdirSync } from "node:fs";

mkdirSync("build", { recursive: true });
const examples = readdirSync("examples").filter((name) => name.endsWith(".ts"));
for (const file of examples) {
  const name = file.slice(0, -3);
  const { error, stderr } = await asc.main([
    `examples/${file}`,
    "--outFile", `build/${name}.wasm`,
    "--textFile", `build/${name}.wat`,
    "--runtime", "stub",
    "--use", "abort=assembly/keeper/abort",
    "--exportStart", "_initialize",
    "--optimize",
  ]);
  if (error) {
    console.error(stderr.toString());
    console.error(`build: ${file}: ${error.message}`);
    process.exit(1);
  }
  console.log(`build: build/${name}.wasm`);
}
