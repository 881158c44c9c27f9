#!/usr/bin/python3
"""Render a tropt-bench JSON report as the Markdown tables of bench/README.md.

    bench/table.py results.json                 # both tables
    bench/table.py --latency-only results.json  # the latency/memory table
"""
import json
import sys


def ns(x):
    if x >= 1e6:
        return "%.2f ms" % (x / 1e6)
    if x >= 1e4:
        return "%.1f us" % (x / 1e3)
    return "%.0f ns" % x


def num(x):
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return "%.2f%s" % (x / div, suf)
    return "%.0f" % x


def met(row):
    if "met" not in row:
        return ""
    return "yes" if row["met"] else "**no**"


def main(path, latency_only=False):
    r = json.load(open(path))
    m, p = r["machine"], r["params"]
    if latency_only:
        latency(r)
        return
    print("Machine: %s CPUs, %s, %s, %s; scratch on %s; load average %s at start, %s at end; %s." % (
        m.get("nproc"), m.get("cpu"), m.get("kernel"), m.get("memory", "").strip(),
        m.get("scratch_fs"), m.get("loadavg_at_start", "?"), m.get("loadavg_at_end", "?"),
        m.get("date")))
    print("tropt %s, SQLite %s, jansson %s.  Throughput: median of %d interleaved rounds "
          "(`--steps %d`); latency/memory runs of %d steps.\n" % (
              m.get("tropt"), m.get("sqlite"), m.get("jansson"), p["rounds"], p["steps"],
              p["mem_steps"]))
    print("| scenario | variant | steps | ns/step | values/s | ratio | target | met |")
    print("|---|---|---:|---:|---:|---:|---|---|")
    for row in r["results"]:
        ratio = ""
        if "ratio" in row:
            ratio = "%.3fx %s" % (row["ratio"], row["ratio_kind"])
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row["scenario"], row["variant"], row.get("steps", ""), ns(row["ns_per_step"]),
            num(row["values_per_s"]),
            ratio, row.get("target", ""), met(row)))
    notes = [row for row in r["results"] if row.get("note")]
    if notes:
        print()
        for row in notes:
            note = row["note"] if len(row["note"]) < 240 else row["note"][:237] + "..."
            print("- %s, %s: %s" % (row["scenario"], row["variant"], note))
    print()
    latency(r)
    skipped = [(k, v) for k, v in sorted(r["scenarios"].items()) if v["status"] != "ran"]
    if skipped:
        print()
        for k, v in skipped:
            print("- %s: %s (%s)" % (k, v["status"], v["note"]))


def latency(r):
    print("| backend | steps | p50 | p99 | p99.9 | max | p99/p50 | target | met "
          "| peak RSS KB start / 10% / 50% / end |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|---|")
    for row in r["latency"]:
        rss = row["rss_kb"]
        print("| %s | %d | %s | %s | %s | %s | %.1f | %s | %s | %d / %d / %d / %d |" % (
            row["backend"], row["steps"], ns(row["p50_ns"]), ns(row["p99_ns"]),
            ns(row["p999_ns"]), ns(row["max_ns"]), row["p99_over_p50"], row.get("target", ""),
            met(row), rss["start"], rss["at_10pct"], rss["at_50pct"], rss["end"]))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--latency-only":
        main(sys.argv[2], True)
    else:
        main(sys.argv[1])
