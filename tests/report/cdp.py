"""tests/report/cdp.py - headless Chromium driven through the DevTools
protocol over a pipe (--remote-debugging-pipe: commands on fd 3, replies on
fd 4, NUL-terminated JSON), with nothing but the standard library.

A Page loads one file:// URL in a fresh profile and records what the page
did: console messages, uncaught exceptions, log entries (CSP violations
are reported there) and every network request it made.
"""
import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time


def chromium_path():
    for p in (os.environ.get('CHROMIUM'), '/usr/bin/chromium', shutil.which('chromium'),
              shutil.which('chromium-browser')):
        if p and os.path.exists(p):
            return p
    return None


class Timeout(Exception):
    pass


class Browser:
    def __init__(self, width=1400, height=1000):
        self.profile = tempfile.mkdtemp(prefix='tropt-cdp-')
        r1, w1 = os.pipe()  # we write, chromium reads on fd 3
        r2, w2 = os.pipe()  # chromium writes on fd 4, we read

        def wire():
            os.dup2(r1, 3)
            os.dup2(w2, 4)
        args = [chromium_path(), '--headless', '--no-sandbox', '--disable-gpu',
                '--disable-background-networking', '--disable-component-update',
                '--disable-sync', '--no-first-run', '--user-data-dir=' + self.profile,
                '--remote-debugging-pipe', '--window-size=%d,%d' % (width, height),
                '--hide-scrollbars', 'about:blank']
        self.proc = subprocess.Popen(args, preexec_fn=wire, pass_fds=(3, 4), close_fds=True,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(r1)
        os.close(w2)
        self.wfd, self.rfd = w1, r2
        self.buf = b''
        self.next_id = 0
        self.events = []
        self.width, self.height = width, height

    def close(self):
        try:
            self.send('Browser.close', timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.wfd)
        os.close(self.rfd)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_one(self, deadline):
        while b'\0' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout('no message from chromium')
            r, _, _ = select.select([self.rfd], [], [], left)
            if r:
                chunk = os.read(self.rfd, 1 << 20)
                if not chunk:
                    raise EOFError('chromium closed the pipe')
                self.buf += chunk
        msg, self.buf = self.buf.split(b'\0', 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        cmd = {'id': self.next_id, 'method': method, 'params': params or {}}
        if session:
            cmd['sessionId'] = session
        os.write(self.wfd, json.dumps(cmd).encode() + b'\0')
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_one(deadline)
            if m.get('id') == self.next_id:
                if 'error' in m:
                    raise RuntimeError('%s: %s' % (method, m['error']))
                return m.get('result', {})
            self.events.append(m)

    def pump(self, seconds):
        """Collect events for up to `seconds`."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read_one(deadline))
        except Timeout:
            pass

    def open(self, url, js=True):
        return Page(self, url, js)


class Page:
    def __init__(self, browser, url, js=True):
        self.b = browser
        t = browser.send('Target.createTarget', {'url': 'about:blank'})
        self.s = browser.send('Target.attachToTarget', {'targetId': t['targetId'],
                                                        'flatten': True})['sessionId']
        for m in ('Runtime.enable', 'Log.enable', 'Network.enable', 'Page.enable'):
            self.cmd(m)
        self.cmd('Emulation.setDeviceMetricsOverride', {
            'width': browser.width, 'height': browser.height, 'deviceScaleFactor': 1,
            'mobile': False})
        if not js:
            self.cmd('Emulation.setScriptExecutionDisabled', {'value': True})
        self.url = url
        self.cmd('Page.navigate', {'url': url})
        self.wait_event('Page.loadEventFired')

    def cmd(self, method, params=None, timeout=60):
        return self.b.send(method, params, self.s, timeout)

    def mine(self):
        return [e for e in self.b.events if e.get('sessionId') == self.s]

    def wait_event(self, name, timeout=60, after=0):
        deadline = time.monotonic() + timeout
        while True:
            for e in self.mine()[after:]:
                if e.get('method') == name:
                    return e
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout('no %s' % name)
            self.b.pump(min(left, 0.2))

    def eval(self, expr, timeout=60):
        r = self.cmd('Runtime.evaluate', {'expression': expr, 'returnByValue': True,
                                          'awaitPromise': True}, timeout)
        if 'exceptionDetails' in r:
            raise RuntimeError('%s: %s' % (expr, r['exceptionDetails']))
        return r['result'].get('value')

    def wait_for(self, expr, timeout=60):
        """Poll a JavaScript expression until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                v = self.eval(expr)
            except RuntimeError as e:  # the page navigated (reloaded) meanwhile
                if 'navigated' not in str(e) and 'context' not in str(e):
                    raise
                v = None
            if v:
                return v
            if time.monotonic() > deadline:
                raise Timeout('never true: ' + expr)
            self.b.pump(0.1)

    def mouse(self, kind, x, y, clicks=0, button='left'):
        p = {'type': kind, 'x': x, 'y': y, 'button': button if kind != 'mouseMoved' else 'none',
             'clickCount': clicks}
        if kind == 'mouseMoved' and clicks:
            p['buttons'] = 1
        self.cmd('Input.dispatchMouseEvent', p)

    def drag(self, x0, y, x1, steps=8):
        self.mouse('mouseMoved', x0, y)
        self.mouse('mousePressed', x0, y, 1)
        for k in range(1, steps + 1):
            self.mouse('mouseMoved', x0 + (x1 - x0) * k / steps, y, 1)
        self.mouse('mouseReleased', x1, y, 1)

    def dblclick(self, x, y):
        self.mouse('mouseMoved', x, y)
        for n in (1, 2):
            self.mouse('mousePressed', x, y, n)
            self.mouse('mouseReleased', x, y, n)

    def screenshot(self, path):
        data = self.cmd('Page.captureScreenshot', {'format': 'png'})['data']
        with open(path, 'wb') as f:
            f.write(base64.b64decode(data))

    # What the page did, from the protocol's own events.
    def console(self):
        return [e['params'] for e in self.mine() if e.get('method') == 'Runtime.consoleAPICalled']

    def exceptions(self):
        return [e['params'] for e in self.mine() if e.get('method') == 'Runtime.exceptionThrown']

    def log_entries(self):
        return [e['params']['entry'] for e in self.mine() if e.get('method') == 'Log.entryAdded']

    def requests(self):
        """Every URL the page asked for, besides the page itself."""
        base = self.url.split('#')[0]
        out = []
        for e in self.mine():
            if e.get('method') == 'Network.requestWillBeSent':
                u = e['params']['request']['url']
                if u.split('#')[0] != base:
                    out.append(u)
        return out
