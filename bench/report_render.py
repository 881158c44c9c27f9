#!/usr/bin/env python3
"""bench/report_render.py PAGE... - load each page 3 times in headless
Chromium (through tests/report/cdp.py) and print, per page, the median time
from navigation start to the end of its load event (the report's script
draws every chart before the load event ends), in ms, and the page's size."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests',
                                'report'))
import cdp  # noqa: E402


def main(pages):
    b = cdp.Browser()
    try:
        for page in pages:
            times = []
            for _ in range(3):
                p = b.open('file://' + os.path.abspath(page))
                t = p.wait_for("(function(){var n=performance.getEntriesByType('navigation')[0];"
                               "return n&&n.loadEventEnd>0?n.loadEventEnd:0})()")
                errs = p.eval("(function(){var s=document.getElementById('status');"
                              "return s?+s.getAttribute('data-errors'):0})()")
                if errs or p.exceptions():
                    sys.exit('%s: the page failed: %r' % (page, p.exceptions()[:1]))
                times.append(t)
                p.cmd('Page.close')
            times.sort()
            print('%s %.0f ms %d bytes' % (page, times[1], os.path.getsize(page)))
    finally:
        b.close()


main(sys.argv[1:])
