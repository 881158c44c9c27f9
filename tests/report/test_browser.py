#!/usr/bin/env python3
"""tests/report/test_browser.py - the `tropt report` page in headless
Chromium, on reports of real stores.

Stores are written as tropt event journals (the jsonl backend's format),
replayed into sqlite with `tropt replay`, and reported with `tropt report
--db` (or read as jsonl stores with --from).  The page is driven through
the DevTools protocol (cdp.py): every test checks that the page raised no
error, logged nothing, made no request and had no CSP violation, then what
a user relies on: round tick labels that fit, smoothing that equals an EMA
with debiasing computed here on every point, zoom and reset, sync, the run
filter, natural order and grouping of metrics, group means and bands,
hostile strings that stay text, the static charts without JavaScript, and
--watch.

Needs $TROPT_CLI, $TROPT_PLUGIN_PATH (set by meson) and chromium; without
chromium the tests are skipped unless CI or TROPT_REQUIRE_CHROMIUM is set.
"""
import hashlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.environ.get('TROPT_CLI', 'tropt')
T0 = 1767225600.0  # 2026-01-01 00:00:00 UTC
LEVELS = [0.6, 0.8, 0.9, 0.95, 0.99, 0.999]


def have_chromium():
    if cdp.chromium_path():
        return True
    if os.environ.get('CI') or os.environ.get('TROPT_REQUIRE_CHROMIUM'):
        raise RuntimeError('chromium not found (CI / TROPT_REQUIRE_CHROMIUM is set)')
    return False


def uuid(n):
    return '01940000-%04x-7000-8000-%012x' % (n, n)


class Journal:
    """Runs written as tropt events (what `tropt replay` reads)."""

    def __init__(self):
        self.lines = []

    def run(self, rid, config, rows, experiment='exp', t0=T0, dt=0.5, end='finished',
            summary=None, name=None, tags=()):
        start = {'type': 'run_start', 'run_id': rid, 'time': t0, 'experiment': experiment,
                 'host': 'h', 'pid': 1, 'config': config}
        if name:
            start['name'] = name
        self.lines.append(start)
        for tag in tags:
            self.lines.append({'type': 'annotate', 'run_id': rid, 'time': t0, 'kind': 'tag',
                               'text': tag})
        for step, data in enumerate(rows):
            self.lines.append({'type': 'log', 'run_id': rid, 'time': t0 + step * dt,
                               'step': step, 'data': data})
        if end:
            self.lines.append({'type': 'run_end', 'run_id': rid,
                               'time': t0 + len(rows) * dt, 'status': end,
                               'summary': summary or {}})

    def write(self, path):
        with open(path, 'w') as f:
            for ev in self.lines:
                f.write(json.dumps(ev) + '\n')


def real(v):
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return {'$real': 'nan' if math.isnan(v) else ('inf' if v > 0 else '-inf')}
    return v


def ema_debiased(values, w):
    """TensorBoard's smoothing, written here independently: the debiasing
    weight as a power, every finite value, the last smoothed value kept
    over a non-finite one."""
    num, k, out = 0.0, 0, []
    for v in values:
        if math.isfinite(v):
            k += 1
            num = w * num + (1 - w) * v
        out.append(num / (1 - w ** k) if k else float('nan'))
    return out


def noisy(step, seed):
    """A deterministic noisy decaying curve."""
    x = math.sin(step * 12.9898 + seed * 78.233) * 43758.5453
    return math.exp(-step / 3000.0) * 2 + 0.3 * (x - math.floor(x))


ROUND_MANTISSAS = (1, 2, 5)
SI = {'k': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12}


def tick_value(label):
    label = label.strip().replace('\u2212', '-')
    mul = 1.0
    if label and label[-1] in SI:
        mul = SI[label[-1]]
        label = label[:-1]
    return float(label) * mul


def is_round_step(d):
    if d <= 0:
        return False
    k = math.floor(math.log10(d) + 1e-9)
    m = d / 10 ** k
    return any(abs(m - r) < 1e-6 for r in ROUND_MANTISSAS + (10,))


@unittest.skipUnless(have_chromium(), 'chromium not found')
class ReportPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix='tropt-report-browser-')
        cls.browser = cdp.Browser()

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    # ---- helpers ----

    def path(self, name):
        return os.path.join(self.dir, name)

    @staticmethod
    def read(path):
        with open(path, encoding='utf-8') as f:
            return f.read()

    def cli(self, *args, ok=True):
        p = subprocess.run([CLI] + list(args), capture_output=True, text=True, timeout=600)
        if ok:
            self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def store(self, name, journal):
        """A real sqlite store holding the journal's runs."""
        jl, db = self.path(name + '.jsonl'), self.path(name + '.db')
        journal.write(jl)
        if os.path.exists(db):
            os.remove(db)
        self.cli('replay', jl, '--tracker', 'sqlite:path=' + db)
        return db

    def report(self, db, name, *extra):
        out = self.path(name + '.html')
        self.cli('report', '--db', db, '-o', out, *extra)
        return out

    def load(self, page, fragment='', js=True):
        p = self.browser.open('file://' + page + fragment, js=js)
        if js:
            p.wait_for("(function(){var s=document.getElementById('status');"
                       "return +s.getAttribute('data-rendered')>0||+s.getAttribute('data-errors')>0"
                       "||document.querySelectorAll('#charts div.chart').length===0})()")
        self.addCleanup(self.close_page, p)
        return p

    @staticmethod
    def close_page(p):
        try:
            p.cmd('Page.close', timeout=20)
        except (RuntimeError, cdp.Timeout):
            pass  # already gone (a reloading page may have been detached)

    def assert_clean(self, p):
        """No error, console message, CSP violation or request."""
        status = p.eval("(function(){var s=document.getElementById('status');return "
                        "[+s.getAttribute('data-errors'),+s.getAttribute('data-csp-violations'),"
                        "s.textContent]})()")
        self.assertEqual(status[0], 0, status[2])
        self.assertEqual(status[1], 0)
        self.assertEqual(p.exceptions(), [])
        self.assertEqual(p.console(), [])
        self.assertEqual([e for e in p.log_entries() if e.get('level') in ('error', 'warning')],
                         [])
        self.assertEqual(p.requests(), [])

    def charts(self, p):
        return p.eval("Array.from(document.querySelectorAll('#charts div.chart'))"
                      ".map(function(d){return d.getAttribute('data-metric')})")

    def svg_box(self, p, i):
        return p.eval("(function(){var s=document.querySelectorAll('#charts div.chart')[%d]"
                      ".querySelector('svg.plot-svg');var b=s.getBoundingClientRect();"
                      "return {left:b.left,top:b.top,right:b.right,bottom:b.bottom,"
                      "x0:+s.getAttribute('data-x0'),x1:+s.getAttribute('data-x1'),"
                      "L:+s.getAttribute('data-left'),W:+s.getAttribute('data-width')}})()" % i)

    def scroll_to(self, p, i):
        """Bring chart i into view and wait until it is drawn (charts are
        drawn as they come near the viewport)."""
        p.eval("document.querySelectorAll('#charts div.chart')[%d].scrollIntoView()" % i)
        p.wait_for("!!document.querySelectorAll('#charts div.chart')[%d].querySelector('svg.plot-svg')"
                   % i)

    def draw_all(self, p):
        """Scroll through the page until every chart has been drawn."""
        n = p.eval("+document.getElementById('status').getAttribute('data-charts')")
        for i in range(n):
            self.scroll_to(p, i)
        p.wait_for("document.getElementById('status').getAttribute('data-rendered')==='%d'" % n)
        return n

    def hover_step(self, p, i, step):
        """Move the mouse over chart i at x = step; the tip's rows."""
        self.scroll_to(p, i)
        b = self.svg_box(p, i)
        x = b['left'] + b['L'] + (step - b['x0']) / (b['x1'] - b['x0']) * b['W']
        y = (b['top'] + b['bottom']) / 2
        p.mouse('mouseMoved', x, y)
        return p.wait_for(
            "(function(){var t=document.querySelectorAll('#charts div.chart')[%d]"
            ".querySelector('.tip');if(!t||t.hidden)return null;return {head:"
            "t.querySelector('.head').textContent,rows:Array.from(t.querySelectorAll('tr[data-value]'))"
            ".map(function(r){return {value:+r.getAttribute('data-value'),raw:+r.getAttribute('data-raw'),"
            "x:+r.getAttribute('data-x'),run:r.getAttribute('data-run'),min:+r.getAttribute('data-min'),"
            "max:+r.getAttribute('data-max'),name:r.querySelector('.name').textContent,"
            "near:r.className==='near'}})}})()" % i)

    def set_control(self, p, ident, value, event='input'):
        p.eval("(function(){var e=document.getElementById(%s);e.value=%s;"
               "e.dispatchEvent(new Event(%s));})()"
               % (json.dumps(ident), json.dumps(value), json.dumps(event)))

    # ---- stores ----

    def golden(self):
        db = self.path('golden.db')
        if not os.path.exists(db):
            self.cli('replay', os.path.join(HERE, 'golden.jsonl'), '--tracker',
                     'sqlite:path=' + db)
        return db

    def sweep(self, name='sweep', runs=3, steps=6000):
        j = Journal()
        for r in range(runs):
            rows = [{'train/loss': noisy(s, r), 'train/tokens': s * 4096,
                     'val/acc': 1 - noisy(s, r) / 3} for s in range(steps)]
            j.run(uuid(r + 1), {'lr': 0.1, 'seed': r}, rows, t0=T0 + 100 * r)
        return self.store(name, j), j

    # ---- tests ----

    def test_golden_page(self):
        page = self.report(self.golden(), 'golden')
        p = self.load(page)
        self.assert_clean(p)
        self.assertEqual(self.charts(p), ['acc', 'allnan', 'loss'])
        self.assertEqual(p.eval("document.getElementById('status').getAttribute('data-rendered')"),
                         '3')
        counts = p.eval("Array.from(document.querySelectorAll('#charts div.chart')).map(function(d)"
                        "{return [d.querySelectorAll('svg.plot-svg').length,"
                        "d.querySelectorAll('path.series').length,"
                        "d.querySelectorAll('.marker').length]})")
        # one chart each; a line per run that logged it; NaN, +Inf, -Inf marked
        self.assertEqual(counts, [[1, 2, 0], [1, 1, 25], [1, 2, 3]])
        # the CSP allows the page's own script and style by hash, nothing inline
        html = self.read(page)
        csp = re.search(r'Content-Security-Policy" content="([^"]*)"', html).group(1)
        self.assertNotIn('unsafe-inline', csp)
        for body in re.findall(r'<script>(.*?)</script>', html, re.S):
            h = hashlib.sha256(body.encode()).digest()
            import base64
            self.assertIn("'sha256-%s'" % base64.b64encode(h).decode(), csp)
        self.assertIn('runs', p.eval("document.querySelector('#runs-section h2').textContent.toLowerCase()"))
        # the charts come before the runs table
        self.assertTrue(p.eval("document.getElementById('charts').compareDocumentPosition("
                               "document.getElementById('runs')) & Node.DOCUMENT_POSITION_FOLLOWING"))

    def test_fragment_variants(self):
        """A page opened with any fragment draws its charts (#hide used to
        throw a TypeError and draw nothing)."""
        page = self.report(self.golden(), 'golden-frag')
        for frag in ('#hide', '#hide=', '#x', '#=', '#&&', '#smooth=zzz', '#zoom=bad',
                     '#log=abc', '#hide=0,99', '#x=wall&log=0,1,2&smooth=0.99', '#group=nosuch',
                     '#filter=%E0%A4%A', '#filter=(', '#x=time&log=1&hide=0'):
            p = self.load(page, frag)
            self.assert_clean(p)
            self.assertEqual(p.eval("document.querySelectorAll('svg.plot-svg').length"), 3, frag)

    def test_ticks_round_and_inside(self):
        db, _ = self.sweep()
        page = self.report(db, 'ticks')
        for frag in ('', '#log=0,1,2', '#x=rel', '#log=0&smooth=0'):
            p = self.load(page, frag)
            self.assert_clean(p)
            axes = p.eval(
                "Array.from(document.querySelectorAll('svg.plot-svg')).map(function(s){"
                "var b=s.getBoundingClientRect();return {box:[b.left,b.top,b.right,b.bottom],"
                "log:s.querySelector('.axis-title').textContent.indexOf('log y')>=0,"
                "x:Array.from(s.querySelectorAll('.tick-x')).map(function(t){var r=t.getBoundingClientRect();"
                "return [t.textContent,r.left,r.top,r.right,r.bottom]}),"
                "y:Array.from(s.querySelectorAll('.tick-y')).map(function(t){var r=t.getBoundingClientRect();"
                "return [t.textContent,r.left,r.top,r.right,r.bottom]})}})")
            self.assertEqual(len(axes), 3)
            for a in axes:
                l, t, r, b = a['box']
                for lab in a['x'] + a['y']:
                    self.assertTrue(lab[1] >= l - 0.5 and lab[3] <= r + 0.5 and lab[2] >= t - 0.5
                                    and lab[4] <= b + 0.5, 'label %r outside %r' % (lab, a['box']))
                self.assertGreaterEqual(len(a['y']), 2, a)
                self.assertGreaterEqual(len(a['x']), 2, a)
                ys = [tick_value(x[0]) for x in a['y']]
                if a['log'] and not self.all_125(ys):
                    # a range narrower than 1-2-5: round linear ticks
                    self.check_linear(ys)
                elif not a['log']:
                    self.check_linear([tick_value(x[0]) for x in a['y']])
                if 'x=rel' not in frag:
                    self.check_linear([tick_value(x[0]) for x in a['x']])

    @staticmethod
    def all_125(vals):
        for v in vals:
            k = math.floor(math.log10(v) + 1e-9)
            if not any(abs(v / 10 ** k - m) < 1e-9 for m in ROUND_MANTISSAS):
                return False
        return True

    def check_linear(self, vals):
        d = vals[1] - vals[0]
        self.assertTrue(is_round_step(d), 'step %r of %r' % (d, vals))
        for v in vals:
            self.assertAlmostEqual(v / d, round(v / d), places=6, msg=repr(vals))

    def test_smoothing_equals_ema(self):
        """The smoothed value the page shows at a step equals the EMA with
        debiasing of every logged point up to it: on a long run (downsampled:
        computed at report time) and a short one (computed in the page)."""
        steps = 20000
        vals = [noisy(s, 7) for s in range(steps)]
        vals[1234] = float('nan')
        short = [noisy(s, 3) for s in range(300)]
        j = Journal()
        j.run(uuid(1), {'seed': 7}, [{'loss': real(v)} for v in vals])
        j.run(uuid(2), {'seed': 3}, [{'short': v} for v in short], t0=T0 + 50000)
        db = self.store('smooth', j)
        page = self.report(db, 'smooth')
        p = self.load(page)
        self.assert_clean(p)
        slider = p.eval("(function(){var e=document.querySelector('input[type=range][id*=smooth]');"
                        "return e&&[e.min,e.max]})()")
        self.assertEqual(slider, ['0', '0.999'])
        for level in (0.6, 0.99, 0.999):
            self.set_control(p, 'smooth', str(level))
            self.assertEqual(p.eval("document.getElementById('smooth-value').textContent"),
                             str(level))
            self.assertEqual(p.eval("document.querySelectorAll('path.raw').length"), 2)
            for chart, series, at in ((0, vals, 15000), (1, short, 150)):
                tip = self.hover_step(p, chart, at)
                row = tip['rows'][0]
                step = int(re.match(r'step (\d+)', tip['head']).group(1))
                self.assertLess(abs(step - at), len(series) / 50)
                want = ema_debiased(series, level)[step]
                self.assertLessEqual(abs(row['value'] - want), 1e-6 * abs(want),
                                     'level %g step %d: %r, want %r' % (level, step, row['value'], want))
                self.assertEqual(row['raw'], series[step] if chart else row['raw'])
        self.assert_clean(p)

    def test_zoom_and_reset(self):
        db, _ = self.sweep('zoom')
        page = self.report(db, 'zoom')
        p = self.load(page)
        self.scroll_to(p, 0)
        b0 = self.svg_box(p, 0)
        y = (b0['top'] + b0['bottom']) / 2
        xa, xb = b0['left'] + b0['L'] + 0.3 * b0['W'], b0['left'] + b0['L'] + 0.6 * b0['W']
        p.drag(xa, y, xb)
        p.wait_for("+document.querySelectorAll('svg.plot-svg')[0].getAttribute('data-x1')<%r"
                   % b0['x1'])
        b1 = self.svg_box(p, 0)
        span = b0['x1'] - b0['x0']
        self.assertAlmostEqual(b1['x0'], b0['x0'] + 0.3 * span, delta=span * 0.01)
        self.assertAlmostEqual(b1['x1'], b0['x0'] + 0.6 * span, delta=span * 0.01)
        self.assertEqual(self.svg_box(p, 1)['x1'], self.svg_box(p, 1)['x1'])  # others unchanged
        self.assertEqual(self.svg_box(p, 1)['x0'], b0['x0'])
        p.dblclick((xa + xb) / 2, y)
        p.wait_for("+document.querySelectorAll('svg.plot-svg')[0].getAttribute('data-x1')===%r"
                   % b0['x1'])
        self.assertEqual(self.svg_box(p, 0)['x0'], b0['x0'])
        # sync x: a zoom in one chart is the zoom of every chart
        p.eval("document.getElementById('syncx').click()")
        b0 = self.svg_box(p, 0)
        p.drag(xa, y, xb)
        p.wait_for("+document.querySelectorAll('svg.plot-svg')[2].getAttribute('data-x1')<%r"
                   % b0['x1'])
        z = [self.svg_box(p, i) for i in range(3)]
        self.assertEqual({(b['x0'], b['x1']) for b in z}, {(z[0]['x0'], z[0]['x1'])})
        # the zoom is in the fragment: a reload keeps it
        self.assertIn('zoom=all:', p.eval('location.hash'))
        self.assert_clean(p)

    def test_filter_hides_runs(self):
        """The regex filter over run names; names and tags shown in the
        legend, the hover and the runs table."""
        j = Journal()
        for r, name in enumerate(('alpha', 'beta', 'gamma', 'alpine')):
            j.run(uuid(r + 1), {'k': r}, [{'loss': 1.0 / (s + 1 + r)} for s in range(50)],
                  name=name, tags=('baseline',) if r == 1 else ())
        # a jsonl store: `tropt replay` does not carry names and tags yet
        jl = self.path('filter.jsonl')
        j.write(jl)
        page = self.path('filter.html')
        self.cli('report', '--from', 'jsonl:path=' + jl, '-o', page)
        p = self.load(page)
        # the names the reader gives (stored ones once replay carries them;
        # derived from the id meanwhile) in the legend, the table and the hover
        names = p.eval("JSON.parse(document.getElementById('tropt-data').textContent).runs"
                       ".map(function(r){return r.name})")
        self.assertEqual(len(set(names)), 4)
        legend = p.eval("Array.from(document.querySelectorAll('#legend label')).map(function(l)"
                        "{return l.textContent})")
        self.assertEqual(legend, names)
        rows = p.eval("Array.from(document.querySelectorAll('#runs tbody tr')).map(function(r)"
                      "{return r.querySelector('td.name').textContent})")
        self.assertEqual(rows, names)
        tip = self.hover_step(p, 0, 10)
        self.assertEqual(sorted(r['name'] for r in tip['rows']), sorted(names))
        ids = p.eval("JSON.parse(document.getElementById('tropt-data').textContent).runs"
                     ".map(function(r){return r.id})")
        self.set_control(p, 'filter', '^' + names[0] + '$')
        shown = p.eval("Array.from(document.querySelectorAll('path.series')).map(function(e){"
                       "return e.getAttribute('data-run')})")
        self.assertEqual(shown, [ids[0]])
        self.assertEqual(p.eval("Array.from(document.querySelectorAll('#legend label:not(.out)'))"
                                ".map(function(l){return l.textContent})"), [names[0]])
        self.assertEqual(p.eval("document.querySelectorAll('#runs tbody tr.out').length"), 3)
        self.set_control(p, 'filter', '^(' + names[1] + '|' + names[2] + ')$')
        self.assertEqual(p.eval("document.querySelectorAll('path.series').length"), 2)
        # an invalid regex filters nothing and says so
        self.set_control(p, 'filter', '(')
        self.assertEqual(p.eval("document.querySelectorAll('path.series').length"), 4)
        self.assertTrue(p.eval("document.getElementById('filter').classList.contains('bad')"))
        # a run can be chosen by name on the command line too
        one = self.path('one.html')
        self.cli('report', '--from', 'jsonl:path=' + jl, '--run', names[2], '-o', one)
        self.assertIn('"name":"%s"' % names[2], self.read(one))
        self.assertNotIn('"name":"%s"' % names[0], self.read(one))
        self.assert_clean(p)

    def test_metric_order_and_groups(self):
        keys = ['lr', 'epoch', 'train/layer.10', 'train/layer.2', 'train/loss', 'val/loss',
                'val/acc', 'layer.10', 'layer.9']
        j = Journal()
        j.run(uuid(1), {}, [{k: float(s) for k in keys} for s in range(5)])
        page = self.report(self.store('order', j), 'order')
        p = self.load(page)
        self.assert_clean(p)
        self.assertEqual(self.charts(p), ['train/layer.2', 'train/layer.10', 'train/loss',
                                          'val/acc', 'val/loss', 'epoch', 'layer.9', 'layer.10',
                                          'lr'])
        groups = p.eval("Array.from(document.querySelectorAll('details.group')).map(function(d){"
                        "return [d.getAttribute('data-group'),d.querySelectorAll('.chart').length,d.open]})")
        self.assertEqual(groups, [['train', 3, True], ['val', 2, True], ['', 4, True]])
        p.eval("document.querySelector('details.group summary').click()")
        self.assertFalse(p.eval("document.querySelector('details.group').open"))

    def test_system_metrics_on_wall_time(self):
        """System metrics ("sys/...", SPEC 16) form their own group after the
        other groups and before the ungrouped keys, drawn against wall time
        whatever the page's x axis, and stay out of a synced step zoom.  A
        constant series (lr) draws (its smoothed values once hung the page
        in an endless tick loop)."""
        j = Journal()
        for r in range(2):
            rows = [{'train/loss': noisy(s, r), 'val/acc': 0.5 + s / 400.0, 'lr': 0.1,
                     'sys/proc/rss_bytes': 1e8 + s * 1e5, 'sys/gpu0/util_pct': 50.0 + r}
                    for s in range(200)]
            j.run(uuid(r + 1), {'seed': r}, rows, t0=T0 + 1000 * r, dt=2.0)
        page = self.report(self.store('system', j), 'system')
        p = self.load(page, '#smooth=0')
        self.assert_clean(p)
        self.assertEqual(self.charts(p), ['train/loss', 'val/acc', 'sys/gpu0/util_pct',
                                          'sys/proc/rss_bytes', 'lr'])
        groups = p.eval("Array.from(document.querySelectorAll('details.group')).map(function(d){"
                        "return [d.getAttribute('data-group'),d.querySelectorAll('.chart').length]})")
        self.assertEqual(groups, [['train', 1], ['val', 1], ['sys', 2], ['', 1]])
        n = self.draw_all(p)
        titles = p.eval("Array.from(document.querySelectorAll('svg.plot-svg .axis-title'))"
                        ".map(function(t){return t.textContent})")
        self.assertEqual(len(titles), n)
        self.assertEqual([t.startswith('wall time') for t in titles],
                         [False, False, True, True, False])
        # the sys chart's x range is the runs' wall-clock span: T0 to the
        # second run's last sample (T0 + 1000 + 199 * 2 s)
        b = self.svg_box(p, 3)
        self.assertEqual((b['x0'], b['x1']), (T0, T0 + 1000 + 199 * 2.0))
        self.assertEqual(self.svg_box(p, 0)['x1'], 199)
        tip = self.hover_step(p, 3, T0 + 1000 + 100 * 2.0)
        self.assertNotIn('step', tip['head'])
        self.assertRegex(tip['head'], r'^2026-01-01 00:(19|20):\d\d UTC')
        second = [r for r in tip['rows'] if r['run'] == '1']
        self.assertEqual(len(second), 1)
        x = second[0]['x']
        self.assertLessEqual(abs(x - (T0 + 1200)), 4)
        self.assertEqual(second[0]['value'], 1e8 + (x - T0 - 1000) / 2 * 1e5)
        # a synced zoom of the step charts leaves the time axis alone
        p.eval("document.getElementById('syncx').click()")
        self.scroll_to(p, 0)
        b0 = self.svg_box(p, 0)
        y = (b0['top'] + b0['bottom']) / 2
        p.drag(b0['left'] + b0['L'] + 0.2 * b0['W'], y, b0['left'] + b0['L'] + 0.5 * b0['W'])
        p.wait_for("+document.querySelectorAll('svg.plot-svg')[0].getAttribute('data-x1')<199")
        self.scroll_to(p, 1)
        self.assertLess(self.svg_box(p, 1)['x1'], 199)
        self.scroll_to(p, 3)
        p.wait_for("+document.querySelectorAll('svg.plot-svg')[3].getAttribute('data-x1')===%r"
                   % (T0 + 1000 + 199 * 2.0))
        self.assert_clean(p)

    def test_group_mean_and_band(self):
        j = Journal()
        vals = {}
        for r in range(6):
            lr, seed = (0.1, 0.01)[r // 3], r % 3
            rows = [noisy(s, r) * (1 + seed) for s in range(400)]
            vals[r] = rows
            j.run(uuid(r + 1), {'lr': lr, 'seed': seed}, [{'loss': v} for v in rows])
        page = self.report(self.store('groups', j), 'groups')
        p = self.load(page, '#smooth=0&group=lr')
        self.assert_clean(p)
        legend = p.eval("Array.from(document.querySelectorAll('#legend label')).map(function(l){return l.textContent})")
        self.assertEqual(legend, ['lr=0.1 (3)', 'lr=0.01 (3)'])
        tip = self.hover_step(p, 0, 200)
        self.assertEqual(len(tip['rows']), 2)
        for row in tip['rows']:
            step = int(row['x'])
            members = [0, 1, 2] if row['name'].startswith('lr=0.1 ') else [3, 4, 5]
            ys = [vals[r][step] for r in members]
            self.assertAlmostEqual(row['value'], sum(ys) / 3, delta=1e-12)
            self.assertEqual(row['min'], min(ys))
            self.assertEqual(row['max'], max(ys))
        self.assertEqual(p.eval("document.querySelectorAll('path.band').length"), 2)
        self.assert_clean(p)

    EVIL = ["<script>document.title='PWNED'</script>",
            "<img src=x onerror=\"document.title='PWNED'\">",
            '<plaintext>', '</script><script>document.title="PWNED"</script>',
            "\u2028x\u2029\x1b[2J<svg onload=alert(1)>", 'a\xff\xfeb']
    # A run name or tag is printable text without '/' or ',' (SPEC 14).
    EVIL_NAMES = ["<script>document.title='PWNED'", "<img src=x onerror=document.title=1>",
                  '<plaintext>', '<svg onload=alert(1)>']

    def assert_text_not_markup(self, out, runs, texts):
        """The page at `out` runs no script, has no element a hostile string
        could make, lists `runs` runs, and shows each of `texts` as text."""
        html = self.read(out)
        for raw in ('<script>document.title', '<img src=x', '<plaintext>', '<svg onload'):
            self.assertFalse(raw in html, raw)
        p = self.load(out)
        self.assert_clean(p)
        self.assertEqual(p.eval('document.title'), 'tropt report')
        self.assertEqual(p.eval("document.querySelectorAll('img,plaintext,iframe').length"), 0)
        self.assertEqual(p.eval("document.querySelectorAll('#runs tbody tr').length"), runs)
        shown = p.eval('document.body.textContent')
        for t in texts:
            self.assertIn(t, shown)
        return p

    def evil_journal(self, names):
        """Five runs (UUID ids) whose experiment, config keys and values,
        metric keys and summary are markup; with `names`, their run names
        and tags too (names and tags follow the name rule of SPEC 14)."""
        j = Journal()
        for r, e in enumerate(self.EVIL[:5]):
            n = self.EVIL_NAMES[r % len(self.EVIL_NAMES)]
            j.run(uuid(100 + r), {e: e, 'seed': r},
                  [{e: float(s), 'ok': float(s)} for s in range(20)],
                  experiment=e, summary={e: e}, name=n if names else None,
                  tags=(n,) if names else ())
        return j

    def run_rows(self, p):
        """Each row of the runs table: id (title), name, experiment, tags."""
        return p.eval("Array.from(document.querySelectorAll('#runs tbody tr')).map(function(r){"
                      "var c=r.querySelector('td.name');return {id:c.getAttribute('title'),"
                      "name:c.querySelector('code').textContent,exp:c.nextElementSibling.textContent,"
                      "tags:Array.from(r.querySelectorAll('td.tags span.tag')).map(function(t){"
                      "return t.textContent})}})")

    def assert_names_are_text(self, rows, name_of):
        """A run's name and tags, where the store keeps them, are shown as
        exactly the text stored (a store that keeps none shows a generated
        name or the short id, and no tag)."""
        for row in rows:
            want = name_of.get(row['id'])
            self.assertTrue(row['name'] == want or '<' not in row['name'], row)
            self.assertTrue(all(t == want for t in row['tags']), row)

    def test_hostile_strings_stay_text(self):
        """Experiment, run names, tags, config keys and values, metric keys
        and summaries that are markup run no script, swallow nothing and are
        shown as the text they are, from sqlite and from jsonl."""
        db = self.store('evil', self.evil_journal(names=False))
        demo = os.environ.get('TROPT_DEMO')
        self.assertTrue(demo, 'TROPT_DEMO is not set')
        name_of = {}
        for n in self.EVIL_NAMES:  # names and tags given through the library
            last = subprocess.run([demo, '--tracker', 'sqlite:path=' + db, '--steps', '20',
                                   '--experiment', n, '--run-name', n, '--tag', n],
                                  check=True, capture_output=True, text=True,
                                  timeout=600).stdout.splitlines()[-1]
            self.assertTrue(last.startswith('run ') and ' (' + n + ') ' in last, last)
            name_of[last.split()[1]] = n
        out = self.path('evil.html')
        self.cli('report', '--db', db, '-o', out)
        p = self.assert_text_not_markup(out, 5 + len(self.EVIL_NAMES),
                                        self.EVIL[:4] + self.EVIL_NAMES)
        rows = self.run_rows(p)
        self.assertEqual(sorted(r['exp'] for r in rows if r['id'] in name_of),
                         sorted(self.EVIL_NAMES))
        self.assert_names_are_text(rows, name_of)

        jl = self.path('evil.jsonl')
        j = self.evil_journal(names=True)
        j.write(jl)
        out = self.path('evil-jsonl.html')
        self.cli('report', '--from', 'jsonl:path=' + jl, '-o', out)
        p = self.assert_text_not_markup(out, 5, self.EVIL[:4])
        self.assert_names_are_text(self.run_rows(p), {
            uuid(100 + r): self.EVIL_NAMES[r % len(self.EVIL_NAMES)] for r in range(5)})
        self.assertEqual(self.draw_all(p), 6)
        tip = self.hover_step(p, 0, 10)
        self.assertEqual(len(tip['rows']), 1)
        self.assertEqual(p.eval('document.title'), 'tropt report')
        self.assert_clean(p)

    def test_markup_run_id_is_skipped(self):
        """A run id that is not a UUID (here markup) is skipped with a
        warning and never reaches the page; the other runs are reported."""
        j = Journal()
        j.run(uuid(7), {'seed': 7}, [{'loss': float(s)} for s in range(5)])
        bad = "<script>document.title='PWNED'</script>"
        j.run(bad, {'seed': 8}, [{'loss': float(s)} for s in range(5)])
        jl = self.path('badid.jsonl')
        j.write(jl)
        out = self.path('badid.html')
        p = self.cli('report', '--from', 'jsonl:path=' + jl, '-o', out)
        self.assertIn("is not a UUID", p.stderr)
        self.assertIn("document.title='PWNED'", p.stderr)  # the warning names it
        html = self.read(out)
        self.assertNotIn('PWNED', html)
        self.assertIn(uuid(7), html)
        p = self.load(out)
        self.assert_clean(p)
        self.assertEqual(p.eval('document.title'), 'tropt report')
        self.assertEqual(p.eval("document.querySelectorAll('#runs tbody tr').length"), 1)

    def test_out_of_range_times(self):
        j = Journal()
        j.run(uuid(1), {}, [{'loss': 1.0}], t0=1e13, dt=0)
        j.run(uuid(2), {}, [{'loss': 1.0}, {'loss': 2.0}], t0=T0, dt=1e9)
        html = self.read(self.report(self.store('times', j), 'times'))
        self.assertIn('out of range (1e+13 s)', html)
        self.assertNotIn('2147483648', html)
        self.assertNotRegex(html, r'>-\d{5,}-')
        self.assertRegex(html, r'<td>\d+d \d\dh</td>')

    def test_screenshot_not_blank(self):
        db, _ = self.sweep('shot')
        page = self.report(db, 'shot')
        p = self.load(page)
        png = self.path('shot.png')
        p.screenshot(png)
        out = subprocess.run([sys.executable, os.path.join(HERE, 'png_stats.py'), png],
                             capture_output=True, text=True, check=True).stdout.split()
        w, h, var, colours = int(out[0]), int(out[1]), float(out[2]), int(out[3])
        self.assertEqual((w, h), (1400, 1000))
        self.assertTrue(var > 50 and colours > 20, out)

    def test_without_javascript(self):
        db, _ = self.sweep('nojs')
        page = self.report(db, 'nojs')
        p = self.load(page, js=False)
        static = p.eval("Array.from(document.querySelectorAll('#charts div.chart')).map(function(d){"
                        "var s=d.querySelector('svg.static');return s?[s.querySelectorAll('path.series')."
                        "length,s.querySelectorAll('.tick').length,s.getBoundingClientRect().height]:null})")
        self.assertEqual(len(static), 3)
        for s in static:
            self.assertEqual(s[0], 3)
            self.assertGreater(s[1], 4)
            self.assertGreater(s[2], 100)
        self.assertEqual(p.requests(), [])

    def test_watch_follows_a_running_run(self):
        db = self.path('live.db')
        demo = os.environ.get('TROPT_DEMO')
        if not demo:
            self.skipTest('no TROPT_DEMO')
        live = subprocess.Popen([demo, '--tracker', 'sqlite:path=' + db + ',commit_every=1',
                                 '--steps', '400', '--sleep-ms', '50', '--lr', '0.00001'],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: live.poll() is None and live.kill())
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if os.path.exists(db) and self.cli('runs', '--db', db, ok=False).returncode == 0 \
                    and 'running' in self.cli('runs', '--db', db, ok=False).stdout:
                break
            time.sleep(0.1)
        out = self.path('live.html')
        rep = subprocess.Popen([CLI, 'report', '--db', db, '-o', out, '--watch', '1s'],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: rep.poll() is None and rep.kill())
        while not os.path.exists(out) and time.monotonic() < deadline:
            time.sleep(0.05)
        html = self.read(out)
        if 'data-watch="0"' in html:
            self.skipTest('the demo finished before the report started (machine too slow)')
        p = self.load(out, '#smooth=0.9&hide=0&log=0')
        # one evaluation, retried across a reload (the page reloads itself
        # every second), of a page whose script has run (while a reloaded
        # page is being parsed its controls hold their defaults)
        first = p.wait_for("(function(){var m=document.getElementById('smooth'),s=document"
                           ".getElementById('status');if(!m||!s||!(+s.getAttribute('data-rendered')"
                           ">0))return null;window.name='before';"
                           "return [m.value,s.getAttribute('data-watch')]})()")
        self.assertEqual(first[0], '0.9')
        if first[1] == '0':
            self.skipTest('the run ended before the page was opened (machine too slow)')
        # the page reloads itself (every second here): read its state in one
        # evaluation, from a reloaded page that has drawn its charts
        state = p.wait_for(
            "(function(){var s=document.getElementById('status'),n=performance"
            ".getEntriesByType('navigation')[0];if(!s||!n||n.type!=='reload'||"
            "+s.getAttribute('data-rendered')<1)return null;var l=document.querySelector("
            "'#legend input'),g=document.querySelector('input.logy'),m=document"
            ".getElementById('smooth');if(!l||!g||!m)return null;return [window.name,m.value,"
            "l.checked,g.checked,+s.getAttribute('data-errors'),"
            "+s.getAttribute('data-csp-violations')]})()", timeout=60)
        self.assertEqual(state, ['before', '0.9', False, True, 0, 0])
        self.assertEqual(p.exceptions(), [])
        self.assertEqual(p.console(), [])
        self.assertEqual(p.requests(), [])
        # every version of the file is a whole page; the command ends by itself
        while rep.poll() is None and time.monotonic() < deadline + 120:
            h = self.read(out)
            self.assertTrue(h.startswith('<!DOCTYPE html>') and h.endswith('</html>\n'))
            time.sleep(0.05)
        self.assertEqual(rep.wait(timeout=60), 0, rep.stderr.read())
        final = self.read(out)
        self.assertNotEqual(final, html)  # rewritten with the steps logged since
        self.assertIn('data-watch="0"', final)
        self.assertNotIn('http-equiv="refresh"', final)


if __name__ == '__main__':
    unittest.main(verbosity=2)
