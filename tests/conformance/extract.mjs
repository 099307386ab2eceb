// extract.mjs: pulls Mermaid diagrams out of Markdown or plain-text documents.
//
// Used by check.mjs (the README gallery) and, by hand, to refresh the seed
// fixtures in known-good/ and known-bad/:
//
//   node tests/conformance/extract.mjs OUTDIR PREFIX DOC...
//
// writes OUTDIR/PREFIX-<doc>-<n>.mmd for every diagram found. Fenced
// ```mermaid blocks are taken when a document has any; otherwise (a web page
// saved as text) a diagram starts at a line that begins with a diagram
// keyword and runs on while lines are blank or indented, because the prose
// between diagrams is never indented and diagram bodies always are.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const KEYWORD =
  /^(sequenceDiagram|stateDiagram(-v2)?|flowchart|graph|gantt|classDiagram|erDiagram|journey|pie|mindmap|timeline|gitGraph)\b/;

/* Returns [{index, text}] for every diagram in `doc` (a string); with
 * fencedOnly, only ```mermaid blocks count (a README's prose may start a line
 * with "graph"). */
export function extractDiagrams(doc, { fencedOnly = false } = {}) {
  const lines = doc.replace(/\r\n?/g, '\n').split('\n');
  const out = [];
  const fenced = [];
  let cur = null;
  for (const line of lines) {
    if (cur === null && /^\s*```\s*mermaid\s*$/.test(line)) {
      cur = [];
    } else if (cur !== null && /^\s*```\s*$/.test(line)) {
      fenced.push(cur.join('\n') + '\n');
      cur = null;
    } else if (cur !== null) {
      cur.push(line);
    }
  }
  if (fenced.length > 0 || fencedOnly || /```\s*mermaid/.test(doc)) {
    fenced.forEach((text, i) => out.push({ index: i + 1, text }));
    return out;
  }
  for (let i = 0; i < lines.length; i++) {
    if (!KEYWORD.test(lines[i])) continue;
    const body = [lines[i]];
    let j = i + 1;
    while (j < lines.length && (lines[j].trim() === '' || /^\s/.test(lines[j]))) body.push(lines[j++]);
    while (body.length > 1 && body[body.length - 1].trim() === '') body.pop();
    out.push({ index: out.length + 1, text: body.join('\n') + '\n' });
    i = j - 1;
  }
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [outDir, prefix, ...docs] = process.argv.slice(2);
  if (!outDir || !prefix || docs.length === 0) {
    console.error('usage: node extract.mjs OUTDIR PREFIX DOC...');
    process.exit(2);
  }
  fs.mkdirSync(outDir, { recursive: true });
  for (const doc of docs) {
    const base = path.basename(doc).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9]+/g, '-');
    for (const d of extractDiagrams(fs.readFileSync(doc, 'utf8'))) {
      const file = path.join(outDir, `${prefix}-${base}-${d.index}.mmd`);
      fs.writeFileSync(file, d.text);
      console.log(`${file}: ${d.text.split('\n')[0]}`);
    }
  }
}
