#pragma once
// The HTML report's page: style, static body and script (html_report.cpp embeds them and allows
// exactly these by hash in its Content-Security-Policy). The script builds every element with
// createElement and textContent: data never goes through innerHTML.
namespace credsift::report_parts::html_assets {

inline constexpr const char* kStyle = R"CSS(
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2430;--mute:#667085;--line:#e3e6eb;--accent:#2456c5;
--critical:#b42318;--high:#e0480f;--medium:#c98a04;--low:#2e7d9a;--ext:#8a2be2}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
header.top{background:#172033;color:#fff;padding:18px 28px}
header.top h1{margin:0;font-size:20px;font-weight:600}
header.top p{margin:4px 0 0;color:#b8c2d6;font-size:13px}
main{padding:20px 28px;max-width:1500px;margin:0 auto}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin-bottom:18px}
h2{font-size:16px;margin:0 0 12px;font-weight:600}
h3{font-size:13px;margin:14px 0 6px;color:var(--mute);font-weight:600;text-transform:uppercase;letter-spacing:.04em}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid var(--line);border-radius:6px;padding:10px 14px;min-width:120px;background:#fbfcfd}
.card .num{font-size:24px;font-weight:650;font-variant-numeric:tabular-nums}
.card .label{color:var(--mute);font-size:12px}
.card.critical .num{color:var(--critical)}.card.high .num{color:var(--high)}
.card.medium .num{color:var(--medium)}.card.low .num{color:var(--low)}
.card.window .num{font-size:16px;padding-top:6px}
.facts{margin:12px 0 0;color:var(--mute);font-size:13px}
.facts span{margin-right:18px}
.sev{display:inline-block;min-width:64px;text-align:center;border-radius:4px;padding:1px 6px;font-size:11px;font-weight:700;text-transform:uppercase;color:#fff}
.sev.critical{background:var(--critical)}.sev.high{background:var(--high)}
.sev.medium{background:var(--medium)}.sev.low{background:var(--low)}
.ext{color:var(--ext);font-weight:600}
.tag{display:inline-block;border:1px solid var(--line);border-radius:10px;padding:0 7px;font-size:11px;color:var(--mute);margin:1px 2px 1px 0;white-space:nowrap}
.tag.ext{border-color:#d9c2f0;color:var(--ext)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--mute);font-weight:600;white-space:nowrap}
th button{all:unset;cursor:pointer}
th button:hover,th button:focus{color:var(--accent);text-decoration:underline}
th[aria-sort=ascending] button::after{content:" \25B2"}th[aria-sort=descending] button::after{content:" \25BC"}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.ticket{cursor:pointer}
tr.ticket:hover{background:#f3f6fc}
tr.ticket.open{background:#eef3fd}
td .id{color:var(--mute);font-size:12px;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
code{background:#f1f3f6;border-radius:3px;padding:1px 4px;word-break:break-all}
td.date,td code{white-space:nowrap}
tr.detail>td{background:#fafbfc;padding:12px 18px 16px}
.detail dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:0 0 8px}
.detail dt{color:var(--mute)}.detail dd{margin:0;word-break:break-word}
.detail table td,.detail table th{font-size:12px;padding:4px 6px}
.detail ol{margin:4px 0 0;padding-left:22px}
.filters{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:end;margin-bottom:10px}
.filters label{display:flex;flex-direction:column;font-size:11px;color:var(--mute);gap:2px}
.filters select,.filters input{font:inherit;font-size:13px;padding:4px 6px;border:1px solid #c9ced6;border-radius:4px;background:#fff;min-width:110px}
.filters input[type=search]{min-width:180px}
button.plain{font:inherit;font-size:13px;padding:4px 10px;border:1px solid #c9ced6;border-radius:4px;background:#fff;cursor:pointer}
button.plain:disabled{opacity:.45;cursor:default}
.pager{display:flex;gap:10px;align-items:center;margin:10px 0 0;color:var(--mute)}
.count{color:var(--mute);margin:0 0 6px}
.split{display:grid;grid-template-columns:1fr 1fr;gap:24px}
@media (max-width:1000px){.split{grid-template-columns:1fr}}
.link{all:unset;cursor:pointer;color:var(--accent)}
.link:hover,.link:focus{text-decoration:underline}
a{color:var(--accent)}
svg text{font:11px system-ui,sans-serif;fill:var(--mute)}
.chart{width:100%;height:auto;display:block}
.muted{color:var(--mute)}
.empty{color:var(--mute);padding:14px 0}
#selftest-result{white-space:pre-wrap;background:#111;color:#9f9;padding:10px}
)CSS";

inline constexpr const char* kBody =
    R"HTML(<header class="top"><h1>credsift incident report</h1><p id="meta">Loading the report…</p></header>
<main>
<section id="summary" aria-labelledby="summary-h"><h2 id="summary-h">Summary</h2><div class="cards" id="cards"></div><p class="facts" id="facts"></p></section>
<section id="timeline" aria-labelledby="timeline-h"><h2 id="timeline-h">Exposure window</h2><div id="timeline-chart"></div><h3 id="spans-h">Ticket spans</h3><div id="spans-chart"></div></section>
<section id="exposure" aria-labelledby="exposure-h"><h2 id="exposure-h">Exposure: who received credentials</h2><p class="muted" id="exposure-note"></p><div class="split"><div><h3>By domain</h3><div id="domains"></div></div><div><h3>By address</h3><div id="addresses"></div></div></div></section>
<section id="tickets" aria-labelledby="tickets-h"><h2 id="tickets-h">Tickets</h2><div class="filters" id="filters"></div><p class="count" id="ticket-count" aria-live="polite"></p><table id="ticket-table"><thead id="ticket-head"></thead><tbody id="ticket-body"></tbody></table><div class="pager" id="pager"></div></section>
</main>
)HTML";

inline constexpr const char* kScript = R"JS(
'use strict';
(async function () {
  // Anything the page could not do (a blocked request, a script error) is kept for the
  // self-test, which a browser test reads back.
  const problems = [];
  document.addEventListener('securitypolicyviolation', (e) => problems.push('csp ' + e.violatedDirective + ' ' + e.blockedURI));
  window.addEventListener('error', (e) => problems.push('error ' + e.message));
  window.addEventListener('unhandledrejection', (e) => problems.push('rejection ' + e.reason));

  const $ = (id) => document.getElementById(id);
  // Elements from data are built with textContent only.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'data') for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = String(dv);
      else if (k === 'onclick') node.addEventListener('click', v);
      else node.setAttribute(k, String(v));
    }
    for (const c of children) if (c !== undefined && c !== null && c !== false) node.append(c instanceof Node ? c : String(c));
    return node;
  }
  const SVGNS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A data element's text: JSON as is, or gzip+base64 (large reports) inflated by the browser.
  async function blobText(id) {
    const node = $(id);
    if (node.dataset.encoding !== 'gzip-base64') return node.textContent;
    let bytes;
    if (Uint8Array.fromBase64) {
      bytes = Uint8Array.fromBase64(node.textContent);
    } else {
      const binary = atob(node.textContent);
      bytes = new Uint8Array(binary.length);
      for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    }
    // Read chunk by chunk: measured here several times faster than Response.text().
    const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))
      .pipeThrough(new TextDecoderStream()).getReader();
    const parts = [];
    for (;;) {
      const {done, value} = await reader.read();
      if (done) return parts.join('');
      parts.push(value);
    }
  }
  performance.mark('credsift-script');
  const data = JSON.parse(await blobText('credsift-data'));
  // Occurrences are most of the bytes: they come after this script in the page and are parsed
  // when a ticket is first opened.
  let occurrenceLists = null, occurrencesLoading = null;
  const documentParsed = () => document.readyState !== 'loading' ? Promise.resolve() :
    new Promise((resolve) => document.addEventListener('DOMContentLoaded', resolve, {once: true}));
  const loadOccurrences = () => occurrencesLoading || (occurrencesLoading = documentParsed()
    .then(() => blobText('credsift-occurrences')).then((text) => { occurrenceLists = JSON.parse(text); }));
  // [addresses, address count, occurrences] of a ticket, once loaded.
  const occurrencesOf = (t) => occurrenceLists ? (occurrenceLists.tickets[t.n] || [[], 0, []]) : null;
  const SEVERITIES = ['critical', 'high', 'medium', 'low'];
  const RANK = {critical: 0, high: 1, medium: 2, low: 3};
  const COLOR = {critical: '#b42318', high: '#e0480f', medium: '#c98a04', low: '#2e7d9a'};
  // 12,345 (toLocaleString costs more than the rest of the table here)
  const fmt = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const day = (e) => (e === null || e === undefined) ? '?' : new Date(e * 1000).toISOString().slice(0, 10);
  const stamp = (e) => (e === null || e === undefined) ? 'undated' : new Date(e * 1000).toISOString().slice(0, 16).replace('T', ' ');
  const s = data.summary;

  // ---- header and summary ----
  $('meta').textContent = 'credsift ' + data.version + ' · generated ' + data.generated.replace('T', ' ').replace('Z', ' UTC') +
    ' · secrets ' + (data.show_secrets ? 'SHOWN IN CLEAR (--show-secrets)' : 'redacted') +
    (data.internal_domains.length ? ' · internal: ' + data.internal_domains.join(', ') : '');
  function card(key, value, label, cls) {
    return el('div', {class: 'card ' + (cls || ''), data: {count: key, value: value}},
      el('div', {class: 'num'}, typeof value === 'number' ? fmt(value) : value), el('div', {class: 'label'}, label));
  }
  const cards = [];
  if (s.messages_scanned !== undefined) cards.push(card('messages_scanned', s.messages_scanned, 'messages scanned'));
  cards.push(card('messages_with_credentials', s.messages_with_credentials, 'messages carrying credentials'));
  cards.push(card('tickets', s.tickets, 'tickets (credentials)'));
  for (const sev of SEVERITIES) cards.push(card('severity-' + sev, s.tickets_by_severity[sev] || 0, sev, sev));
  const externalDomains = data.external_domains;
  if (data.internal_given) cards.push(card('external_domains', externalDomains, 'external domains exposed'));
  const windowText = s.first_seen === null ? 'no dated message' : day(s.first_seen) + ' → ' + day(s.last_seen);
  const windowCard = card('window', windowText, s.first_seen === null ? 'exposure window' :
    'exposure window (' + fmt(Math.floor((s.last_seen - s.first_seen) / 86400) + 1) + ' days)', 'window');
  cards.push(windowCard);
  $('cards').replaceChildren(...cards);
  const counts = (o) => Object.entries(o).map(([k, v]) => fmt(v) + ' ' + k).join(', ') || 'none';
  const facts = [el('span', {data: {count: 'status'}}, 'by status: ' + counts(s.tickets_by_status))];
  const triaged = Object.keys(s.tickets_by_triage).some((k) => k !== 'open');
  if (triaged) facts.push(el('span', null, 'by triage: ' + counts(s.tickets_by_triage)));
  const verified = Object.keys(s.tickets_by_verification).some((k) => k !== 'not-checked');
  if (verified) facts.push(el('span', {data: {count: 'verification'}}, 'by live verification: ' + counts(s.tickets_by_verification)));
  if (s.messages_scanned !== undefined) {
    facts.push(el('span', null, 'skipped ' + fmt(s.messages_skipped) + ', failed ' + fmt(s.messages_failed) +
      ', outside the date window ' + fmt(s.messages_outside_window) + ', undated ' + fmt(s.messages_undated)));
    if (s.files_not_mail) facts.push(el('span', null, fmt(s.files_not_mail) + ' files that are not mail'));
    facts.push(el('span', null, fmt(s.findings) + ' findings, ' + fmt(s.rejected) + ' rejected hits, ' +
      fmt(s.suppressed_by_baseline) + ' suppressed by baseline'));
  }
  $('facts').replaceChildren(...facts);

  // ---- timeline: messages carrying credentials per period ----
  function drawTimeline() {
    const tl = data.timeline, box = $('timeline-chart');
    if (!tl.buckets.length) { box.replaceChildren(el('p', {class: 'empty'}, 'No dated message carries a credential.')); return; }
    const W = 1000, H = 170, L = 40, B = 24, T = 10;
    const max = Math.max(...tl.buckets.map((b) => b[1]));
    const chart = svg('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': 'messages carrying credentials per ' + tl.unit});
    const n = tl.buckets.length, slot = (W - L - 10) / n;
    chart.append(svg('line', {x1: L, y1: H - B, x2: W - 10, y2: H - B, stroke: '#c9ced6'}));
    chart.append(svg('text', {x: L - 6, y: T + 8, 'text-anchor': 'end'}, fmt(max)));
    chart.append(svg('text', {x: L - 6, y: H - B, 'text-anchor': 'end'}, '0'));
    tl.buckets.forEach(([start, count], i) => {
      if (!count) return;
      const h = Math.max(1, (H - B - T) * count / max);
      const bar = svg('rect', {x: L + i * slot + slot * 0.1, y: H - B - h, width: Math.max(1, slot * 0.8), height: h, fill: '#2456c5', rx: 1});
      bar.append(svg('title', {}, day(start) + ': ' + fmt(count) + ' message' + (count === 1 ? '' : 's')));
      chart.append(bar);
    });
    const labels = Math.min(n, 8);
    for (let k = 0; k < labels; k++) {
      const i = labels === 1 ? 0 : Math.round(k * (n - 1) / (labels - 1));
      const anchor = labels > 1 && k === 0 ? 'start' : labels > 1 && k === labels - 1 ? 'end' : 'middle';
      const x = anchor === 'start' ? L + i * slot : anchor === 'end' ? L + (i + 1) * slot : L + i * slot + slot / 2;
      chart.append(svg('text', {x: x, y: H - 6, 'text-anchor': anchor}, day(tl.buckets[i][0])));
    }
    const note = 'Messages carrying credentials per ' + tl.unit + ' (UTC)' + (tl.undated ? '; ' + fmt(tl.undated) + ' without a parseable Date' : '') + '.';
    box.replaceChildren(el('p', {class: 'muted'}, note), chart);
  }

  // Each ticket's first-to-last-seen span, for the first tickets of the current selection.
  function drawSpans(list) {
    const box = $('spans-chart');
    const dated = [];
    for (let k = 0; k < list.length && dated.length < 15; k++) if (!isNaN(fsOf[list[k]])) dated.push(ticket(list[k]));
    if (!dated.length || s.first_seen === null) { box.replaceChildren(el('p', {class: 'empty'}, 'No dated ticket in the selection.')); return; }
    const W = 1000, row = 18, L = 260, top = 4, H = top + dated.length * row + 22;
    const lo = s.first_seen, hi = Math.max(s.last_seen, lo + 86400);
    const x = (e) => L + (W - L - 10) * (e - lo) / (hi - lo);
    const chart = svg('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': 'first to last seen of each ticket'});
    dated.forEach((t, i) => {
      const y = top + i * row;
      chart.append(svg('text', {x: 0, y: y + 12}, (t.i + ' ' + t.title).slice(0, 42)));
      chart.append(svg('line', {x1: L, y1: y + 8, x2: W - 10, y2: y + 8, stroke: '#eef0f3'}));
      const bar = svg('rect', {x: x(t.fs), y: y + 3, width: Math.max(3, x(t.ls) - x(t.fs)), height: 10, rx: 3, fill: COLOR[t.sev]});
      bar.append(svg('title', {}, t.i + ': ' + day(t.fs) + ' → ' + day(t.ls) + ', ' + t.mc + ' message(s)'));
      chart.append(bar);
    });
    chart.append(svg('text', {x: L, y: H - 4}, day(lo)));
    chart.append(svg('text', {x: W - 10, y: H - 4, 'text-anchor': 'end'}, day(hi)));
    box.replaceChildren(chart);
    $('spans-h').textContent = 'Ticket spans: first to last seen (first ' + dated.length + ' tickets of the table below)';
  }

  // ---- exposure ----
  function pagedTable(box, head, rows, total, render, step) {
    let shown = Math.min(step, rows.length);
    function draw() {
      const body = el('tbody');
      for (let i = 0; i < shown; i++) body.append(render(rows[i]));
      const parts = [el('table', null, el('thead', null, el('tr', null, ...head)), body)];
      if (!rows.length) parts.push(el('p', {class: 'empty'}, 'No address received a credential.'));
      if (shown < total) parts.push(el('div', {class: 'pager'}, el('span', null, fmt(shown) + ' of ' + fmt(total)),
        shown < rows.length ? el('button', {class: 'plain', type: 'button', onclick: () => { shown = Math.min(rows.length, shown + 100); draw(); }}, 'show 100 more')
          : el('span', null, '(the Markdown report lists every one)')));
      box.replaceChildren(...parts);
    }
    draw();
  }
  $('exposure-note').textContent = data.internal_given
    ? 'External correspondents first (outside ' + data.internal_domains.join(', ') + '), then by the most severe credential they received. Click a domain to filter the tickets.'
    : 'No --internal-domain was given, so no domain is marked external. Click a domain to filter the tickets.';
  const extCell = (x) => el('td', null, x ? el('span', {class: 'ext'}, 'external') : el('span', {class: 'muted'}, data.internal_given ? 'internal' : '—'));
  pagedTable($('domains'), [el('th', null, 'domain'), el('th', null, ''), el('th', {class: 'num'}, 'credentials'), el('th', null, 'worst'), el('th', null, 'addresses')],
    data.domains, data.domains_total, (d) => el('tr', null,
      el('td', null, el('button', {class: 'link', type: 'button', onclick: () => { setFilter('domain', d[0]); $('tickets').scrollIntoView(); }}, d[0] || '(none)')),
      extCell(d[1]), el('td', {class: 'num'}, fmt(d[2])), el('td', null, el('span', {class: 'sev ' + d[3]}, d[3])),
      el('td', null, d[4].slice(0, 4).join(', ') + (d[5] > 4 ? ' +' + fmt(d[5] - 4) + ' more' : ''))), 12);
  pagedTable($('addresses'), [el('th', null, 'address'), el('th', null, ''), el('th', {class: 'num'}, 'credentials'), el('th', null, 'worst')],
    data.addresses, data.addresses_total, (a) => el('tr', null, el('td', {class: 'mono'}, a[0]), extCell(a[2]), el('td', {class: 'num'}, fmt(a[3])),
      el('td', null, el('span', {class: 'sev ' + a[4]}, a[4]))), 12);

  drawTimeline();

  // ---- tickets: filters, sorting, pages ----
  // The tickets arrive as columns (numbers into name tables); filters run over typed arrays and
  // an object is made only for the tickets on the page.
  // The tickets blob is read only now: the summary, timeline and exposure are drawn already.
  performance.mark('credsift-summary');
  const T = JSON.parse(await blobText('credsift-tickets'));
  performance.mark('credsift-parsed');
  const N = T.count, RULES = T.rules, DOMAINS = T.domain_names;
  const ruleOf = Int32Array.from(T.rule), sevOf = new Uint8Array(N);
  const ruleSev = Uint8Array.from(RULES, (r) => RANK[r[4]]);
  // Last seen comes as seconds after first seen (when both are known).
  const fsOf = Float64Array.from(T.fs, (e) => e === null ? NaN : T.fs0 + e);
  // Ids and secrets come as one string each, a line per ticket (an array when one holds a newline).
  if (typeof T.id === 'string') T.id = N ? T.id.split('\n') : [];
  if (typeof T.sec === 'string') T.sec = N ? T.sec.split('\n') : [];
  const lsOf = Float64Array.from(T.ls, (e, n) => e === null ? NaN : isNaN(fsOf[n]) ? e : fsOf[n] + e);
  const extDomain = Uint8Array.from(T.domain_external);
  const extCount = new Uint16Array(N);
  // Ticket n's domains are domainList[domainStart[n] .. domainStart[n + 1]).
  const domainList = Int32Array.from(T.d), domainCount = Int32Array.from(T.dn), domainStart = new Int32Array(N + 1);
  const domainsOf = (n) => domainList.subarray(domainStart[n], domainStart[n + 1]);
  (function index() {  // a function of its own, indexed loops: compiled, not interpreted
    for (let n = 0; n < N; n++) {
      sevOf[n] = ruleSev[ruleOf[n]];
      domainStart[n + 1] = domainStart[n] + domainCount[n];
      let x = 0;
      for (let k = domainStart[n]; k < domainStart[n + 1]; k++) x += extDomain[domainList[k]];
      extCount[n] = x;
    }
  })();
  function ticket(n) {
    const rule = RULES[ruleOf[n]], more = T.more[n] || {};
    const own = Array.from(domainsOf(n));
    return Object.assign({n: n, i: T.id[n], r: rule[0], title: rule[1], pv: rule[2], cat: rule[3], sev: rule[4],
      st: T.names.st[T.st[n]], cf: T.names.cf[T.cf[n]], tr: T.names.tr[T.tr[n]], vs: T.names.vs[T.vs[n]],
      sec: T.sec[n], fs: isNaN(fsOf[n]) ? null : fsOf[n], ls: isNaN(lsOf[n]) ? null : lsOf[n], mc: T.mc[n], oc: T.oc[n],
      d: own.map((k) => DOMAINS[k]), x: own.filter((k) => extDomain[k]).map((k) => DOMAINS[k])}, more);
  }
  const sorted = (values) => [...new Set(values)].sort();
  const usedRules = [...new Set(ruleOf)].map((r) => RULES[r]);
  const controls = {};
  function select(name, label, values) {
    const node = el('select', {id: 'filter-' + name, 'aria-label': label}, el('option', {value: ''}, 'all'), ...values.map((v) => el('option', {value: v}, v)));
    node.addEventListener('change', applyFilters);
    controls[name] = node;
    return el('label', null, label, node);
  }
  function input(name, label, type, placeholder) {
    const node = el('input', {id: 'filter-' + name, type: type, placeholder: placeholder || '', 'aria-label': label});
    node.addEventListener(type === 'date' ? 'change' : 'input', debounce(applyFilters, type === 'date' ? 0 : 150));
    controls[name] = node;
    return el('label', null, label, node);
  }
  function debounce(f, ms) { let timer = 0; return () => { clearTimeout(timer); timer = setTimeout(f, ms); }; }
  const filterBar = [
    select('severity', 'severity', SEVERITIES.filter((v) => s.tickets_by_severity[v])),
    select('status', 'status', sorted(T.names.st)),
    select('provider', 'provider', sorted(usedRules.map((r) => r[2]))),
    select('category', 'category', sorted(usedRules.map((r) => r[3]))),
    input('domain', 'domain', 'search', 'e.g. partner.example'),
    input('from', 'seen from', 'date'), input('to', 'seen until', 'date'),
    select('triage', 'triage', sorted(T.names.tr)), select('verification', 'verification', sorted(T.names.vs)),
    input('q', 'search', 'search', 'id, title, rule, identity'),
  ];
  const external = el('input', {id: 'filter-external', type: 'checkbox'});
  external.addEventListener('change', applyFilters);
  controls.external = external;
  if (data.internal_given) filterBar.push(el('label', null, 'external only', external));
  const reset = el('button', {class: 'plain', type: 'button', id: 'filter-reset'}, 'reset');
  reset.addEventListener('click', () => { for (const c of Object.values(controls)) { if (c.type === 'checkbox') c.checked = false; else c.value = ''; } applyFilters(); });
  filterBar.push(reset);
  $('filters').replaceChildren(...filterBar);

  // Sort keys are numbers per ticket: names are ranked once (per rule, per status ...).
  const rank = (names) => { const order = sorted(names); return Float64Array.from(names, (v) => order.indexOf(v)); };
  const byRule = (col) => { const r = rank(RULES.map((x) => String(x[col]).toLowerCase())); return (n) => r[ruleOf[n]]; };
  const byName = (key) => { const r = rank(T.names[key]); const codes = T[key]; return (n) => r[codes[n]]; };
  const COLUMNS = [
    ['severity', 'severity', (n) => sevOf[n]], ['credential', 'credential', byRule(1)],
    ['provider', 'provider', byRule(2)], ['status', 'status', byName('st')],
    ['secret', 'secret', null], ['seen', 'first seen', (n) => isNaN(fsOf[n]) ? Infinity : fsOf[n]],
    ['last', 'last seen', (n) => isNaN(lsOf[n]) ? Infinity : lsOf[n]], ['messages', 'messages', (n) => -T.mc[n]],
    ['exposure', 'exposed to', (n) => -(extCount[n] * 1e6 + domainCount[n])], ['state', 'triage', byName('tr')],
  ];
  let sortKey = null, sortDir = 1, page = 0, pageSize = 50, filtered = new Int32Array(0);
  const openTickets = new Set();
  function drawHead() {
    $('ticket-head').replaceChildren(el('tr', null, ...COLUMNS.map(([key, label, by]) => {
      const th = el('th', {class: key === 'messages' ? 'num' : '', 'aria-sort': sortKey === key ? (sortDir > 0 ? 'ascending' : 'descending') : null});
      if (!by) { th.append(label); return th; }
      th.append(el('button', {type: 'button', onclick: () => { sortDir = sortKey === key ? -sortDir : 1; sortKey = key; page = 0; applyFilters(); drawHead(); }}, label));
      return th;
    })));
  }
  // The order of all tickets by a column, made once per column and direction (ties: table
  // order); a filter then walks it, so filtering never sorts.
  const identity = Int32Array.from({length: N}, (_, n) => n), orders = new Map();
  function order() {
    if (!sortKey) return identity;
    const name = sortKey + sortDir;
    if (!orders.has(name)) orders.set(name, sortedBy(COLUMNS.find((c) => c[0] === sortKey)[2], sortDir));
    return orders.get(name);
  }
  // Every key is a whole number (or Infinity: undated), so key and ticket number pack into one
  // double, (rank of the key) * 2^20 + n, and a plain numeric sort (no comparator) orders
  // 100,000 tickets in milliseconds; ties stay in table order both ways.
  function sortedBy(by, dir) {
    const key = Float64Array.from(identity, by);
    let lo = Infinity, hi = -Infinity;
    for (let n = 0; n < N; n++) if (key[n] !== Infinity) { lo = Math.min(lo, key[n]); hi = Math.max(hi, key[n]); }
    if (lo === Infinity) lo = hi = 0;
    if (N >= 1048576 || (hi - lo + 2) * 1048576 > Number.MAX_SAFE_INTEGER)  // too large to pack
      return Int32Array.from(identity).sort((a, b) => (key[a] < key[b] ? -dir : key[a] > key[b] ? dir : a - b));
    const packed = new Float64Array(N);
    for (let n = 0; n < N; n++) {
      const k = key[n] === Infinity ? hi + 1 : key[n];
      packed[n] = (dir > 0 ? k - lo : hi + 1 - k) * 1048576 + n;
    }
    packed.sort();
    return Int32Array.from(packed, (v) => v % 1048576);
  }
  let texts = null;  // lower-cased searchable text per ticket, made on the first search
  const textOf = (n) => {
    if (!texts) texts = new Array(N);
    if (texts[n] === undefined) {
      const t = ticket(n);
      texts[n] = [t.i, t.title, t.r, t.pv, t.cat, t.idn || '', t.sec].join(' ').toLowerCase();
    }
    return texts[n];
  };
  const epochOf = (value, end) => value ? Date.parse(value + (end ? 'T23:59:59Z' : 'T00:00:00Z')) / 1000 : null;
  const codeOf = (names, value) => value ? names.indexOf(value) : -1;
  const anyDomain = (n, ok) => { for (let k = domainStart[n]; k < domainStart[n + 1]; k++) if (ok[domainList[k]]) return true; return false; };
  function applyFilters() {
    const c = controls, q = c.q.value.trim().toLowerCase(), domain = c.domain.value.trim().toLowerCase();
    const sev = c.severity.value ? RANK[c.severity.value] : -1;
    const st = codeOf(T.names.st, c.status.value), tr = codeOf(T.names.tr, c.triage.value), vs = codeOf(T.names.vs, c.verification.value);
    // Rules passing the provider and category filters; domains matching the domain text.
    const ruleOk = Uint8Array.from(RULES, (r) => (!c.provider.value || r[2] === c.provider.value) && (!c.category.value || r[3] === c.category.value) ? 1 : 0);
    const domainOk = domain ? Uint8Array.from(DOMAINS, (d) => d.toLowerCase().includes(domain) ? 1 : 0) : null;
    const from = epochOf(c.from.value, false), to = epochOf(c.to.value, true), external = c.external.checked;
    const source = order(), out = new Int32Array(N);
    let count = 0;
    for (let k = 0; k < N; k++) {
      const n = source[k];
      if ((sev >= 0 && sevOf[n] !== sev) || !ruleOk[ruleOf[n]]) continue;
      if ((st >= 0 && T.st[n] !== st) || (tr >= 0 && T.tr[n] !== tr) || (vs >= 0 && T.vs[n] !== vs)) continue;
      if (external && !extCount[n]) continue;
      if (from !== null && !(lsOf[n] >= from)) continue;
      if (to !== null && !(fsOf[n] <= to)) continue;
      if (domainOk && !anyDomain(n, domainOk)) continue;
      if (q && !textOf(n).includes(q)) continue;
      out[count++] = n;
    }
    filtered = out.subarray(0, count);
    page = 0;
    drawTable();
  }
  function setFilter(name, value) {
    controls[name].value = value;
    applyFilters();
  }
  // A tiny inline span: where this ticket's first-to-last-seen sits in the whole window.
  function spark(t) {
    const box = svg('svg', {width: 90, height: 10, viewBox: '0 0 90 10', 'aria-hidden': 'true'});
    box.append(svg('rect', {x: 0, y: 4, width: 90, height: 2, fill: '#e3e6eb'}));
    if (t.fs !== null && s.first_seen !== null) {
      const span = Math.max(s.last_seen - s.first_seen, 1), x0 = 88 * (t.fs - s.first_seen) / span, x1 = 88 * (t.ls - s.first_seen) / span;
      box.append(svg('rect', {x: x0, y: 1, width: Math.max(2, x1 - x0), height: 8, rx: 2, fill: COLOR[t.sev]}));
    }
    return box;
  }
  function exposureCell(t) {
    const td = el('td');
    const tags = t.x.map((d) => el('span', {class: 'tag ext'}, d)).concat(t.d.filter((d) => !t.x.includes(d)).map((d) => el('span', {class: 'tag'}, d)));
    td.append(...tags.slice(0, 4));
    if (tags.length > 4) td.append(el('span', {class: 'muted'}, ' +' + (tags.length - 4)));
    return td;
  }
  function ticketRow(t) {
    const tr = el('tr', {class: 'ticket' + (openTickets.has(t.n) ? ' open' : ''), tabindex: 0, 'aria-expanded': openTickets.has(t.n) ? 'true' : 'false', data: {sev: t.sev, id: t.i}},
      el('td', null, el('span', {class: 'sev ' + t.sev}, t.sev)),
      el('td', null, el('div', null, t.title), el('div', {class: 'id'}, t.i)),
      el('td', null, t.pv), el('td', null, t.st, el('div', {class: 'muted'}, t.cf + ' confidence')),
      el('td', null, el('code', null, t.sec)),
      el('td', {class: 'date'}, spark(t), el('div', {class: 'muted'}, day(t.fs))), el('td', {class: 'date'}, day(t.ls)),
      el('td', {class: 'num'}, fmt(t.mc)), exposureCell(t),
      el('td', null, t.tr, t.vs !== 'not-checked' ? el('div', {class: t.vs === 'live' ? 'ext' : 'muted'}, t.vs) : null));
    const toggle = () => { if (openTickets.has(t.n)) openTickets.delete(t.n); else openTickets.add(t.n); drawTable(); };
    tr.addEventListener('click', toggle);
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggle(); } });
    return tr;
  }
  // Rotation guidance as steps (its sentences), with its http(s) links made clickable.
  function linkOrText(url) {
    let parsed = null;
    try { parsed = new URL(url); } catch (e) { parsed = null; }
    if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) return document.createTextNode(url);
    return el('a', {href: parsed.href, rel: 'noopener noreferrer', target: '_blank'}, url);
  }
  function withLinks(text) {
    const span = el('span');
    const re = /https?:\/\/[^\s)<>"']+[^\s)<>"'.,;:]/g;
    let last = 0, m;
    while ((m = re.exec(text))) { span.append(text.slice(last, m.index), linkOrText(m[0])); last = m.index + m[0].length; }
    span.append(text.slice(last));
    return span;
  }
  function detail(t) {
    const rule = RULES[ruleOf[t.n]];
    const facts = el('dl', null,
      el('dt', null, 'ticket'), el('dd', {class: 'mono'}, t.i),
      el('dt', null, 'rule'), el('dd', {class: 'mono'}, (t.rs || [t.r]).join(', ')),
      el('dt', null, 'category'), el('dd', null, t.cat + ' · provider ' + t.pv),
      el('dt', null, 'validation'), el('dd', null, t.st + ', ' + t.cf + ' confidence' + (t.why ? ' (' + t.why + ')' : '')),
      el('dt', null, 'triage'), el('dd', null, t.tr + ' · live verification: ' + t.vs + (t.vr ? ' (' + t.vr + ')' : '')));
    if (t.idn) facts.append(el('dt', null, 'identity'), el('dd', {class: 'mono'}, t.idn));
    if (t.rel) facts.append(el('dt', null, 'related'), el('dd', {class: 'mono'}, t.rel));
    facts.append(el('dt', null, 'seen'), el('dd', null, stamp(t.fs) + ' → ' + stamp(t.ls) + ' UTC, ' + fmt(t.mc) + ' message(s)' + (t.und ? ', some without a parseable Date' : '')));
    const steps = el('ol', {class: 'steps'}, ...rule[5].split(/(?<=\.)\s+(?=[A-Z])/).map((x) => x.trim()).filter(Boolean).map((x) => el('li', null, withLinks(x))));
    const refs = rule[6].length ? el('p', null, 'References: ', ...rule[6].flatMap((r, i) => [i ? ', ' : '', linkOrText(r)])) : null;
    const more = occurrencesOf(t);
    if (!more) {
      loadOccurrences().then(drawTable);
      return el('tr', {class: 'detail'}, el('td', {colspan: COLUMNS.length}, facts, el('p', {class: 'muted'}, 'Loading the occurrences…')));
    }
    const [addresses, addressCount, occ] = more;
    facts.append(el('dt', null, 'exposed to'), el('dd', null, (addresses.join(', ') +
      (addressCount > addresses.length ? ' … (' + fmt(addressCount) + ' addresses in all)' : '')) || 'nobody named'));
    const rows = occ.map((o) => el('tr', null,
      el('td', {class: 'mono'}, typeof o[0] === 'number' ? stamp(o[0]) : 'undated: ' + o[0]), el('td', {class: 'from'}, o[1]), el('td', {class: 'to'}, o[2] + (o[3] ? ' · cc ' + o[3] : '')),
      el('td', {class: 'subject'}, o[4]), el('td', {class: 'mono'}, o[5] + ':' + o[11]), el('td', {class: 'mono'}, occurrenceLists.files[o[6]] + '@' + o[7] + o[8], el('div', {class: 'muted'}, o[9] + (o[10] ? ' · ' + o[10] : '')))));
    const occTable = el('table', {class: 'occurrences'}, el('thead', null, el('tr', null, ...['date (UTC)', 'from', 'to', 'subject', 'part:line', 'message'].map((h) => el('th', null, h)))), el('tbody', null, ...rows));
    const capped = t.oc > occ.length ? el('p', {class: 'muted'}, occ.length + ' of ' + fmt(t.oc) + ' occurrences shown; the JSON output holds every one.') : null;
    return el('tr', {class: 'detail'}, el('td', {colspan: COLUMNS.length}, facts, el('h3', null, 'Rotate'), steps, refs,
      el('h3', null, 'Occurrences (' + fmt(t.oc) + ')'), occTable, capped));
  }
  function drawTable() {
    const pages = Math.max(1, Math.ceil(filtered.length / pageSize));
    page = Math.min(page, pages - 1);
    const first = page * pageSize, rows = [];
    for (const n of filtered.subarray(first, first + pageSize)) {
      const t = ticket(n);
      rows.push(ticketRow(t));
      if (openTickets.has(t.n)) rows.push(detail(t));
    }
    $('ticket-body').replaceChildren(...rows);
    if (!filtered.length) $('ticket-body').append(el('tr', null, el('td', {colspan: COLUMNS.length, class: 'empty'}, 'No ticket matches.')));
    const count = $('ticket-count');
    count.dataset.shown = String(filtered.length);
    count.textContent = (filtered.length ? 'Tickets ' + fmt(first + 1) + '–' + fmt(Math.min(first + pageSize, filtered.length)) + ' of ' : '') +
      fmt(filtered.length) + (filtered.length === N ? ' tickets' : ' matching, of ' + fmt(N) + ' tickets') +
      ' · most urgent first unless sorted · click a ticket for its occurrences and rotation steps';
    const prev = el('button', {class: 'plain', type: 'button', disabled: page === 0 ? 'disabled' : null, onclick: () => { page--; drawTable(); }}, '‹ previous');
    const next = el('button', {class: 'plain', type: 'button', disabled: page >= pages - 1 ? 'disabled' : null, onclick: () => { page++; drawTable(); }}, 'next ›');
    const size = el('select', {'aria-label': 'tickets per page'}, ...[25, 50, 100, 250].map((n) => el('option', {value: n, selected: n === pageSize ? 'selected' : null}, n + ' per page')));
    size.addEventListener('change', () => { pageSize = Number(size.value); page = 0; drawTable(); });
    $('pager').replaceChildren(prev, el('span', null, 'page ' + fmt(page + 1) + ' of ' + fmt(pages)), next, size);
    drawSpans(filtered);
  }

  // Filters from the address: #severity=high&domain=partner.example (and #selftest).
  const params = new URLSearchParams(location.hash.slice(1));
  for (const [k, v] of params) if (controls[k] && controls[k].type !== 'checkbox') controls[k].value = v;
  drawHead();
  applyFilters();
  performance.mark('credsift-ready');  // bench/report_load reads it

  // #selftest: the browser test's assertions, run in the page; the result goes into the DOM.
  if (params.has('selftest')) {
    const lines = [];
    let failed = 0;
    const check = (ok, what) => { if (!ok) failed++; lines.push((ok ? 'ok ' : 'FAIL ') + what); };
    const value = (key) => { const c = document.querySelector('[data-count="' + key + '"]'); return c ? Number(c.dataset.value) : NaN; };
    check(value('tickets') === s.tickets, 'summary tickets ' + value('tickets'));
    for (const sev of SEVERITIES) check(value('severity-' + sev) === (s.tickets_by_severity[sev] || 0), 'summary ' + sev);
    for (const sev of SEVERITIES) {
      if (!s.tickets_by_severity[sev]) {
        check(![...controls.severity.options].some((o) => o.value === sev), 'no filter for ' + sev + ': no such ticket');
        continue;
      }
      setFilter('severity', sev);
      const expected = sevOf.filter((v) => v === RANK[sev]).length;
      const rows = [...document.querySelectorAll('#ticket-body tr.ticket')];
      check(Number($('ticket-count').dataset.shown) === expected && rows.length === Math.min(expected, pageSize) &&
        rows.every((r) => r.dataset.sev === sev), 'filter severity=' + sev + ' shows ' + rows.length + ' of ' + expected);
    }
    setFilter('severity', '');
    // Sorting: every ticket, in key order both ways, ties in table order.
    for (const [key, by] of [['seen', (n) => isNaN(fsOf[n]) ? Infinity : fsOf[n]], ['severity', (n) => sevOf[n]]]) {
      for (const dir of [1, -1]) {
        sortKey = key; sortDir = dir; applyFilters();
        const list = Array.from(filtered);
        check(list.length === N && list.every((n, i) => i === 0 || (dir * (by(n) - by(list[i - 1])) > 0 || (by(n) === by(list[i - 1]) && n > list[i - 1]))),
          'sorted by ' + key + (dir > 0 ? ' ascending' : ' descending'));
      }
    }
    sortKey = null; sortDir = 1; applyFilters();
    await loadOccurrences();
    // Open every ticket on the first page: occurrences (subjects from mail) must come out as text.
    for (const n of filtered.subarray(0, pageSize)) openTickets.add(n);
    drawTable();
    const subjects = [...document.querySelectorAll('td.subject')];
    check(subjects.length > 0 && subjects.every((c) => c.children.length === 0), 'subjects are text (' + subjects.length + ')');
    const hostile = subjects.filter((c) => c.textContent.includes('\x3cscript>'));
    lines.push('hostile subjects shown as text: ' + hostile.length);
    check(document.querySelectorAll('script').length === 4, 'only the report\'s own scripts');
    check(![...document.querySelectorAll('*')].some((n) => [...n.attributes].some((a) => a.name.startsWith('on'))), 'no inline event handler attributes');
    check(![...document.querySelectorAll('a')].some((a) => !/^https?:/.test(a.href)), 'links are http(s) only');
    check(performance.getEntriesByType('resource').length === 0, 'no resource requested');
    check(problems.length === 0, 'no error or blocked request ' + problems.join('; '));
    openTickets.clear();
    drawTable();
    const pre = el('pre', {id: 'selftest-result', data: {result: failed ? 'fail' : 'pass'}}, lines.join('\n'));
    document.body.prepend(pre);
  }
  window.credsiftReport = {applyFilters, setFilter, problems, count: () => filtered.length};
  document.body.dataset.ready = '1';  // tests and benchmarks wait for it
})();
)JS";

}  // namespace credsift::report_parts::html_assets
