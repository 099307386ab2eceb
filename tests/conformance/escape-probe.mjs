#!/usr/bin/env node
// escape-probe.mjs: which characters are safe RAW in which Mermaid label
// context, as decided by real Mermaid (10.9, 11, 12 in headless Chromium).
// render/escape.c's per-context rules come from this probe's findings.
//
//   node tests/conformance/escape-probe.mjs            every context
//   CTX=seq_msg,st_trans node tests/conformance/escape-probe.mjs
//
// For each context (a template with one label slot) and each probe (every
// printable ASCII punctuation character in runs, and hostile words:
// arrows, `end`, `wrap:`, `$$x$$`, `@{ shape }`, markdown markers...), the
// probe is written raw into the slot; it is safe when the diagram parses,
// renders the same number of SVG elements as a plain placeholder, and the
// SVG's text contains the probe as written. Prints the unsafe probes per
// context. Slow (minutes): not part of `make conformance`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const NM = path.join(path.dirname(fileURLToPath(import.meta.url)), 'node_modules');
const { chromium } = await import(path.join(NM, 'playwright-core/index.mjs'));
const ctxs = {
  seq_alias: (L) => `sequenceDiagram\n    participant p1 as ${L}\n    participant p2 as QQ\n    p1->>p2: ZZ\n`,
  seq_msg: (L) => `sequenceDiagram\n    participant p1 as AA\n    participant p2 as QQ\n    p1->>p2: ${L}\n    p2-->>p1: ZZ\n`,
  seq_note: (L) => `sequenceDiagram\n    participant p1 as AA\n    participant p2 as QQ\n    Note over p1: ${L}\n    p1->>p2: ZZ\n`,
  seq_loop: (L) => `sequenceDiagram\n    participant p1 as AA\n    participant p2 as QQ\n    loop ${L}\n        p1->>p2: ZZ\n    end\n`,
  st_name: (L) => `stateDiagram-v2\n    state "${L}" as s1\n    state "QQ" as s2\n    s1 --> s2: ZZ\n`,
  st_trans: (L) => `stateDiagram-v2\n    state "AA" as s1\n    state "QQ" as s2\n    s1 --> s2: ${L}\n`,
  st_note: (L) => `stateDiagram-v2\n    state "AA" as s1\n    state "QQ" as s2\n    s1 --> s2: ZZ\n    note right of s1: ${L}\n`,
  fc_node: (L) => `flowchart TD\n    n1["${L}"] --> n2["QQ"]\n`,
  fc_edge: (L) => `flowchart TD\n    n1["AA"] -->|"${L}"| n2["QQ"]\n`,
  fc_sub: (L) => `flowchart TD\n    subgraph g1["${L}"]\n    n1["AA"]\n    end\n    n1 --> n2["QQ"]\n`,
  gantt_sec: (L) => `gantt\n    dateFormat x\n    axisFormat %L\n    section ${L}\n    #65;A :t1, 0, 10\n`,
  gantt_task: (L) => `gantt\n    dateFormat x\n    axisFormat %L\n    section QQ\n    #65;${L} :t1, 0, 10\n`,
};
const probes = [...[..."!$'()*+,-./:=?@[\\]^_{|}~"].map((c) => `a${c}b ${c}${c}${c} c${c} ${c}x`),
  'a --> b', 'a ->> b', 'a --x b', 'a -) b', 'end', 'x end y', 'wrap: x', 'nowrap: y', '[[join]]',
  '[*] b', '$$x^2$$', '__u__', '**b** x', '_x_', 'a @{ shape: rect } b', 'GET /login?x=1',
  'wait_for(Slow Task)', 'x as y', 'C:\\path', 'https://x.y/z', '1. item', '- item', 'é ü 中文 😀'];
const only = (process.env.CTX || '').split(',').filter(Boolean);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const bad = {};
for (const v of ['10', '11', '12']) {
  const page = await browser.newPage();
  await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head><body></body></html>');
  await page.addScriptTag({ path: path.join(NM, `mermaid${v}`, 'dist/mermaid.min.js') });
  await page.evaluate(() => mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' }));
  const jobs = [];
  for (const [cn, f] of Object.entries(ctxs))
    if (!only.length || only.includes(cn))
      for (const p of probes) jobs.push({ cn, p, base: f('PLACEHOLDER'), text: f(p) });
  const out = await page.evaluate(async (jobs) => {
    const look = async (id, text) => {
      try {
        await mermaid.parse(text);
        const { svg } = await mermaid.render(id, text);
        const d = document.createElement('div');
        d.innerHTML = svg;
        return { t: d.textContent.replace(/\s+/g, ' '), n: d.querySelectorAll('*').length };
      } catch (e) {
        return { err: String(e.message || e).split('\n')[0].slice(0, 80) };
      } finally {
        document.body.innerHTML = '';
      }
    };
    const r = [];
    let i = 0;
    for (const j of jobs) {
      const b = await look(`b${i}`, j.base);
      const g = await look(`g${i++}`, j.text);
      const ok = !g.err && !b.err && g.n === b.n && g.t.includes(j.p.replace(/\s+/g, ' '));
      r.push({ cn: j.cn, p: j.p, ok });
    }
    return r;
  }, jobs);
  for (const o of out) if (!o.ok) ((bad[o.cn] ||= new Map()).get(o.p) || bad[o.cn].set(o.p, [])).get(o.p).push(v);
  await page.close();
}
await browser.close();
for (const cn of Object.keys(ctxs)) {
  if (only.length && !only.includes(cn)) continue;
  const m = bad[cn] || new Map();
  console.log(`${cn}: ${m.size ? [...m].map(([p, vs]) => `[${p}] (${vs.join(',')})`).join(' ') : 'all safe'}`);
}
