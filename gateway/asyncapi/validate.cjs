// Validates the AsyncAPI document with the AsyncAPI project's own parser (@asyncapi/parser, pinned
// in the Makefile and installed into .tools), which checks it against the AsyncAPI 3.0 schema and
// its recommended rule set. Every diagnostic is printed; an error or a warning fails the check.
//
//   node gateway/asyncapi/validate.cjs gateway/asyncapi/asyncapi.json   (NODE_PATH: the parser's node_modules)
'use strict';

const fs = require('fs');
const { Parser, DiagnosticSeverity } = require('@asyncapi/parser');

async function main(file) {
  const parser = new Parser();
  const { document, diagnostics } = await parser.parse(fs.readFileSync(file, 'utf8'), { source: file });
  const names = { [DiagnosticSeverity.Error]: 'error', [DiagnosticSeverity.Warning]: 'warning',
    [DiagnosticSeverity.Information]: 'info', [DiagnosticSeverity.Hint]: 'hint' };
  let failed = 0;
  for (const d of diagnostics) {
    const severity = names[d.severity] || String(d.severity);
    if (d.severity <= DiagnosticSeverity.Warning) failed++;
    console.log(`${file}: ${severity} ${d.code}: ${d.message} at ${(d.path || []).join('.') || '(document)'}`);
  }
  if (!document || failed > 0) {
    console.log(`${file}: ${failed} error(s) and warning(s); want none`);
    process.exit(1);
  }
  console.log(`${file}: valid AsyncAPI ${document.version()}, ${document.channels().length} channels, ` +
    `${document.operations().length} operations, ${document.components().messages().length} messages, no warnings`);
}

main(process.argv[2]).catch((err) => { console.error(err); process.exit(1); });
