/*
 * tools/report/js/viewer.js - the curve viewer of `tropt report`, inlined
 * into the page (allowed by the page's CSP through its SHA-256).  It draws
 * every chart as SVG from the data block (report_json.h), and nothing from
 * the store ever reaches the page as markup: names, keys and values go in
 * through textContent and attribute values only.
 *
 * State (x axis, smoothing, filter, sync, grouping, hidden runs, log
 * scales, zoom) lives in the URL's fragment, so a reload (--watch) or a
 * shared link keeps it.
 */
(function () {
  'use strict';
  var st = document.getElementById('status');
  function fail(m) {
    st.setAttribute('data-errors', String(+st.getAttribute('data-errors') + 1));
    st.textContent = 'error: ' + m;
  }
  window.addEventListener('error', function (e) { fail(e.message); });

  var NS = 'http://www.w3.org/2000/svg';
  var H = 260, T = 16, B = 36, PAD = 6;
  var D, LV, charts = [], S;

  /* ---- small helpers ---- */

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function hel(name, cls, parent, text) {
    var e = document.createElement(name);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function num(v) { return typeof v === 'number' && isFinite(v); }
  function colour(i) { return D.palette[i % D.palette.length]; }
  function dash(i) { return D.dashes[Math.floor(i / D.palette.length) % D.dashes.length]; }
  function fmt(v) {
    if (v === null || v === undefined || (typeof v === 'number' && isNaN(v))) return 'NaN';
    if (v === 'inf' || v === Infinity) return '+Inf';
    if (v === '-inf' || v === -Infinity) return '-Inf';
    var a = Math.abs(v);
    return a !== 0 && (a >= 1e7 || a < 1e-4) ? v.toExponential(5) : String(+v.toPrecision(6));
  }
  function pad2(n) { return (n < 10 ? '0' : '') + n; }
  function utc(t, withDate, withSec) {
    var d = new Date(t * 1000);
    if (isNaN(d.getTime())) return '-';
    var s = pad2(d.getUTCHours()) + ':' + pad2(d.getUTCMinutes());
    if (withSec) s += ':' + pad2(d.getUTCSeconds());
    if (withDate) s = d.getUTCFullYear() + '-' + pad2(d.getUTCMonth() + 1) + '-' + pad2(d.getUTCDate()) + ' ' + s;
    return s;
  }
  function dur(s) {
    if (!num(s)) return '-';
    var neg = s < 0 ? '-' : '';
    s = Math.abs(s);
    if (s < 60) return neg + String(+s.toPrecision(4)) + 's';
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = Math.round(s % 60);
    if (d) return neg + d + 'd' + (h ? ' ' + h + 'h' : '');
    if (h) return neg + h + 'h' + (m ? ' ' + m + 'm' : '');
    return neg + m + 'm' + (sec ? ' ' + sec + 's' : '');
  }

  /* ---- the packed numbers of the data block (report_pack.h), decoded
   * when a series is first drawn ---- */

  var DIGIT = (function () {
    var a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', d = {};
    for (var i = 0; i < a.length; i++) d[a.charCodeAt(i)] = i;
    return d;
  })();
  function floats(text, wide) {
    var bin = atob(text), u8 = new Uint8Array(bin.length), size = wide ? 8 : 4;
    for (var i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
    var dv = new DataView(u8.buffer), out = new Array(Math.floor(bin.length / size));
    for (var k = 0; k < out.length; k++) out[k] = wide ? dv.getFloat64(k * 8, true) : dv.getFloat32(k * 4, true);
    return out;
  }
  function deltas(text) {
    var out = [], v = 0, z = 0, mul = 1;
    for (var i = 0; i < text.length; i++) {
      var d = DIGIT[text.charCodeAt(i)];
      z += (d & 31) * mul;
      if (d & 32) { mul *= 32; continue; }
      v += z % 2 ? -(z + 1) / 2 : z / 2;
      out.push(v);
      z = 0; mul = 1;
    }
    return out;
  }
  /* Each interval's last point (e) and its smallest and largest finite
   * value (lo, hi: among its kept points, which hold both). */
  function intervalsOf(se) {
    se.e = []; se.lo = []; se.hi = [];
    for (var k = 0, j = -1; k < se.c.length; k++) {
      var a = j + 1, lo = Infinity, hi = -Infinity;
      j += se.c.charCodeAt(k) - 48;
      for (var q = a; q <= j; q++) if (num(se.y[q])) { lo = Math.min(lo, se.y[q]); hi = Math.max(hi, se.y[q]); }
      se.e.push(j); se.lo.push(lo <= hi ? lo : NaN); se.hi.push(lo <= hi ? hi : NaN);
    }
    var m = floats(se.m, false), n = se.c.length;
    se.sm = D.levels.map(function (w, l) { return m.slice(l * n, (l + 1) * n); });
  }
  function unpack(se) {
    if (se.ready) return;
    se.s = deltas(se.s);
    se.t = floats(se.t, false);
    se.y = floats(se.y, se.w === 1);
    if (se.w > 1) intervalsOf(se);
    se.ready = true;
  }

  /* ---- smoothing: the same expression, in the same order, as report_m4.c ---- */

  function ema(y, w) {
    var m = 0, p = 1, n = 0, out = new Array(y.length);
    for (var i = 0; i < y.length; i++) {
      if (num(y[i])) {
        n++;
        m = w * m + (1 - w) * y[i];
        p = w * p;
      }
      out[i] = n ? m / (1 - p) : NaN;
    }
    return out;
  }
  function snap(v) {
    var best = 0, bd = Infinity, lv = -Math.log10(1 - Math.min(Math.max(v, 0), 0.999));
    for (var i = 0; i < LV.length; i++) {
      var d = Math.abs(-Math.log10(1 - LV[i]) - lv);
      if (d < bd) { bd = d; best = LV[i]; }
    }
    return best;
  }

  /* ---- state in the fragment ---- */

  function ints(v) {
    return v.split(',').filter(function (x) { return /^[0-9]+$/.test(x); }).map(Number);
  }
  function parseHash() {
    var h = location.hash.replace(/^#/, '');
    h.split('&').forEach(function (part) {
      if (!part) return;
      var i = part.indexOf('='), k = i < 0 ? part : part.slice(0, i), v = i < 0 ? '' : part.slice(i + 1);
      try { v = decodeURIComponent(v); } catch (e) { return; }
      if (k === 'x' && (v === 'step' || v === 'wall' || v === 'rel')) S.x = v;
      else if (k === 'x' && v === 'time') S.x = 'rel';
      else if (k === 'smooth' && num(parseFloat(v))) S.smooth = snap(parseFloat(v));
      else if (k === 'filter') S.filter = v;
      else if (k === 'sync') S.sync = v === '1';
      else if (k === 'group') S.group = v;
      else if (k === 'hide') ints(v).forEach(function (r) { S.hide[r] = true; });
      else if (k === 'log') ints(v).forEach(function (m) { S.log[m] = true; });
      else if (k === 'zoom') parseZoom(v);
    });
  }
  function parseZoom(v) {
    v.split(',').forEach(function (z) {
      var p = z.split(':'), a = parseFloat(p[1]), b = parseFloat(p[2]);
      if (p.length !== 3 || !num(a) || !num(b) || !(b > a)) return;
      if (p[0] === 'all') S.zoomAll = [a, b];
      else if (/^[0-9]+$/.test(p[0])) S.zoom[+p[0]] = [a, b];
    });
  }
  function keys(o) { return Object.keys(o).filter(function (k) { return o[k]; }).join(','); }
  function writeHash() {
    var p = [];
    if (S.x !== 'step') p.push('x=' + S.x);
    p.push('smooth=' + S.smooth);
    if (S.filter) p.push('filter=' + encodeURIComponent(S.filter));
    if (S.sync) p.push('sync=1');
    if (S.group) p.push('group=' + encodeURIComponent(S.group));
    if (keys(S.hide)) p.push('hide=' + keys(S.hide));
    if (keys(S.log)) p.push('log=' + keys(S.log));
    var z = [];
    if (S.zoomAll) z.push('all:' + S.zoomAll[0] + ':' + S.zoomAll[1]);
    Object.keys(S.zoom).forEach(function (m) { if (S.zoom[m]) z.push(m + ':' + S.zoom[m][0] + ':' + S.zoom[m][1]); });
    if (z.length) p.push('zoom=' + z.join(','));
    try { history.replaceState(null, '', '#' + p.join('&')); } catch (e) { /* a sandboxed page */ }
  }

  /* ---- which runs are shown ---- */

  var reCache = { src: null, re: null };
  function filterRe() {
    if (reCache.src === S.filter) return reCache.re;
    var box = document.getElementById('filter'), re = null;
    box.classList.remove('bad');
    if (S.filter) {
      try { re = new RegExp(S.filter, 'i'); } catch (e) { box.classList.add('bad'); }
    }
    reCache = { src: S.filter, re: re };
    return re;
  }
  function matches(r) {
    var re = filterRe();
    return !re || re.test(D.runs[r].name);
  }
  function shown(r) { return !S.hide[r] && matches(r); }

  /* ---- a series as curves in the current x mode and smoothing ---- */

  /* The x axis of the chart being drawn: the page's choice, unless the
   * metric names its own (system metrics, "sys/...", are drawn against
   * wall time whatever the choice). */
  var X_MODE = 'step';
  function xOf(se) {
    if (X_MODE === 'step') return se.s;
    var r = D.runs[se.run], off = X_MODE === 'wall' && num(r.start) ? r.start : 0;
    return se.t.map(function (t) { return t + off; });
  }
  /* {x, y, i}: the points of se (i: their index in se.s) */
  function rawCurve(se, X) {
    var n = se.y.length, y = new Array(n), idx = new Array(n);
    for (var j = 0; j < n; j++) { y[j] = se.y[j]; idx[j] = j; }
    return { x: X, y: y, i: idx };
  }
  function endsCurve(se, X, li) {
    var c = { x: [], y: [], i: [] };
    if (li > 0 && num(se.y[0])) { c.x.push(X[0]); c.y.push(se.y[0]); c.i.push(0); }
    for (var k = 0; k < se.e.length; k++) {
      var j = se.e[k], v = li > 0 ? se.sm[li - 1][k] : se.y[j];
      if (li > 0 && c.i.length && c.i[c.i.length - 1] === j) c.y.pop(), c.x.pop(), c.i.pop();
      c.x.push(X[j]); c.y.push(num(v) ? v : NaN); c.i.push(j);
    }
    return c;
  }
  function smoothCurve(se, X, li) {
    if (li === 0) return rawCurve(se, X);
    if (se.w > 1) return endsCurve(se, X, li);
    var c = rawCurve(se, X);
    c.y = ema(se.y, LV[li]);
    return c;
  }
  function band(se, X) {
    if (se.w <= 1) return null;
    var b = [];
    for (var k = 0; k < se.e.length; k++) {
      var a = k ? se.e[k - 1] + 1 : 0, z = se.e[k];
      b.push({ x0: X[a], x1: X[z], lo: se.lo[k], hi: se.hi[k] });
    }
    return b;
  }

  /* ---- groups of runs by a config key ---- */

  function groups() {
    var g = [], by = {};
    D.runs.forEach(function (r, i) {
      if (!shown(i)) return;
      var v = Object.prototype.hasOwnProperty.call(r.cfg, S.group) ? r.cfg[S.group] : '(none)';
      if (!Object.prototype.hasOwnProperty.call(by, v)) { by[v] = g.length; g.push({ value: v, runs: [] }); }
      g[by[v]].runs.push(i);
    });
    return g;
  }
  function interp(c, x) {
    var j = lowerBound(c.x, x);
    if (j < c.x.length && c.x[j] === x) return c.y[j];
    if (j === 0 || j >= c.x.length) return NaN;
    var a = c.x[j - 1], b = c.x[j];
    return c.y[j - 1] + (c.y[j] - c.y[j - 1]) * (x - a) / (b - a);
  }
  function aggregate(cs) {
    var xs = [];
    cs.forEach(function (c) { xs = xs.concat(c.x); });
    xs.sort(function (a, b) { return a - b; });
    var out = { x: [], y: [], lo: [], hi: [], n: [], i: [] };
    for (var k = 0; k < xs.length; k++) {
      if (k && xs[k] === xs[k - 1]) continue;
      var sum = 0, n = 0, lo = Infinity, hi = -Infinity;
      cs.forEach(function (c) {
        var v = interp(c, xs[k]);
        if (!num(v)) return;
        sum += v; n++; lo = Math.min(lo, v); hi = Math.max(hi, v);
      });
      if (!n) continue;
      out.x.push(xs[k]); out.y.push(sum / n); out.lo.push(lo); out.hi.push(hi); out.n.push(n); out.i.push(-1);
    }
    return out;
  }
  function lowerBound(a, x) {
    var lo = 0, hi = a.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (a[mid] < x) lo = mid + 1; else hi = mid; }
    return lo;
  }
  function nearest(a, x) {
    var j = lowerBound(a, x);
    if (j >= a.length) return a.length - 1;
    if (j > 0 && x - a[j - 1] < a[j] - x) return j - 1;
    return j;
  }

  /* ---- the lines a chart draws ---- */

  /* The curves of a series in an x mode at a smoothing level, computed once. */
  function curves(se, li) {
    unpack(se);
    var key = X_MODE + li, c = se.cache || (se.cache = {});
    if (c[key]) return c[key];
    var X = xOf(se), raw = c[X_MODE + 'raw'] || (c[X_MODE + 'raw'] = rawCurve(se, X));
    var out = { X: X, raw: raw, band: c[X_MODE + 'band'] || (c[X_MODE + 'band'] = band(se, X)) };
    out.main = li === 0 ? raw : smoothCurve(se, X, li);
    out.sample = li === 0 && se.w > 1 ? endsCurve(se, X, 0) : out.main;
    return (c[key] = out);
  }
  function runLines(m) {
    var li = LV.indexOf(S.smooth);
    return m.series.filter(function (se) { return shown(se.run); }).map(function (se) {
      var cv = curves(se, li);
      return {
        run: se.run, label: D.runs[se.run].name, colour: colour(se.run), dash: dash(se.run), se: se, X: cv.X,
        main: cv.main, raw: li > 0 ? cv.raw : null, band: cv.band
      };
    });
  }
  function groupLines(m) {
    var li = LV.indexOf(S.smooth);
    return groups().map(function (g, gi) {
      var cs = m.series.filter(function (se) { return g.runs.indexOf(se.run) >= 0; })
        .map(function (se) { return curves(se, li).sample; });
      var a = aggregate(cs);
      return {
        group: g, label: S.group + '=' + g.value + ' (' + g.runs.length + ' run' + (g.runs.length === 1 ? '' : 's') + ')',
        colour: colour(gi), dash: dash(gi), main: a, raw: null,
        band: a.x.map(function (x, k) { return { x0: x, x1: x, lo: a.lo[k], hi: a.hi[k] }; }), joined: true
      };
    }).filter(function (l) { return l.main.x.length; });
  }

  /* ---- ticks: 1, 2, 5 x 10^k; decades on a log axis; round times ---- */

  var SI = ['', 'k', 'M', 'G', 'T'];
  function niceStep(span, want) {
    var raw = span / want, p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    return (m >= 7.07 ? 10 : m >= 3.16 ? 5 : m >= 1.41 ? 2 : 1) * p;
  }
  function siExp(maxAbs, stp) {
    var e = 0;
    while (e < 4 && maxAbs >= 1e4 * Math.pow(1e3, e) && stp >= Math.pow(1e3, e + 1)) e++;
    return e;
  }
  function decLabel(v, stp, e) {
    var u = v / Math.pow(1e3, e), us = stp / Math.pow(1e3, e);
    if (Math.abs(u) < us / 2) u = 0;
    if (us < 1e-4) {
      var k = Math.floor(Math.log10(us) + 1e-9), mant = Math.round(u / Math.pow(10, k));
      return mant === 0 ? '0' : mant + 'e' + k;
    }
    return u.toFixed(us >= 1 ? 0 : Math.ceil(-Math.log10(us) - 1e-9)) + SI[e];
  }
  function linTicks(lo, hi, want) {
    var stp = niceStep(hi - lo, want), i0 = Math.ceil(lo / stp - 1e-9), i1 = Math.floor(hi / stp + 1e-9), t = [];
    var e = siExp(Math.max(Math.abs(lo), Math.abs(hi)), stp);
    if (!(i1 - i0 < 1000 && i0 + 1 > i0)) return [];
    for (var i = i0; i <= i1; i++) t.push({ v: i * stp, label: decLabel(i * stp, stp, e) });
    return t;
  }
  function powLabel(d, k) {
    if (k >= 4 || (k === 3 && d >= 10)) {
      var e = Math.min(4, Math.floor(k / 3));
      return decLabel(d * Math.pow(10, k), Math.pow(10, 3 * e), e);
    }
    if (k >= 0) return String(d * Math.pow(10, k));
    if (k >= -4) return (d * Math.pow(10, k)).toFixed(-k);
    return d + 'e' + k;
  }
  function logTicks(lo, hi) { /* lo, hi: log10 of the range */
    var t = [], k0 = Math.floor(lo), k1 = Math.ceil(hi), every = Math.max(1, Math.ceil((k1 - k0) / 8));
    for (var k = k0; k <= k1; k++) {
      var v = k;
      if (v >= lo - 1e-9 && v <= hi + 1e-9 && k % every === 0) t.push({ v: v, label: powLabel(1, k) });
    }
    if (t.length < 2) {
      t = [];
      for (k = k0; k <= k1; k++) {
        [1, 2, 5].forEach(function (d) {
          var w = Math.log10(d) + k;
          if (w >= lo - 1e-9 && w <= hi + 1e-9) t.push({ v: w, label: powLabel(d, k) });
        });
      }
    }
    if (t.length < 2) {
      t = linTicks(Math.pow(10, lo), Math.pow(10, hi), 4).filter(function (x) { return x.v > 0; })
        .map(function (x) { return { v: Math.log10(x.v), label: x.label }; });
    }
    return t;
  }
  var TSTEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    172800, 432000, 864000, 1728000, 4320000, 8640000];
  function timeTicks(lo, hi, want, wall) {
    var span = hi - lo;
    if (!(span >= 2)) return linTicks(lo, hi, want);
    var stp = TSTEPS[TSTEPS.length - 1];
    for (var i = 0; i < TSTEPS.length; i++) if (span / TSTEPS[i] <= want) { stp = TSTEPS[i]; break; }
    var t = [];
    for (var v = Math.ceil(lo / stp) * stp; v <= hi + 1e-9; v += stp) {
      t.push({ v: v, label: wall ? utc(v, stp >= 86400, stp < 60) : dur(v) });
    }
    return t;
  }

  /* ---- drawing one chart ---- */

  /* Whether chart c follows the page's shared x range (not a system
   * metric's chart, on its own time axis). */
  function follows(c) { return S.sync && c.xmode === S.x; }
  function dom(c, lines) {
    var z = follows(c) ? S.zoomAll : S.zoom[c.idx];
    if (z) return z.slice();
    var lo = Infinity, hi = -Infinity;
    lines.forEach(function (l) {
      var X = l.main.x.concat(l.raw ? l.raw.x : []);
      for (var i = 0; i < X.length; i++) if (num(X[i])) { lo = Math.min(lo, X[i]); hi = Math.max(hi, X[i]); }
    });
    if (!(hi >= lo)) return [0, 1];
    if (hi === lo) return [lo - 1, hi + 1];
    return [lo, hi];
  }
  function yRange(lines, x0, x1, logy) {
    var lo = Infinity, hi = -Infinity, li = LV.indexOf(S.smooth);
    function take(v) {
      if (!num(v) || (logy && v <= 0)) return;
      var w = logy ? Math.log10(v) : v;
      lo = Math.min(lo, w); hi = Math.max(hi, w);
    }
    lines.forEach(function (l) {
      var c = l.main;
      for (var i = 0; i < c.x.length; i++) if (c.x[i] >= x0 && c.x[i] <= x1) take(c.y[i]);
      if (l.band && (li === 0 || l.joined)) l.band.forEach(function (b) {
        if (b.x1 >= x0 && b.x0 <= x1) { take(b.lo); take(b.hi); }
      });
    });
    if (!(hi >= lo)) return [0, 1];
    /* a constant series (its smoothed values differing by rounding only)
     * gets a range around it: a span of 1e-17 would give ticks no double
     * can count */
    if (hi - lo <= 1e-9 * Math.max(Math.abs(lo), Math.abs(hi))) hi = lo;
    if (hi === lo) return logy ? [lo - 0.5, hi + 0.5] : [lo - (Math.abs(lo) || 1) * 0.1, hi + (Math.abs(hi) || 1) * 0.1];
    var m = (hi - lo) * 0.04;
    return [lo - m, hi + m];
  }
  var ctx2d = null;
  function textWidth(t) {
    if (!ctx2d) {
      ctx2d = document.createElement('canvas').getContext('2d');
      ctx2d.font = '11px ' + getComputedStyle(document.body).fontFamily;
    }
    return ctx2d.measureText(t).width + 2;
  }
  function measure(svg, labels, cls) {
    var w = 0, ws = [], nodes = labels.map(function (t) {
      var n = el('text', { 'class': cls }, svg);
      n.textContent = t.label;
      ws.push(textWidth(t.label));
      w = Math.max(w, ws[ws.length - 1]);
      return n;
    });
    return { w: w, ws: ws, nodes: nodes };
  }
  function r1(v) { return Math.round(v * 10) / 10; }
  function pathOf(c, sx, sy, logy) {
    var d = '', pen = false, X = c.x, Y = c.y;
    for (var i = 0; i < X.length; i++) {
      var v = Y[i];
      if (!(v === v && v !== Infinity && v !== -Infinity) || (logy && v <= 0)) { pen = false; continue; }
      d += (pen ? 'L' : 'M') + r1(sx(X[i])) + ' ' + r1(sy(v));
      pen = true;
    }
    return d;
  }
  function pt(x, y) { return r1(x) + ' ' + r1(y); }
  /* The band of intervals b: their hi edge forward, lo edge back. */
  function bandPath(b, sx, sy, logy, joined) {
    var d = [], seg = [];
    function flush() {
      if (!seg.length) return;
      var up = [], down = [];
      seg.forEach(function (p) {
        up.push(pt(sx(p.x0), sy(p.hi)));
        if (!joined) up.push(pt(sx(p.x1), sy(p.hi)));
      });
      for (var k = seg.length - 1; k >= 0; k--) {
        if (!joined) down.push(pt(sx(seg[k].x1), sy(seg[k].lo)));
        down.push(pt(sx(seg[k].x0), sy(seg[k].lo)));
      }
      d.push('M' + up.join('L') + 'L' + down.join('L') + 'Z');
      seg = [];
    }
    b.forEach(function (p) {
      if (!num(p.lo) || !num(p.hi) || (logy && p.lo <= 0)) flush(); else seg.push(p);
    });
    flush();
    return d.join('');
  }
  function markers(g, l, sx, sy, top, bottom, logy, x0, x1) {
    if (!l.se) return;
    var se = l.se, X = l.X;
    for (var j = 0; j < se.y.length; j++) {
      var u = se.y[j];
      if ((num(u) && !(logy && u <= 0)) || !(X[j] >= x0 && X[j] <= x1)) continue;
      var cx = sx(X[j]), mk;
      if (u !== u) mk = el('circle', { cx: cx, cy: top - 7, r: 3.5, fill: '#d00' }, g);
      else if (u === Infinity) mk = el('path', { d: 'M' + cx + ' ' + (top - 11) + 'l-4 7h8z', fill: '#a0a' }, g);
      else if (u === -Infinity) mk = el('path', { d: 'M' + cx + ' ' + (bottom + 11) + 'l-4 -7h8z', fill: '#a0a' }, g);
      else mk = el('rect', { x: cx - 2, y: bottom - 2, width: 4, height: 4, fill: '#888' }, g);
      mk.setAttribute('class', 'marker');
    }
  }
  function xTicks(lo, hi, want) {
    if (X_MODE === 'step') return linTicks(lo, hi, want);
    return timeTicks(lo, hi, want, X_MODE === 'wall');
  }
  function axisTitle() {
    return X_MODE === 'step' ? 'step' : X_MODE === 'wall' ? 'wall time (UTC)' : 'time since the run started';
  }

  function draw(c) {
    var plot = c.plot, W = Math.max(320, c.width || plot.clientWidth || 560);
    plot.textContent = '';
    X_MODE = c.xmode = c.m.x || S.x;
    var lines = S.group ? groupLines(c.m) : runLines(c.m), logy = !!S.log[c.idx];
    var xd = dom(c, lines), yd = yRange(lines, xd[0], xd[1], logy);
    var svg = el('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, 'class': 'plot-svg' }, plot);
    var yt = logy ? logTicks(yd[0], yd[1]) : linTicks(yd[0], yd[1], 5);
    var ym = measure(svg, yt, 'tick tick-y');
    var L = Math.ceil(ym.w) + 10;
    var xt = xTicks(xd[0], xd[1], Math.max(2, Math.floor((W - L) / 90)));
    var xm = measure(svg, xt, 'tick tick-x');
    var R = 14, pw = W - L - R, ph = H - T - B;
    function sx(x) { return L + (x - xd[0]) / (xd[1] - xd[0]) * pw; }
    function sy(v) { var w = logy ? Math.log10(v) : v; return T + ph - (w - yd[0]) / (yd[1] - yd[0]) * ph; }
    c.scale = { x0: xd[0], x1: xd[1], L: L, pw: pw, sx: sx, sy: sy, logy: logy };
    svg.setAttribute('data-x0', xd[0]); svg.setAttribute('data-x1', xd[1]);
    svg.setAttribute('data-left', L); svg.setAttribute('data-width', pw);
    el('rect', { x: L, y: T, width: pw, height: ph, fill: 'none', stroke: '#bbb' }, svg);
    yt.forEach(function (t, k) {
      var y = T + ph - (t.v - yd[0]) / (yd[1] - yd[0]) * ph;
      el('line', { x1: L, x2: L + pw, y1: y, y2: y, stroke: '#eee' }, svg);
      var n = ym.nodes[k];
      n.setAttribute('x', L - 5); n.setAttribute('y', y + 4); n.setAttribute('text-anchor', 'end');
    });
    xt.forEach(function (t, k) {
      var n = xm.nodes[k], w = xm.ws[k], x = sx(t.v);
      el('line', { x1: x, x2: x, y1: T + ph, y2: T + ph + 4, stroke: '#999' }, svg);
      x = Math.min(Math.max(x, w / 2 + 1), W - w / 2 - 1);
      n.setAttribute('x', x); n.setAttribute('y', T + ph + 16); n.setAttribute('text-anchor', 'middle');
    });
    var at = el('text', { 'class': 'axis-title', x: L + pw / 2, y: H - 4, 'text-anchor': 'middle' }, svg);
    at.textContent = axisTitle() + (logy ? ', log y' : '');
    var clipId = 'clip' + c.idx;
    var cp = el('clipPath', { id: clipId }, el('defs', {}, svg));
    el('rect', { x: L, y: T - 1, width: pw, height: ph + 2 }, cp);
    var g = el('g', { 'clip-path': 'url(#' + clipId + ')' }, svg);
    var li = LV.indexOf(S.smooth);
    lines.forEach(function (l) {
      if (l.band) el('path', { d: bandPath(l.band, sx, sy, logy, l.joined), fill: l.colour, 'fill-opacity': l.joined ? 0.18 : 0.12, stroke: 'none', 'class': 'band' }, g);
    });
    lines.forEach(function (l) {
      if (l.raw) el('path', { d: pathOf(l.raw, sx, sy, logy), fill: 'none', stroke: l.colour, 'stroke-opacity': 0.25, 'stroke-width': 1, 'class': 'raw' }, g);
    });
    c.paths = lines.map(function (l) {
      var p = el('path', { d: pathOf(l.main, sx, sy, logy), fill: 'none', stroke: l.colour, 'stroke-width': 1.6, 'stroke-dasharray': l.dash, 'class': li > 0 ? 'series smoothed' : 'series' }, g);
      if (l.run !== undefined) p.setAttribute('data-run', D.runs[l.run].id);
      return p;
    });
    var mg = el('g', { 'class': 'markers' }, svg);
    lines.forEach(function (l) { markers(mg, l, sx, sy, T, T + ph, logy, xd[0], xd[1]); });
    c.lines = lines;
    c.cross = el('line', { x1: 0, x2: 0, y1: T, y2: T + ph, stroke: '#666', 'stroke-dasharray': '3 3', visibility: 'hidden', 'class': 'crosshair' }, svg);
    c.sel = el('rect', { x: 0, y: T, width: 0, height: ph, fill: '#48c', 'fill-opacity': 0.15, visibility: 'hidden', 'class': 'selection' }, svg);
    var ov = el('rect', { x: L, y: T, width: pw, height: ph, fill: 'transparent', 'class': 'overlay' }, svg);
    listen(c, ov, svg);
  }

  /* ---- hover, zoom ---- */

  function rowsAt(c, mx, my) {
    var x = c.scale.x0 + (mx - c.scale.L) / c.scale.pw * (c.scale.x1 - c.scale.x0), rows = [];
    c.lines.forEach(function (l, k) {
      var m = l.main;
      if (!m.x.length) return;
      var j = nearest(m.x, x);
      var row = { l: l, k: k, x: m.x[j], v: m.y[j], raw: m.y[j], j: j };
      if (l.raw) row.raw = l.raw.y[nearest(l.raw.x, m.x[j])];
      if (l.joined) { row.lo = m.lo[j]; row.hi = m.hi[j]; }
      row.py = num(row.v) && !(c.scale.logy && row.v <= 0) ? c.scale.sy(row.v) : Infinity;
      rows.push(row);
    });
    return rows;
  }
  function tipHead(c, row) {
    if (!row) return '';
    var xm = c.xmode;
    if (row.l.joined) return (xm === 'step' ? 'step ' : '') + (xm === 'wall' ? utc(row.x, true, true) + ' UTC' : xm === 'rel' ? dur(row.x) : String(row.x));
    var se = row.l.se, i = row.l.main.i[row.j], r = D.runs[se.run];
    var t = se.t[i], wall = num(r.start) ? utc(r.start + t, true, true) + ' UTC' : '-';
    return (c.m.x ? '' : 'step ' + se.s[i] + ' \u00b7 ') + wall + ' \u00b7 ' + dur(t);
  }
  function swatch(colourV, dashV) {
    var s = el('svg', { width: 22, height: 8, 'class': 'sw' });
    el('line', { x1: 0, y1: 4, x2: 22, y2: 4, stroke: colourV, 'stroke-width': 2.5, 'stroke-dasharray': dashV }, s);
    return s;
  }
  function showTip(c, rows, near, mx, my) {
    var tip = c.tip, li = LV.indexOf(S.smooth);
    while (tip.firstChild) tip.removeChild(tip.firstChild);
    hel('div', 'head', tip, tipHead(c, near));
    var tb = hel('table', '', tip), hr = hel('tr', '', tb);
    hel('td', '', hr); hel('td', '', hr, S.group ? 'group' : 'run');
    hel('td', '', hr, S.group ? 'mean' : li > 0 ? 'smoothed' : 'value');
    hel('td', '', hr, S.group ? 'min \u2013 max' : li > 0 ? 'raw' : '');
    rows.sort(function (a, b) { var va = num(a.v) ? a.v : -Infinity, vb = num(b.v) ? b.v : -Infinity; return vb - va; });
    rows.slice(0, 20).forEach(function (row) {
      var tr = hel('tr', row === near ? 'near' : '', tb);
      tr.setAttribute('data-value', String(row.v));
      tr.setAttribute('data-raw', String(row.raw));
      tr.setAttribute('data-x', String(row.x));
      if (row.l.run !== undefined) tr.setAttribute('data-run', String(row.l.run));
      if (row.l.joined) { tr.setAttribute('data-min', String(row.lo)); tr.setAttribute('data-max', String(row.hi)); }
      hel('td', '', tr).appendChild(swatch(row.l.colour, row.l.dash));
      hel('td', 'name', tr, row.l.label);
      hel('td', 'num', tr, fmt(row.v));
      hel('td', 'num', tr, row.l.joined ? fmt(row.lo) + ' \u2013 ' + fmt(row.hi) : li > 0 ? fmt(row.raw) : '');
    });
    if (rows.length > 20) hel('div', 'more', tip, '+' + (rows.length - 20) + ' more');
    tip.hidden = false;
    var cw = c.div.clientWidth, tw = tip.offsetWidth, left = mx + 18;
    if (left + tw > cw) left = Math.max(0, mx - tw - 18);
    tip.style.left = left + 'px';
    tip.style.top = (c.plot.offsetTop + my + 12) + 'px';
  }
  function hover(c, mx, my) {
    var rows = rowsAt(c, mx, my), near = null;
    rows.forEach(function (r) { if (!near || Math.abs(r.py - my) < Math.abs(near.py - my)) near = r; });
    c.paths.forEach(function (p, k) { p.setAttribute('stroke-width', near && near.k === k ? 3 : 1.6); });
    var x = near && num(near.x) ? c.scale.sx(near.x) : mx;
    c.cross.setAttribute('x1', x); c.cross.setAttribute('x2', x);
    c.cross.setAttribute('visibility', 'visible');
    if (rows.length) showTip(c, rows, near, mx, my); else c.tip.hidden = true;
  }
  function unhover(c) {
    c.tip.hidden = true;
    c.cross.setAttribute('visibility', 'hidden');
    c.paths.forEach(function (p) { p.setAttribute('stroke-width', 1.6); });
  }
  function setZoom(c, z) {
    var all = follows(c);
    if (all) S.zoomAll = z; else S.zoom[c.idx] = z;
    writeHash();
    if (all) drawAll(); else redraw(c);
  }
  function listen(c, ov, svg) {
    function pos(ev) { var b = svg.getBoundingClientRect(); return [ev.clientX - b.left, ev.clientY - b.top]; }
    ov.addEventListener('mousemove', function (ev) {
      var p = pos(ev);
      if (c.drag !== undefined) {
        var a = Math.min(c.drag, p[0]), b = Math.max(c.drag, p[0]);
        c.sel.setAttribute('x', a); c.sel.setAttribute('width', b - a); c.sel.setAttribute('visibility', 'visible');
      }
      hover(c, p[0], p[1]);
    });
    ov.addEventListener('mouseleave', function () { unhover(c); });
    ov.addEventListener('mousedown', function (ev) { ev.preventDefault(); c.drag = pos(ev)[0]; });
    ov.addEventListener('mouseup', function (ev) {
      var a = c.drag, b = pos(ev)[0];
      c.drag = undefined;
      c.sel.setAttribute('visibility', 'hidden');
      if (a === undefined || Math.abs(b - a) < 5) return;
      var s = c.scale, inv = function (px) { return s.x0 + (px - s.L) / s.pw * (s.x1 - s.x0); };
      setZoom(c, [inv(Math.min(a, b)), inv(Math.max(a, b))]);
    });
    ov.addEventListener('dblclick', function () {
      var all = follows(c);
      if (all) S.zoomAll = null; else delete S.zoom[c.idx];
      writeHash();
      if (all) drawAll(); else redraw(c);
    });
  }

  /* ---- the page around the charts ---- */

  /* Charts are drawn when they come near the viewport (as TensorBoard's
   * cards are): a page of many runs and metrics opens at the cost of what
   * it shows.  A change of state redraws the charts in view and marks the
   * others to be redrawn when they come into view. */
  var lazy = null, MARGIN = 800;
  function near(c, margin) {
    var b = c.div.getBoundingClientRect();
    return b.bottom > -margin && b.top < window.innerHeight + margin;
  }
  function redraw(c) {
    draw(c);
    c.dirty = false;
    c.drawn = true;
  }
  function countDrawn() {
    st.setAttribute('data-rendered', String(charts.filter(function (c) { return c.drawn; }).length));
  }
  /* Every measure is read before any chart is drawn: reading the layout
   * after a change makes the browser lay the whole page out again. */
  function drawAll() {
    var now = charts.map(function (c) {
      c.width = c.plot.clientWidth;
      c.dirty = true;
      return !lazy || near(c, 0);
    });
    charts.forEach(function (c, i) { if (now[i]) redraw(c); });
    countDrawn();
  }
  function setupLazy() {
    if (!('IntersectionObserver' in window)) return;
    lazy = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        var c = charts[+e.target.getAttribute('data-index')];
        if (e.isIntersecting && c && c.dirty) redraw(c);
      });
      countDrawn();
    }, { rootMargin: MARGIN + 'px 0px' });
    charts.forEach(function (c) { c.div.setAttribute('data-index', String(c.idx)); lazy.observe(c.div); });
  }
  function legend() {
    var lg = document.getElementById('legend');
    while (lg.firstChild) lg.removeChild(lg.firstChild);
    if (S.group) {
      groups().forEach(function (g, gi) {
        var l = hel('label', 'group', lg);
        l.appendChild(swatch(colour(gi), dash(gi)));
        l.appendChild(document.createTextNode(S.group + '=' + g.value + ' (' + g.runs.length + ')'));
      });
      return;
    }
    D.runs.forEach(function (r, i) {
      var l = hel('label', matches(i) ? '' : 'out', lg), cb = hel('input', '', l);
      cb.type = 'checkbox';
      cb.checked = !S.hide[i];
      cb.setAttribute('data-run', String(i));
      cb.addEventListener('change', function () { S.hide[i] = !cb.checked; update(); });
      l.appendChild(swatch(colour(i), dash(i)));
      l.appendChild(document.createTextNode(r.name));
    });
  }
  function tableRows() {
    var rows = document.querySelectorAll('#runs tbody tr');
    for (var i = 0; i < rows.length; i++) {
      var r = +rows[i].getAttribute('data-run');
      rows[i].classList.toggle('out', !shown(r));
    }
  }
  function update() {
    writeHash();
    legend();
    tableRows();
    drawAll();
  }
  function controls() {
    document.getElementById('controls').hidden = false;
    var xm = document.getElementById('xmode'), sm = document.getElementById('smooth'),
      sv = document.getElementById('smooth-value'), fl = document.getElementById('filter'),
      sy = document.getElementById('syncx'), gb = document.getElementById('groupby');
    xm.value = S.x; sm.value = String(S.smooth); sv.textContent = String(S.smooth);
    fl.value = S.filter; sy.checked = S.sync;
    gb.value = S.group;
    if (gb.value !== S.group) S.group = '';
    xm.addEventListener('change', function () { S.x = xm.value; S.zoom = {}; S.zoomAll = null; update(); });
    sm.addEventListener('input', function () {
      S.smooth = snap(parseFloat(sm.value));
      sv.textContent = String(S.smooth);
      update();
    });
    sm.addEventListener('change', function () { sm.value = String(S.smooth); });
    fl.addEventListener('input', function () { S.filter = fl.value; update(); });
    sy.addEventListener('change', function () { S.sync = sy.checked; S.zoom = {}; S.zoomAll = null; update(); });
    gb.addEventListener('change', function () { S.group = gb.value; update(); });
    document.getElementById('reset').addEventListener('click', function () { S.zoom = {}; S.zoomAll = null; update(); });
  }
  function setupCharts() {
    var divs = document.querySelectorAll('#charts div.chart');
    for (var i = 0; i < divs.length && i < D.metrics.length; i++) {
      var div = divs[i], c = { idx: i, m: D.metrics[i], div: div, plot: div.querySelector('.plot') };
      var bar = hel('div', 'bar', null), lab = hel('label', '', bar), cb = hel('input', 'logy', lab);
      cb.type = 'checkbox';
      cb.checked = !!S.log[i];
      lab.appendChild(document.createTextNode(' log y'));
      div.insertBefore(bar, c.plot);
      (function (cc, box) {
        box.addEventListener('change', function () { S.log[cc.idx] = box.checked; writeHash(); redraw(cc); });
      })(c, cb);
      c.tip = hel('div', 'tip', div);
      c.tip.hidden = true;
      charts.push(c);
    }
  }
  function watch() {
    var every = +D.watch;
    if (!(every > 0)) return;
    setTimeout(function () { writeHash(); location.reload(); }, every * 1000);
  }
  function main() {
    D = JSON.parse(document.getElementById('tropt-data').textContent);
    LV = [0].concat(D.levels);
    S = { x: 'step', smooth: 0.6, filter: '', sync: false, group: '', hide: {}, log: {}, zoom: {}, zoomAll: null };
    parseHash();
    controls();
    setupCharts();
    setupLazy();
    update();
    var pending;
    window.addEventListener('resize', function () { clearTimeout(pending); pending = setTimeout(drawAll, 150); });
    st.setAttribute('data-charts', String(charts.length));
    watch();
  }

  try { main(); } catch (e) { fail(String(e && e.stack ? e.stack : e)); }
})();
