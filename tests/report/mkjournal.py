#!/usr/bin/env python3
"""Write a deterministic tropt event journal for the report tests.

usage: mkjournal.py SCENARIO PATH

Run ids, times and values are fixed, so `tropt replay` of the journal into
sqlite gives the same database, and `tropt report` the same bytes, on every
machine.
"""
import json
import math
import sys

T0 = 1767225600.0  # 2026-01-01T00:00:00Z


def rid(n):
    return "0192a000-0000-7000-8000-%012d" % n


def real(x):
    if math.isnan(x):
        return {"$real": "nan"}
    if math.isinf(x):
        return {"$real": "inf" if x > 0 else "-inf"}
    return x


class Journal:
    def __init__(self):
        self.lines = []

    def start(self, n, exp, config, t=T0):
        self.lines.append({"type": "run_start", "run_id": rid(n), "time": t,
                           "experiment": exp, "host": "node-1", "pid": 1000 + n,
                           "config": config})

    def log(self, n, step, data, t):
        self.lines.append({"type": "log", "run_id": rid(n), "time": t, "step": step,
                           "data": {k: real(v) if isinstance(v, float) else v
                                    for k, v in data.items()}})

    def end(self, n, t, summary=None, status="finished"):
        self.lines.append({"type": "run_end", "run_id": rid(n), "time": t,
                           "status": status, "summary": summary or {}})

    def write(self, path):
        with open(path, "w", encoding="utf-8") as f:
            for l in self.lines:
                f.write(json.dumps(l, ensure_ascii=False, allow_nan=False) + "\n")


def golden(j):
    for n, (lr, exp) in enumerate([(0.1, "sweep"), (0.01, "sweep"), (0.1, "base <b>")], 1):
        j.start(n, exp, {"lr": lr, "opt": {"name": "adam", "beta1": 0.9}, "seed": 7})
        for s in range(60):
            t = T0 + n + s * 0.5
            loss = 10.0 / (1 + s * lr * 10) + (0.3 if s % 7 == 0 else 0.0)
            if n == 1 and s == 20:
                loss = float("nan")
            if n == 2 and s == 33:
                loss = float("inf")
            d = {"loss": loss, "acc": min(1.0, s / 50.0), "phase": "warm" if s < 10 else "main"}
            if n == 3:
                d["grad/norm"] = -float("inf") if s == 5 else 1.0 / (s + 1)
            j.log(n, s, d, t)
        j.end(n, T0 + n + 30.0, {"best": 0.5 * n, "note": "done"})


def scenario(name):
    j = Journal()
    if name == "golden":
        golden(j)
    elif name == "zero":
        j.start(1, "empty", {"a": 1})
        j.end(1, T0 + 1)
    elif name == "allnan":
        j.start(1, "nan", {})
        for s in range(50):
            j.log(1, s, {"loss": float("nan")}, T0 + s)
        j.end(1, T0 + 60)
    elif name == "strings":
        j.start(1, "text", {})
        for s in range(5):
            j.log(1, s, {"phase": "p%d" % s, "flag": s % 2 == 0}, T0 + s)
        j.end(1, T0 + 6)
    elif name == "keys10k":
        j.start(1, "wide", {})
        for s in range(2):
            j.log(1, s, {"layers.%d.grad_norm" % k: float(k + s) for k in range(10000)}, T0 + s)
        j.end(1, T0 + 3)
    elif name.startswith("long"):  # long<steps>: one run, spikes every 9973 steps
        steps = int(name[4:])
        j.start(1, "long", {})
        for s in range(steps):
            y = math.sin(s / 1000.0) + (50.0 if s % 9973 == 4321 else 0.0)
            j.log(1, s, {"loss": y}, T0 + s * 0.001)
        j.end(1, T0 + steps * 0.001 + 1)
    elif name == "twins":  # two runs whose ids share 30 characters
        for n in (11, 12):
            j.start(n, "twins", {"k": n})
            j.log(n, 0, {"loss": float(n)}, T0 + n)
            j.end(n, T0 + n + 1)
    else:
        sys.exit("mkjournal: unknown scenario " + name)
    return j


if __name__ == "__main__":
    scenario(sys.argv[1]).write(sys.argv[2])
