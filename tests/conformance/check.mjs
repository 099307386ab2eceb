#!/usr/bin/env node
// check.mjs: renders Mermaid text with the real `mermaid` library, versions
// 10.9, 11 and 12 side by side, in headless Debian Chromium, and fails on
// anything a reader of our diagrams would see go wrong.
//
//   node tests/conformance/check.mjs [options] [--all] [FILE.mmd ...]
//
//   --all             everything loopmaid emits: tests/data/**/*.mmd,
//                     build/demo/*.mmd, the ```mermaid blocks of README.md and
//                     docs/**/*.md, and
//                     every view of tests/data/hostile.yaml and of a generated
//                     1,000,000-event trace, rendered with build/loopmaid
//   --expect-fail     the FILEs that follow must be REPORTED as failures by
//                     every version (the checker's self-test); a FILE.expect
//                     beside one holds a regex the report must match
//   --expect-pass     the FILEs that follow must pass (the default)
//   --versions 10,11  only these mermaid majors
//   --no-png          skip the PNG screenshots of the gallery
//   -v, --verbose     also print what each expected failure was caught for
//   --events N        size of the generated trace (default 1000000)
//
// Checks per diagram and version: the text is at most 50,000 characters and
// holds no `%%{` directive; mermaid.parse and mermaid.render succeed under
// securityLevel 'strict'; the SVG is not Mermaid's "Maximum text size" or
// "Syntax error" picture; and no element of the SVG is a script, a link, has
// an on... event-handler attribute or an attribute holding `javascript:`.
// Width (issue 14): a diagram read on a docs page must be legible at the
// page's width, so the natural width of each rendered SVG is measured and
// must stay within WIDTH_BOUND (1,200 px) for the README gallery, make
// demo's diagrams and the view goldens, and within STRESS_BOUND for the
// hostile-name and generated big-trace renders (README.md says why). Views
// listed in LOOPMAID_WIDTH_REPORT_ONLY (default: see WIDTH_REPORT_ONLY
// below) are measured and reported but do not fail; set it empty to enforce
// every view.
// PNGs of the README/docs gallery and of build/demo/*.mmd (mermaid 11) are written
// to build/conformance/png/. With CI=true, inputs that should exist but do
// not (the CLI, the hostile trace, the trace generator, the demo output) are
// failures; otherwise they are reported as skipped.
//
// Exit status: 0 all good, 1 some check failed, 2 bad usage or setup.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { extractDiagrams } from './extract.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
// LOOPMAID_BUILD follows make's BUILD= (mk/conformance.mk passes it).
const BUILD = path.resolve(ROOT, process.env.LOOPMAID_BUILD || 'build');
const OUT = path.join(BUILD, 'conformance');
const MAX_TEXT = 50000; // Mermaid's default maxTextSize; a diagram cannot raise it.
const VIEWS = ['state', 'sequence', 'flowchart', 'tasks', 'gantt', 'advise'];
const ALL_VERSIONS = ['10', '11', '12'];
const PNG_VERSION = '11';
const BATCH = 16; // diagrams per page.evaluate: fewer round trips, bounded loss on a hang
const BATCH_TIMEOUT_MS = 120_000;
const CHROMIUM = process.env.LOOPMAID_CHROMIUM || '/usr/bin/chromium';
const CI = /^(1|true|yes)$/i.test(process.env.CI || '');
// The width rule (tests/conformance/README.md, "Width").
const WIDTH_BOUND = 1200;  // px: page-width diagrams (gallery, demo, goldens)
const STRESS_BOUND = 2400; // px: hostile names and the big generated trace
// Every view's width is enforced; LOOPMAID_WIDTH_REPORT_ONLY=a,b only reports
// those views' widths (for trying a layout), never in CI.
const WIDTH_REPORT_ONLY = (process.env.LOOPMAID_WIDTH_REPORT_ONLY ?? '')
  .split(',').map((v) => v.trim()).filter(Boolean);

const rel = (p) => path.relative(ROOT, p) || '.';

function usage(msg) {
  if (msg) console.error(`check.mjs: ${msg}`);
  console.error('usage: node check.mjs [-v] [--all] [--versions 10,11,12] [--no-png] [--events N]\n' +
                '                        [--expect-pass] FILE... [--expect-fail FILE...]');
  process.exit(2);
}

// ---- options ---------------------------------------------------------------

const notes = [];
const setupFailures = [];
const opt = { all: false, png: true, versions: ALL_VERSIONS, events: 1_000_000 };
const items = []; // {name, text, expect: 'pass'|'fail', expectRe, png, group}
{
  let mode = 'pass';
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--all') opt.all = true;
    else if (a === '--no-png') opt.png = false;
    else if (a === '-v' || a === '--verbose') opt.verbose = true;
    else if (a === '--expect-fail') mode = 'fail';
    else if (a === '--expect-pass') mode = 'pass';
    else if (a === '--versions') {
      opt.versions = (argv[++i] || '').split(',').filter(Boolean);
      if (!opt.versions.length || opt.versions.some((v) => !ALL_VERSIONS.includes(v)))
        usage(`--versions takes a list of ${ALL_VERSIONS.join(',')}`);
    } else if (a === '--events') {
      opt.events = Number(argv[++i]);
      if (!Number.isInteger(opt.events) || opt.events <= 0) usage('--events takes a positive integer');
    } else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else addFile(path.resolve(a), mode, mode === 'fail' ? 'expected to fail (known bad)' : 'expected to pass');
  }
  if (!opt.all && items.length === 0 && setupFailures.length === 0) usage('nothing to check');
}

// The view of a loopmaid diagram from its file name (NAME.VIEW.mmd or, for
// the hostile/big renders, VIEW.mmd), else from its keyword.
function viewOf(name, text) {
  const m = /(?:^|[./])(state|sequence|flowchart|tasks|gantt|advise)\.mmd$/.exec(name);
  if (m) return m[1];
  const body = text.replace(/^---\n[\s\S]*?\n---\n/, '');
  if (/^sequenceDiagram/.test(body)) return 'sequence';
  if (/^stateDiagram/.test(body)) return 'state';
  if (/^gantt/.test(body)) return 'gantt';
  return 'flowchart';
}

function addFile(file, expect, group, png = null, width = null) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    missing(`${rel(file)}: cannot read: ${e.code || e.message}`, true);
    return;
  }
  // FILE.expect (known-bad fixtures): a regex the failure must match, and
  // optionally a line `versions: 11,12` when only those versions go wrong
  // (the others must then render it cleanly).
  let expectRe = null;
  let failIn = null;
  const sidecar = file.replace(/\.mmd$/, '') + '.expect';
  if (expect === 'fail' && fs.existsSync(sidecar)) {
    for (const line of fs.readFileSync(sidecar, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean)) {
      const m = /^versions:\s*(.*)$/.exec(line);
      if (m) failIn = m[1].split(/[\s,]+/).filter(Boolean);
      else expectRe = new RegExp(line, 'i');
    }
  }
  items.push({ name: rel(file), text, expect, expectRe, failIn, png, group,
               width: width && { ...width, view: width.view || viewOf(rel(file), text) } });
}

// Inputs that do not exist: a failure when `fatal`, else a clear note.
function missing(msg, fatal) {
  if (fatal) setupFailures.push(msg);
  else notes.push(msg);
}

// ---- collecting everything loopmaid emits (--all) --------------------------

function walk(dir, pred, acc = []) {
  let ents;
  try {
    ents = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return acc;
  }
  for (const e of ents.sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, pred, acc);
    else if (pred(p)) acc.push(p);
  }
  return acc;
}

// Runs a command with a time limit, stdout to `stdoutFile`; resolves to
// {ok, why}. Asynchronous so that several renders share the machine's cores.
function run(cmd, args, { timeoutMs = 600_000, stdoutFile }) {
  const shown = `${rel(cmd)} ${args.map((x) => (path.isAbsolute(x) ? rel(x) : x)).join(' ')}`;
  return new Promise((resolve) => {
    const fd = fs.openSync(stdoutFile, 'w');
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', fd, 'pipe'] });
    fs.closeSync(fd); // the child holds its own copy
    let stderr = '';
    let timedOut = false;
    child.stderr.on('data', (d) => { if (stderr.length < 4096) stderr += d; });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); resolve({ ok: false, why: `${shown}: ${e.message}` }); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return resolve({ ok: false, why: `${shown}: timed out after ${timeoutMs / 1000}s` });
      if (code === 0) return resolve({ ok: true });
      const err = stderr.trim().split('\n').slice(0, 3).join(' | ');
      resolve({ ok: false, why: `${shown}: exit ${code ?? signal}${err ? `: ${err}` : ''}` });
    });
  });
}

const mtime = (f) => fs.statSync(f).mtimeMs;

// Renders every view of `trace` into OUT/<tag>/<view>.mmd (a few at a time)
// and queues them in view order. A view newer than both the CLI and the
// trace is reused, as make would (the big trace takes a while to read); a
// failed render leaves no file, so a failure is never reused.
async function addViews(cli, trace, tag) {
  const dir = path.join(OUT, tag);
  fs.mkdirSync(dir, { recursive: true });
  const files = VIEWS.map((view) => path.join(dir, `${view}.mmd`));
  const results = new Array(VIEWS.length);
  const newest = Math.max(mtime(cli), mtime(trace));
  let next = 0;
  const worker = async () => {
    while (next < VIEWS.length) {
      const k = next++;
      if (fs.existsSync(files[k]) && mtime(files[k]) > newest) {
        results[k] = { ok: true };
        continue;
      }
      results[k] = await run(cli, ['render', '--view', VIEWS[k], trace], { stdoutFile: files[k] });
      if (!results[k].ok) fs.rmSync(files[k], { force: true });
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: Math.min(VIEWS.length, os.cpus().length || 1) }, worker));
  console.log(`rendered ${VIEWS.length} views of ${rel(trace)} (new or reused) in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  VIEWS.forEach((view, k) => {
    // The CLI exists, so rendering must work: never a skip.
    if (!results[k].ok) setupFailures.push(`${rel(files[k])}: ${results[k].why}`);
    else addFile(files[k], 'pass', `${tag} trace views`, null, { bound: STRESS_BOUND, view });
  });
}

// For each ```mermaid block of a Markdown page, in order: the name of the
// `<!-- loopmaid:NAME -->` region holding it (null outside regions).
function regionNames(doc) {
  const names = [];
  let cur = null;
  let fenced = false;
  for (const line of doc.replace(/\r\n?/g, '\n').split('\n')) {
    const m = /^<!--\s*loopmaid:(\S+)/.exec(line);
    if (m) cur = m[1];
    else if (/^<!--\s*\/loopmaid/.test(line)) cur = null;
    else if (!fenced && /^\s*```\s*mermaid\s*$/.test(line)) { fenced = true; names.push(cur); }
    else if (fenced && /^\s*```\s*$/.test(line)) fenced = false;
  }
  return names;
}

// The gallery's view per entry name, from loopmaid.yaml (`- name:` then
// `view:` lines; a full YAML parser is not needed for this file).
function galleryViews() {
  const map = new Map();
  const cfg = path.join(ROOT, 'loopmaid.yaml');
  if (!fs.existsSync(cfg)) return map;
  let name = null;
  for (const line of fs.readFileSync(cfg, 'utf8').split('\n')) {
    const n = /^\s*-\s*name:\s*(\S+)/.exec(line);
    if (n) name = n[1];
    const v = /^\s+view:\s*(\S+)/.exec(line);
    if (v && name) map.set(name, v[1]);
  }
  return map;
}

async function collectAll() {
  fs.mkdirSync(OUT, { recursive: true });

  const golden = walk(path.join(ROOT, 'tests/data'), (p) => p.endsWith('.mmd'));
  if (golden.length === 0) notes.push('tests/data: no .mmd golden files yet');
  for (const f of golden) {
    const stress = /hostile/.test(path.basename(f));
    addFile(f, 'pass', 'tests/data goldens', null, { bound: stress ? STRESS_BOUND : WIDTH_BOUND });
  }

  const demoDir = path.join(BUILD, 'demo');
  const demo = walk(demoDir, (p) => p.endsWith('.mmd'));
  const makefiles = [path.join(ROOT, 'Makefile'),
    ...walk(path.join(ROOT, 'mk'), (p) => p.endsWith('.mk'))];
  const demoTarget = makefiles.some((f) => fs.existsSync(f) && /^demo\s*:/m.test(fs.readFileSync(f, 'utf8')));
  if (demo.length === 0)
    missing(`${rel(demoDir)}: no .mmd files (${demoTarget ? 'run `make demo` first' : 'no `make demo` target yet'})`, CI && demoTarget);
  for (const f of demo) addFile(f, 'pass', 'make demo', `demo-${path.basename(f, '.mmd')}`, { bound: WIDTH_BOUND });

  // The gallery: ```mermaid blocks of the README (what `make gallery` writes
  // from real runs) and of any page under docs/.
  const docs = [path.join(ROOT, 'README.md'), ...walk(path.join(ROOT, 'docs'), (p) => p.endsWith('.md'))];
  let blocks = 0;
  const gallery = galleryViews();
  for (const doc of docs.filter((f) => fs.existsSync(f))) {
    const tag = rel(doc).replace(/\.md$/, '').replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
    const src = fs.readFileSync(doc, 'utf8');
    const regions = regionNames(src);
    for (const d of extractDiagrams(src, { fencedOnly: true })) {
      blocks++;
      const region = regions[d.index - 1];
      items.push({ name: `${rel(doc)}#${d.index}${region ? ` (${region})` : ''}`, text: d.text, expect: 'pass',
                   expectRe: null, failIn: null,
                   png: `${tag}-${String(d.index).padStart(2, '0')}`, group: 'README and docs gallery',
                   width: { bound: WIDTH_BOUND, view: (region && gallery.get(region)) || viewOf('', d.text) } });
    }
  }
  if (blocks === 0) notes.push('README.md, docs/*.md: no ```mermaid gallery blocks yet');

  const cli = path.join(BUILD, 'loopmaid');
  const gentrace = path.join(BUILD, 'tools/gentrace');
  const hostile = path.join(ROOT, 'tests/data/hostile.yaml');
  if (!fs.existsSync(cli)) {
    missing(`${rel(cli)}: not built, so the hostile and large trace views were not rendered (run \`make\`)`, CI);
    return;
  }
  if (fs.existsSync(hostile)) await addViews(cli, hostile, 'hostile');
  else missing('tests/data/hostile.yaml: missing, so the hostile-names views were not checked', CI);

  if (!fs.existsSync(gentrace)) {
    missing(`${rel(gentrace)}: missing, so the ${opt.events}-event trace views were not checked`, CI);
    return;
  }
  // The big trace is regenerated only when the generator or the size changed:
  // it takes a while, and writing it to a temporary name first means an
  // interrupted run never leaves a truncated trace that looks current.
  const big = path.join(OUT, 'big.yaml');
  const stamp = path.join(OUT, 'big.events');
  const fresh = fs.existsSync(big) && fs.existsSync(stamp) &&
    fs.readFileSync(stamp, 'utf8').trim() === String(opt.events) &&
    fs.statSync(big).mtimeMs >= fs.statSync(gentrace).mtimeMs;
  if (!fresh) {
    const t0 = Date.now();
    const r = await run(gentrace, ['--events', String(opt.events)], { stdoutFile: `${big}.tmp` });
    if (!r.ok) {
      setupFailures.push(`${rel(big)}: ${r.why}`);
      return;
    }
    fs.renameSync(`${big}.tmp`, big);
    fs.writeFileSync(stamp, `${opt.events}\n`);
    console.log(`generated ${rel(big)} (${opt.events} events, ${(fs.statSync(big).size / 1e6).toFixed(1)} MB) in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
  await addViews(cli, big, 'big');
}

// ---- checks ----------------------------------------------------------------

// Checks that need no browser; they hold for every version alike.
function textProblems(text) {
  const p = [];
  if (text.trim() === '') p.push('empty diagram');
  // Mermaid measures text.length, i.e. UTF-16 units, which is what we count.
  if (text.length > MAX_TEXT) p.push(`text is ${text.length} chars, over Mermaid's maxTextSize ${MAX_TEXT}`);
  // The directive regex is not anchored: `%%{init: ...}%%` anywhere applies.
  if (/%%\s*\{/.test(text)) p.push('text holds a %%{...}%% directive');
  return p;
}

// Runs inside the page (injected as source): what is wrong with one rendered
// SVG. Kept apart from pageCheck so the self-test can feed it crafted SVGs
// that real Mermaid under 'strict' would never produce.
function svgProblems(svg) {
  const problems = [];
  const add = (m) => { if (!problems.includes(m)) problems.push(m); };
  if (/<script/i.test(svg)) add('SVG holds <script');
  // A DOMParser document never runs scripts or loads anything; the HTML
  // parser also reads the HTML inside <foreignObject> labels.
  const doc = new DOMParser().parseFromString(`<!doctype html><body>${svg}</body>`, 'text/html');
  // Mermaid's pictures in place of a diagram: the size one is a one-node
  // flowchart with that text (a label alone saying so is not flagged), the
  // error one is marked on its root.
  if (svg.includes('Maximum text size in diagram exceeded') && doc.querySelectorAll('g.node').length <= 1)
    add('rendered the "Maximum text size in diagram exceeded" picture');
  const root = doc.body.querySelector('svg');
  if (root && root.getAttribute('aria-roledescription') === 'error') add('rendered Mermaid\'s error picture');
  for (const el of doc.body.querySelectorAll('*')) {
    const tag = el.localName.toLowerCase();
    if (['script', 'iframe', 'object', 'embed'].includes(tag)) add(`SVG holds a <${tag}> element`);
    if (tag === 'a') add('SVG holds a link (<a>): a click/href reached the diagram');
    for (const at of el.attributes) {
      const name = at.name.toLowerCase();
      if (/^on/.test(name)) add(`SVG holds an event handler attribute ${name}= on <${tag}>`);
      // Browsers ignore tabs and newlines inside a URL scheme.
      if (/javascript:/i.test(at.value.replace(/[\s\u0000-\u001f]+/g, '')))
        add(`SVG holds a javascript: URL in ${name}= on <${tag}>`);
      if ((name === 'href' || name.endsWith(':href')) && !at.value.startsWith('#'))
        add(`SVG holds a link ${name}="${at.value.slice(0, 60)}" on <${tag}>`);
    }
  }
  return problems;
}

// Crafted SVGs the inspector must flag (and one it must not): proves the
// checks that real Mermaid output cannot exercise.
const SVG_CASES = [
  ['<svg><script>alert(1)</script></svg>', /<script/],
  ['<svg onload="alert(1)"><g></g></svg>', /event handler attribute onload/],
  ['<svg><foreignObject><div><img src="x" onerror="alert(1)"></div></foreignObject></svg>', /event handler attribute onerror/],
  ['<svg><a href="java\tscript:alert(1)"><text>x</text></a></svg>', /javascript: URL/],
  ['<svg><use xlink:href="javascript:alert(1)"/></svg>', /javascript: URL/],
  ['<svg><rect style="fill:url(javascript:alert(1))"/></svg>', /javascript: URL/],
  ['<svg><g class="node"><text>Maximum text size in diagram exceeded</text></g></svg>', /Maximum text size/],
  ['<svg aria-roledescription="error"><text>Syntax error in text</text></svg>', /error picture/],
  ['<svg aria-roledescription="sequence"><g class="node"><text>a&lt;script&gt; onload=1 javascript&#58;x</text>' +
   '<use href="#arrow"/></g><g class="node"><text>Maximum text size in diagram exceeded</text></g>' +
   '<text>Syntax error in text</text></svg>', null],
];

// Runs inside the page: parse + render each diagram, then inspect the SVG.
// It must be self-contained (it is serialised into the page).
async function pageCheck(batch) {
  const results = [];
  const one = (e) => {
    const m = (e && (e.message || e.str)) || String(e);
    return m.split('\n').filter((l) => l.trim()).slice(0, 4).join(' | ').slice(0, 400);
  };
  for (const { id, text } of batch) {
    const t0 = performance.now();
    const problems = [];
    let svg = '';
    try {
      const ok = await mermaid.parse(text);
      if (ok === false) problems.push('parse: rejected');
    } catch (e) {
      problems.push(`parse: ${one(e)}`);
    }
    // Rendering text that did not parse only repeats the parse error.
    if (!problems.length) {
      try {
        svg = (await mermaid.render(id, text)).svg;
      } catch (e) {
        problems.push(`render: ${one(e)}`);
      }
    }
    document.body.innerHTML = ''; // render leaves temporary nodes behind on errors
    if (svg) problems.push(...globalThis.__svgProblems(svg));
    // Natural width: Mermaid writes it as the root's max-width (useMaxWidth)
    // or width attribute, and always as the viewBox's width.
    let width = null;
    const root = /<svg\b[^>]*>/.exec(svg);
    if (root) {
      const mw = /max-width:\s*([\d.]+)px/.exec(root[0]);
      const vb = /viewBox="[-\d.e]+[ ,]+[-\d.e]+[ ,]+([\d.e]+)/.exec(root[0]);
      const wa = /\swidth="([\d.]+)(px)?"/.exec(root[0]);
      width = Number((mw && mw[1]) || (vb && vb[1]) || (wa && wa[1])) || null;
    }
    results.push({ problems, width, ms: Math.round(performance.now() - t0) });
  }
  return results;
}

// ---- browser ---------------------------------------------------------------

async function launch() {
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    console.error('check.mjs: playwright-core is not installed: run `make conformance` (npm ci in tests/conformance)');
    process.exit(2);
  }
  if (!fs.existsSync(CHROMIUM)) {
    console.error(`check.mjs: ${CHROMIUM} not found: run \`sh scripts/deps.sh browser\` (Debian's chromium)`);
    process.exit(2);
  }
  // A fresh profile each run; the flags keep Chromium off the (closed)
  // network, so it neither stalls nor floods refused connections.
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'loopmaid-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1600, height: 1000 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           // Pages render side by side; none may be throttled as a background tab.
           '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
           '--disable-backgrounding-occluded-windows'],
  });
  // Nothing here needs the network: every request is refused.
  await ctx.route('**/*', (route) => route.abort());
  return { ctx, profile };
}

async function mermaidPage(ctx, major) {
  const dir = path.join(HERE, 'node_modules', `mermaid${major}`);
  const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head><body></body></html>');
  await page.addScriptTag({ path: path.join(dir, 'dist/mermaid.min.js') });
  await page.addScriptTag({ content: `globalThis.__svgProblems = ${svgProblems.toString()};` });
  await page.evaluate(() => {
    globalThis.mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });
  });
  return { page, version, major };
}

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p,
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms / 1000}s`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

// Checks all items on one version's page; returns per-item problem lists.
async function checkVersion(ctx, major, list) {
  let mp = await mermaidPage(ctx, major);
  if (selfTest) {
    const got = await mp.page.evaluate((cases) => cases.map((c) => globalThis.__svgProblems(c)), SVG_CASES.map((c) => c[0]));
    SVG_CASES.forEach(([svg, want], k) => {
      const ok = want ? got[k].some((p) => want.test(p)) : got[k].length === 0;
      const name = `svg-inspector case ${k + 1}`;
      if (ok) { passed++; if (opt.verbose) console.log(`caught: ${name} (mermaid ${mp.version}): ${got[k].join('; ') || 'clean, as expected'}`); }
      else { failed++; failures.push(`${name} (mermaid ${mp.version}): expected ${want ? `/${want.source}/` : 'no problems'} for ${svg}, got: ${got[k].join('; ') || 'nothing'}`); }
    });
  }
  const out = new Array(list.length);
  let next = 0;
  const runBatch = async (idx) => {
    const batch = idx.map((i) => ({ id: `c${major}x${i}`, text: list[i].text }));
    return withTimeout(mp.page.evaluate(pageCheck, batch), BATCH_TIMEOUT_MS * Math.max(1, batch.length / 4), 'render');
  };
  while (next < list.length) {
    const idx = [];
    for (let n = 0; n < BATCH && next < list.length; n++) idx.push(next++);
    try {
      const res = await runBatch(idx);
      idx.forEach((i, k) => { out[i] = res[k]; });
    } catch {
      // One diagram hung or crashed the page: retry the batch one at a time
      // on a fresh page so only the culprit is blamed.
      for (const i of idx) {
        await mp.page.close().catch(() => {});
        mp = await mermaidPage(ctx, major);
        try {
          out[i] = (await runBatch([i]))[0];
        } catch (e) {
          out[i] = { problems: [e.message] };
        }
      }
    }
  }
  return { version: mp.version, results: out, page: mp.page };
}

async function screenshots(page, list) {
  const dir = path.join(OUT, 'png');
  fs.mkdirSync(dir, { recursive: true });
  let n = 0;
  for (const it of list) {
    const file = path.join(dir, `${it.png}.png`);
    try {
      await page.evaluate(async ({ id, text }) => {
        const { svg } = await globalThis.mermaid.render(id, text);
        document.body.innerHTML = '';
        const box = document.createElement('div');
        box.id = 'shot';
        box.style.cssText = 'background:#fff;padding:12px;display:block';
        box.innerHTML = svg; // already checked: no scripts, handlers or links
        document.body.appendChild(box);
      }, { id: `png${n}`, text: it.text });
      await page.locator('#shot > svg').screenshot({ path: file });
      n++;
    } catch (e) {
      console.log(`png: ${it.name}: ${String(e.message || e).split('\n')[0]}`);
    }
  }
  return n;
}

// ---- main ------------------------------------------------------------------

const t0 = Date.now();
if (opt.all) await collectAll();
for (const n of notes) console.log(`skipped: ${n}`);

const selfTest = items.some((it) => it.expect === 'fail');
const failures = [];
let passed = 0;
let failed = 0;
const { ctx, profile } = await launch();
const groups = new Map();
const bump = (g, k) => {
  if (!groups.has(g)) groups.set(g, { pass: 0, fail: 0 });
  groups.get(g)[k]++;
};
let pngPage = null;
const versionNames = [];
const perItem = items.map(() => ({ problems: new Map() }));
const widthReports = [];
try {
  // The versions run side by side, one page each: Chromium gives every page
  // its own renderer process, so this uses the machine's cores.
  const t1 = Date.now();
  const runs = await Promise.all(opt.versions.map(async (major) => {
    const r = await checkVersion(ctx, major, items);
    console.log(`mermaid ${r.version}: ${items.length} diagrams in ${((Date.now() - t1) / 1000).toFixed(1)}s`);
    return r;
  }));
  for (const [k, { version, results, page }] of runs.entries()) {
    versionNames.push(version);
    if (opt.verbose) {
      const slow = results.map((r, i) => [r.ms ?? 0, items[i].name]).sort((a, b) => b[0] - a[0]).slice(0, 3);
      console.log(`mermaid ${version}: slowest ${slow.map(([ms, n]) => `${n} ${ms}ms`).join(', ')}`);
    }
    results.forEach((r, i) => {
      const extra = [];
      const w = items[i].width;
      if (w && r.width) {
        perItem[i].widths = perItem[i].widths || {};
        perItem[i].widths[version] = Math.round(r.width);
        // The bound holds in the versions people's hosts run now: 11 and 12.
        if (r.width > w.bound && version.split('.')[0] !== '10') {
          const msg = `${Math.round(r.width)} px wide, over the ${w.bound} px width bound`;
          if (WIDTH_REPORT_ONLY.includes(w.view)) widthReports.push(`${items[i].name} (mermaid ${version}): ${msg} (${w.view}: reported only, LOOPMAID_WIDTH_REPORT_ONLY)`);
          else extra.push(msg);
        }
      }
      perItem[i].problems.set(version, [...textProblems(items[i].text), ...r.problems, ...extra]);
    });
    if (opt.versions[k] === PNG_VERSION) pngPage = page;
    else await page.close();
  }

  items.forEach((it, i) => {
    let itemOk = true;
    for (const [version, problems] of perItem[i].problems) {
      let bad = null;
      const expect = it.failIn && !it.failIn.includes(version.split('.')[0]) ? 'pass' : it.expect;
      if (expect === 'pass' && problems.length) bad = problems.join('; ');
      if (expect === 'fail') {
        if (!problems.length) bad = 'expected a failure, but it rendered cleanly (the checker missed it)';
        else if (it.expectRe && !problems.some((p) => it.expectRe.test(p)))
          bad = `expected a failure matching /${it.expectRe.source}/, got: ${problems.join('; ')}`;
      }
      if (bad) {
        failed++;
        itemOk = false;
        failures.push(`${it.name} (mermaid ${version}): ${bad}`);
      } else {
        passed++;
        if (opt.verbose && expect === 'fail') console.log(`caught: ${it.name} (mermaid ${version}): ${problems.join('; ')}`);
      }
    }
    bump(it.group, itemOk ? 'pass' : 'fail');
  });

  if (opt.png && pngPage) {
    const okShots = items.filter((it, i) => it.png && it.expect === 'pass' &&
      [...perItem[i].problems.values()].every((p) => p.length === 0));
    if (okShots.length) {
      const n = await screenshots(pngPage, okShots);
      console.log(`png: ${n} gallery render(s) in ${rel(path.join(OUT, 'png'))}/ (mermaid ${versionNames[opt.versions.indexOf(PNG_VERSION)]})`);
    }
  }
} finally {
  await ctx.close().catch(() => {});
  fs.rmSync(profile, { recursive: true, force: true });
}

for (const f of setupFailures) {
  failed++;
  failures.push(`${f.split(': ')[0]} (mermaid -): ${f.split(': ').slice(1).join(': ')}`);
}
for (const [g, c] of groups) console.log(`  ${g}: ${c.pass} ok, ${c.fail} failing`);
if (opt.verbose || process.env.LOOPMAID_WIDTHS) {
  items.forEach((it, i) => {
    if (perItem[i].widths) console.log(`width: ${it.name}: ${Object.entries(perItem[i].widths).map(([v, w]) => `${v.split('.')[0]}:${w}`).join(' ')} (bound ${it.width.bound}, ${it.width.view})`);
  });
}
for (const w of widthReports) console.log(`width (not failing): ${w}`);
for (const f of failures) console.log(f);
console.log(`conformance: ${passed} passed, ${failed} failed (${items.length} diagrams x mermaid ${versionNames.join(', ')}; ${((Date.now() - t0) / 1000).toFixed(1)}s)`);
process.exit(failed ? 1 : 0);
