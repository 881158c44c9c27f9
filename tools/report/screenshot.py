#!/usr/bin/env python3
"""tools/report/screenshot.py BUILD_DIR [OUT.png] - make the README's
screenshot (doc/report.png) from a real store: a 12-run sweep (4 learning
rates x 3 seeds) of a noisy training-like curve, written as a tropt event
journal, replayed into sqlite with the built `tropt`, reported, and shot in
headless Chromium through tests/report/cdp.py with smoothing 0.95."""
import json
import math
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tests', 'report'))
import cdp  # noqa: E402


def sweep(path, steps=3000):
    t0 = 1767225600.0
    with open(path, 'w') as f:
        n = 0
        for lr in (0.3, 0.1, 0.03, 0.01):
            for seed in range(3):
                n += 1
                rid = '0194%04x-%04x-7000-8000-%012x' % (n, n, n)
                rng = random.Random(n)
                start = t0 + 60 * n
                f.write(json.dumps({'type': 'run_start', 'run_id': rid, 'time': start,
                                    'experiment': 'sweep', 'host': 'gpu%d' % (n % 3), 'pid': n,
                                    'config': {'lr': lr, 'seed': seed, 'model': 'mlp-4x256',
                                               'batch': 128}}) + '\n')
                tau = 120 / lr
                floor = 0.15 + 2 * (lr - 0.08) ** 2 + 0.02 * seed
                for s in range(steps):
                    base = floor + 2.2 * math.exp(-s / tau)
                    loss = base * (1 + 0.12 * rng.gauss(0, 1))
                    data = {'train/loss': loss,
                            'train/grad_norm': abs(rng.gauss(1 / (1 + s / tau), 0.15)) * lr * 10}
                    if s % 50 == 0:
                        data['val/loss'] = base * 1.08 + 0.01 * rng.gauss(0, 1)
                        data['val/acc'] = 1 - 0.45 * base
                    f.write(json.dumps({'type': 'log', 'run_id': rid, 'time': start + s * 0.05,
                                        'step': s, 'data': data}) + '\n')
                f.write(json.dumps({'type': 'run_end', 'run_id': rid,
                                    'time': start + steps * 0.05, 'status': 'finished',
                                    'summary': {'best_val_loss': floor * 1.08}}) + '\n')


def main(build, out=os.path.join(HERE, '..', '..', 'doc', 'report.png')):
    build = os.path.abspath(build)
    env = dict(os.environ, TROPT_PLUGIN_PATH=os.path.join(build, 'plugins'))
    tropt = os.path.join(build, 'tools', 'tropt')
    with tempfile.TemporaryDirectory() as d:
        jl, db, page = (os.path.join(d, x) for x in ('sweep.jsonl', 'sweep.db', 'sweep.html'))
        sweep(jl)
        subprocess.run([tropt, 'replay', jl, '--tracker', 'sqlite:path=' + db], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([tropt, 'report', '--db', db, '-o', page], env=env, check=True)
        b = cdp.Browser(1400, 1000)
        try:
            p = b.open('file://' + page + '#smooth=0.95')
            p.wait_for("+document.getElementById('status').getAttribute('data-rendered')>0")
            p.screenshot(out)
        finally:
            b.close()


main(*sys.argv[1:])
