#!/usr/bin/python3
"""tests/tensorboard/tbcheck.py - an independent reader of event files.

Decodes what the tensorboard backend wrote with Python's protobuf, against
event_subset.proto (compiled with protoc here, at test time), reads the
TFRecord framing with its own CRC-32C, and compares with what sqlite stored
for the same run.  Also writes event files in the layouts of TensorBoard's
own writers (tensorboardX / torch.utils.tensorboard, TensorFlow 2) for the
reader tests.

  tbcheck.py layout LOGDIR DB RUN_ID SCALARS
                                       every record of the run's files:
                                       CRCs, byte layout, values == sqlite;
                                       numbers written as SCALARS says
                                       (double: DT_DOUBLE/DT_INT64 only;
                                       float: DT_FLOAT, exact values beside)
  tbcheck.py torn LOGDIR RUN_ID        CRCs of complete records; a torn last
                                       record allowed; prints the steps
  tbcheck.py attempts LOGDIR RUN_ID    every record of the run's files
                                       checked; prints per file (JSON) its
                                       attempt, from_step, the step of its
                                       SessionLog START (the record after
                                       the version) and the steps it holds;
                                       with the marks, metadata changes and
                                       system samples of ours
  tbcheck.py foreign DIR               writes foreign runs, prints what they
                                       hold (JSON)
  tbcheck.py uuid PATH                 the id a foreign run folder gets

Prints "OK ..." and exits 0, or prints what differs and exits 1.
"""
import json
import math
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
import uuid

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))


def compile_proto():
    out = tempfile.mkdtemp(prefix="tbcheck-")
    subprocess.run(["protoc", "--python_out=" + out, "-I" + HERE, "-I/usr/include",
                    os.path.join(HERE, "event_subset.proto")], check=True)
    sys.path.insert(0, out)
    import event_subset_pb2  # noqa: E402
    return event_subset_pb2


pb = compile_proto()
from google.protobuf import struct_pb2  # noqa: E402


class Fail(Exception):
    pass


def need(cond, *msg):
    if not cond:
        raise Fail(" ".join(str(m) for m in msg))


# ---- CRC-32C (Castagnoli), bit by bit into a byte table ------------------------

def _table():
    t = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        t.append(c)
    return t


TABLE = _table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(data):
    head = struct.pack("<Q", len(data))
    return head + struct.pack("<I", masked(crc32c(head))) + data + \
        struct.pack("<I", masked(crc32c(data)))


def records(path, allow_torn=False):
    """(offset, data) of every record; every CRC must hold.  A torn last
    record is an error unless allow_torn (then it is reported as None)."""
    raw = open(path, "rb").read()
    off = 0
    out = []
    while off < len(raw):
        if len(raw) - off < 12:
            need(allow_torn, path, "torn header at", off)
            out.append((off, None))
            break
        n, = struct.unpack_from("<Q", raw, off)
        lcrc, = struct.unpack_from("<I", raw, off + 8)
        need(lcrc == masked(crc32c(raw[off:off + 8])), path, "length CRC at", off)
        if off + 16 + n > len(raw):
            need(allow_torn, path, "torn record at", off)
            out.append((off, None))
            break
        data = raw[off + 12:off + 12 + n]
        dcrc, = struct.unpack_from("<I", raw, off + 12 + n)
        need(dcrc == masked(crc32c(data)), path, "data CRC at", off)
        out.append((off, data))
        off += 16 + n
    return out


# ---- finding a run's files -------------------------------------------------------

def text_of(value):
    t = value.tensor
    need(t.dtype == pb.DT_STRING and len(t.string_val) == 1, "not a text value:", value)
    return t.string_val[0].decode("utf-8")


def identity(path):
    for _, data in records(path, allow_torn=True)[:8]:
        if data is None:
            break
        ev = pb.Event.FromString(data)
        if ev.WhichOneof("what") == "summary":
            for v in ev.summary.value:
                if v.tag == "_tropt_/run":
                    return json.loads(text_of(v))
    return None


def run_files(logdir, run_id):
    found = []
    for dirpath, _, files in os.walk(logdir):
        for f in sorted(files):
            if "tfevents" in f:
                ident = identity(os.path.join(dirpath, f))
                if ident and ident["run_id"] == run_id:
                    found.append(os.path.join(dirpath, f))
    need(found, "no event file of run", run_id, "under", logdir)
    return sorted(found, key=os.path.basename)


# ---- the layout of one value ----------------------------------------------------------

SCALARS_META = pb.SummaryMetadata(plugin_data=pb.SummaryMetadata.PluginData(plugin_name="scalars"))
TEXT_META = pb.SummaryMetadata(plugin_data=pb.SummaryMetadata.PluginData(plugin_name="text"))


def check_meta(v, seen, want):
    """Metadata on the first value of a tag in a file (and when its plugin
    changes), exactly the scalars or text plugin's; never otherwise."""
    first = seen.get(v.tag) != want.plugin_data.plugin_name
    if first:
        need(v.HasField("metadata") and v.metadata == want, "tag", repr(v.tag),
             "lacks its metadata:", v)
        seen[v.tag] = want.plugin_data.plugin_name
    else:
        need(not v.HasField("metadata"), "tag", repr(v.tag), "repeats its metadata")


def decode_value(v, seen):
    """(key, kind, value) of one step value, its layout checked.  kind:
    real/int (8 bytes of content), float (4), str, json, or exact-real /
    exact-int: the exact value beside a float (scalars=float)."""
    t = v.tensor
    need(v.WhichOneof("value") == "tensor", "not a tensor:", v)
    need(t.HasField("tensor_shape") and len(t.tensor_shape.dim) == 0, "not rank 0:", v)
    if v.tag.startswith("_tropt_/json/"):
        check_meta(v, seen, TEXT_META)
        return v.tag[len("_tropt_/json/"):], "json", text_of(v)
    exact = v.tag.startswith("_tropt_/exact/")
    if exact:
        need(not v.HasField("metadata"), "exact value with metadata:", v)
        key = v.tag[len("_tropt_/exact/"):]
    else:
        key = v.tag[len("_tropt_/key/"):] if v.tag.startswith("_tropt_/key/") else v.tag
        need(not key.startswith("_tropt_/") or v.tag.startswith("_tropt_/key/"), "bad tag", v.tag)
    if t.dtype == pb.DT_STRING and not exact:
        check_meta(v, seen, TEXT_META)
        return key, "str", text_of(v)
    if not exact:
        check_meta(v, seen, SCALARS_META)
    need(not t.double_val and not t.int64_val and not t.float_val, "typed fields:", t)
    if t.dtype == pb.DT_FLOAT and not exact:
        need(len(t.tensor_content) == 4, "content:", t)
        return key, "float", t.tensor_content
    need(len(t.tensor_content) == 8, "content:", t)
    pre = "exact-" if exact else ""
    if t.dtype == pb.DT_DOUBLE:
        return key, pre + "real", t.tensor_content
    need(t.dtype == pb.DT_INT64, "dtype", t.dtype)
    return key, pre + "int", struct.unpack("<q", t.tensor_content)[0]


def resolve_floats(step, fields):
    """scalars=float: each float with its exact value beside it (that value
    is the field's, and the float its float32), or alone (then exact)."""
    out = {}
    for key, (kind, value) in fields.items():
        if kind.startswith("exact-"):
            continue
        if kind == "float":
            f = struct.unpack("<f", value)[0]
            if ("exact", key) in fields:
                ekind, evalue = fields[("exact", key)]
                x = struct.unpack("<d", evalue)[0] if ekind == "exact-real" else float(evalue)
                with numpy.errstate(over="ignore"):
                    f32x = numpy.float32(x).tobytes()
                need(f32x == value or (math.isnan(x) and math.isnan(f)),
                     "step", step, key, "float", f, "is not float32 of", x)
                out[key] = (ekind[len("exact-"):], evalue)
            else:
                out[key] = ("real", struct.pack("<d", f))
        else:
            out[key] = (kind, value)
    for k in fields:
        if isinstance(k, tuple):
            need(k[1] in out and fields[k][0].startswith("exact-"), "stray exact value", k)
    return out


def read_run(logdir, run_id):
    """Every record of the run, checked; returns what the files hold."""
    got = new_got()
    for path in run_files(logdir, run_id):
        read_file(path, got)
    return got


def new_got():
    return {"steps": {}, "ids": [], "end": None, "hparams": None, "hparams_end": None,
            "config_text": None, "kinds": set(), "notes": [], "marks": [], "system": [],
            "start": None, "step_list": []}


def read_file(path, got):
    """Every record of one file, checked, into got (a SessionLog START only
    as the record after the version, at the identity's from_step)."""
    seen = {}
    recs = records(path)
    need(len(recs) >= 2, path, "has", len(recs), "records")
    for i, (off, data) in enumerate(recs):
        ev = pb.Event.FromString(data)
        again = ev.SerializeToString(deterministic=True)
        need(again == data, path, "record at", off, "is not protobuf's own layout:\n",
             data.hex(), "\n", again.hex())
        what = ev.WhichOneof("what")
        if i == 0:
            need(what == "file_version" and ev.file_version == "brain.Event:2", path,
                 "first record:", ev)
            continue
        if what == "session_log" and i == 1:
            need(ev.session_log.status == pb.SessionLog.START, path, "session log", ev)
            got["start"] = ev.step
            continue
        need(what == "summary", path, "record", i, "is", what)
        read_summary(ev, got, seen)


def event_line(v, want):
    """One of our event-format records: a rank-0 string without metadata."""
    need(not v.HasField("metadata"), v.tag, "has metadata")
    j = json.loads(text_of(v))
    need(j["type"] == want, v.tag, "holds", j)
    return j


def read_system(ev, got, seen):
    """_tropt_/system first, then each sample's mean as a DT_FLOAT scalar."""
    vals = ev.summary.value
    j = event_line(vals[0], "system")
    keys = []
    for v in vals[1:]:
        key, kind, value = decode_value(v, seen)
        need(kind == "float", "system sample", key, "is", kind)
        mean = j["data"][key][0]
        if isinstance(mean, dict):
            mean = float(mean["$real"])
        with numpy.errstate(over="ignore"):
            need(numpy.float32(mean).tobytes() == value or math.isnan(mean), "sample", key, value)
        keys.append(key)
    need(keys == list(j["data"]), "system values", keys, "vs", list(j["data"]))
    got["system"].append([ev.step, ev.wall_time, j])


def read_summary(ev, got, seen):
    vals = ev.summary.value
    if vals and vals[0].tag == "_tropt_/system":
        read_system(ev, got, seen)
        return
    if vals and vals[0].tag in ("_tropt_/annotate", "_tropt_/checkpoint"):
        need(len(vals) == 1, "records of ours come alone:", ev)
        kind = vals[0].tag[len("_tropt_/"):]
        j = event_line(vals[0], kind)
        got["notes" if kind == "annotate" else "marks"].append([ev.step, ev.wall_time, j])
        return
    ours = [v for v in vals if v.tag.startswith(("_tropt_/run", "_tropt_/end", "_tropt_/config",
                                                 "_hparams_/"))]
    if ours:
        need(len(vals) == 1, "records of ours come alone:", ev)
        v = vals[0]
        if v.tag == "_tropt_/run":
            check_meta(v, {}, TEXT_META)
            got["ids"].append(json.loads(text_of(v)))
        elif v.tag == "_tropt_/end":
            got["end"] = (ev.step, ev.wall_time, json.loads(text_of(v)))
        elif v.tag == "_tropt_/config":
            got["config_text"] = text_of(v)
        else:
            hp = read_hparams(v)
            key = "hparams" if v.tag == "_hparams_/session_start_info" else "hparams_end"
            got[key] = (ev.step, ev.wall_time, hp)
        return
    need(ev.step not in got["steps"], "step", ev.step, "written twice")
    got["step_list"].append(ev.step)
    step = {}
    for v in vals:
        key, kind, value = decode_value(v, seen)
        if kind.startswith("exact-"):
            key = ("exact", key)
        need(key not in step, "key", key, "twice in step", ev.step)
        step[key] = (kind, value)
        got["kinds"].add(kind)
    got["steps"][ev.step] = (ev.wall_time, resolve_floats(ev.step, step))


def read_hparams(v):
    need(v.metadata.plugin_data.plugin_name == "hparams", "hparams metadata:", v)
    null = pb.TensorProto(dtype=pb.DT_FLOAT, tensor_shape=pb.TensorShapeProto(
        dim=[pb.TensorShapeProto.Dim()]))
    need(v.tensor == null and v.tensor.SerializeToString() == b"\x08\x01\x12\x02\x12\x00",
         "hparams tensor:", v.tensor)
    hp = pb.HParamsPluginData.FromString(v.metadata.plugin_data.content)
    need(hp.version == 0, "hparams version", hp.version)
    return hp


# ---- comparing with sqlite ----------------------------------------------------------------

KIND_BOOL, KIND_NAN, KIND_JSON = 1, 2, 3


def sqlite_steps(db, run_id):
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT m.step, t.value, k.name, m.value, m.kind FROM tropt_val m"
        " JOIN tropt_run r ON r.id = m.run JOIN tropt_key k ON k.id = m.key"
        " JOIN tropt_val t ON t.run = m.run AND t.step = m.step AND t.key = 0"
        " WHERE r.uuid = ? AND m.key > 0", (run_id,)).fetchall()
    times = dict(con.execute(
        "SELECT step, time FROM metrics WHERE run_id = ? GROUP BY step", (run_id,)).fetchall())
    empty = con.execute("SELECT t.step, t.value FROM tropt_val t JOIN tropt_run r ON r.id = t.run"
                        " WHERE r.uuid = ? AND t.key = 0", (run_id,)).fetchall()
    steps = {}
    for step, time, key, value, kind in rows:
        steps.setdefault(step, (time, {}))[1][key] = (value, kind)
    for step, time in empty:
        steps.setdefault(step, (time, {}))
    run = con.execute("SELECT experiment, status, started_at, ended_at, host, pid, config"
                      " FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    params = dict(con.execute("SELECT key, value FROM params WHERE run_id = ?",
                              (run_id,)).fetchall())
    summary = dict(con.execute("SELECT key, value FROM summary WHERE run_id = ?",
                               (run_id,)).fetchall())
    con.close()
    need(times or not rows, "no times")
    return steps, run, params, summary


def bits(x):
    return struct.pack("<d", x)


def same_value(key, tb, sq):
    kind, v = tb
    value, sqkind = sq
    if kind == "real":
        x = struct.unpack("<d", v)[0]
        if math.isnan(x):
            need(value is None and sqkind == KIND_NAN, key, "NaN vs sqlite", sq)
        else:
            need(isinstance(value, float) and bits(value) == v, key, "real", x, "vs sqlite",
                 repr(value))
    elif kind == "int":
        need(isinstance(value, int) and sqkind != KIND_BOOL and value == v, key, v, "vs", sq)
    elif kind == "str":
        need(isinstance(value, str) and value == v and sqkind != KIND_JSON, key, repr(v), "vs",
             repr(value))
    else:
        j = json.loads(v)
        if j is True or j is False:
            need(sqkind == KIND_BOOL and value == int(j), key, v, "vs", sq)
        elif j is None:
            need(value is None and sqkind != KIND_NAN, key, "null vs", sq)
        else:
            need(sqkind == KIND_JSON and value == v, key, v, "vs", sq)


def flatten(obj, prefix=""):
    out = {}
    for k, v in obj.items():
        k = prefix + k
        if isinstance(v, dict) and v:
            out.update(flatten(v, k + "/"))
        else:
            out[k] = v
    return out


def check_config(got, run, params):
    ident = got["ids"][-1]
    config = ident["config"]
    need(json.loads(run[6]) == config if run[6] else config is None, "config", config,
         "vs sqlite", run[6])
    if not config:
        need(got["hparams"] is None, "hparams without a config")
        return 0
    flat = flatten(config)
    step, wall, hp = got["hparams"]
    need(step == 0 and hp.WhichOneof("data") == "session_start_info", "hparams record", hp)
    ssi = hp.session_start_info
    need(ssi.start_time_secs == ident["started_at"] == run[2], "start time", ssi.start_time_secs)
    for k, v in flat.items():
        need(k in params, "param", k, "not in sqlite")
        if v is None:
            need(k not in ssi.hparams, "null hparam", k)
            continue
        hv = ssi.hparams[k]
        which = hv.WhichOneof("kind")
        if isinstance(v, bool):
            need(which == "bool_value" and hv.bool_value == v, k, hv)
        elif isinstance(v, (int, float)):
            need(which == "number_value" and hv.number_value == float(v), k, hv)
            need(params[k] == v, k, "sqlite", params[k], "config", v)
        elif isinstance(v, str):
            need(which == "string_value" and hv.string_value == v and params[k] == v, k, hv)
        else:
            need(which == "string_value" and json.loads(hv.string_value) == v, k, hv)
    need(len(ssi.hparams) == len([v for v in flat.values() if v is not None]), "extra hparams")
    text = got["config_text"]
    need(text is not None and all(line.startswith("    ") for line in text.split("\n")),
         "config text:", repr(text))
    need(json.loads(text) == config, "config text", text)
    return len(ssi.hparams)


def check_end(got, run, summary):
    if run[1] == "running":
        need(got["end"] is None, "an end record for a running run")
        return
    step, wall, end = got["end"]
    need(end["status"] == run[1] and end["ended_at"] == run[3] == wall, "end", end, run)
    flat = flatten(end["summary"] or {})
    need(set(flat) == set(summary), "summary keys", sorted(flat), sorted(summary))
    for k, v in flat.items():
        if isinstance(v, (list, dict)):
            need(json.loads(summary[k]) == v, "summary", k, summary[k], v)
        elif isinstance(v, bool):
            need(summary[k] == int(v), "summary", k)
        elif isinstance(v, float):
            need(bits(float(summary[k])) == bits(v), "summary", k, summary[k], v)
        else:
            need(summary[k] == v, "summary", k, summary[k], v)
    hstep, hwall, hp = got["hparams_end"]
    sei = hp.session_end_info
    want = pb.STATUS_SUCCESS if run[1] == "finished" else pb.STATUS_FAILURE
    need(sei.status == want and sei.end_time_secs == run[3] and hstep == step, "end info", hp)


def cmd_layout(logdir, db, run_id, scalars):
    got = read_run(logdir, run_id)
    numbers = got["kinds"] - {"str", "json"}
    if scalars == "double":
        need(numbers <= {"real", "int"}, "scalars=double wrote", sorted(numbers))
    else:
        need(scalars == "float" and numbers <= {"float", "exact-real", "exact-int"},
             "scalars=float wrote", sorted(numbers))
    need(numbers, "no numbers")
    steps, run, params, summary = sqlite_steps(db, run_id)
    need(run is not None, "run", run_id, "not in sqlite")
    first = got["ids"][0]
    need(first["run_id"] == run_id and first["experiment"] == run[0] and
         first["started_at"] == run[2] and first["host"] == run[4] and first["pid"] == run[5],
         "identity", first, "vs sqlite", run)
    need(set(got["steps"]) == set(steps), "steps", sorted(got["steps"]), "vs sqlite",
         sorted(steps))
    values = 0
    for step, (wall, fields) in got["steps"].items():
        sq_time, sq_fields = steps[step]
        need(bits(wall) == bits(sq_time), "step", step, "time", wall, "vs", sq_time)
        need(set(fields) == set(sq_fields), "step", step, "keys", sorted(fields), "vs",
             sorted(sq_fields))
        for key, tb in fields.items():
            same_value(key, tb, sq_fields[key])
            values += 1
    n_hp = check_config(got, run, params)
    check_end(got, run, summary)
    print("OK %d steps, %d values, %d hparams, status %s; every CRC and byte layout checked"
          % (len(got["steps"]), values, n_hp, run[1]))


def cmd_attempts(logdir, run_id):
    out = []
    for path in run_files(logdir, run_id):
        got = new_got()
        read_file(path, got)
        ident = got["ids"][0]
        need(len(got["ids"]) == 1, path, "has", len(got["ids"]), "identity records")
        attempt = ident.get("attempt", 1)
        need(got["start"] == (ident["from_step"] if attempt > 1 else None), path,
             "START at", got["start"], "for attempt", attempt, "from", ident["from_step"])
        out.append({"file": os.path.basename(path), "attempt": attempt,
                    "from_step": ident["from_step"], "start": got["start"],
                    "steps": got["step_list"], "marks": [m[2] for m in got["marks"]],
                    "notes": [n[2] for n in got["notes"]], "system": [x[2] for x in got["system"]],
                    "name": ident["name"], "folder": ident["folder"],
                    "dir": os.path.basename(os.path.dirname(path)),
                    "end": got["end"][2]["status"] if got["end"] else None})
    print("OK " + json.dumps(out))


OURS = ("_tropt_/run", "_tropt_/end", "_tropt_/config", "_tropt_/annotate",
        "_tropt_/checkpoint", "_tropt_/system", "_hparams_/")


def cmd_torn(logdir, run_id):
    steps = []
    torn = 0
    for path in run_files(logdir, run_id):
        for off, data in records(path, allow_torn=True):
            if data is None:
                torn += 1
                continue
            ev = pb.Event.FromString(data)
            need(ev.SerializeToString(deterministic=True) == data, "layout at", off)
            if ev.WhichOneof("what") == "summary" and not any(
                    v.tag.startswith(OURS) for v in ev.summary.value):
                steps.append(ev.step)
    need(steps == sorted(steps), "steps out of order")
    print("OK %d %d" % (len(steps), torn))


# ---- files in the layouts of TensorBoard's own writers -------------------------------------

class Writer:
    """Events into a file, framed; `damage` changes a record's bytes."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.add(pb.Event(wall_time=1700000000.0, file_version="brain.Event:2"))

    def add(self, ev, corrupt=None, cut=0):
        rec = bytearray(frame(ev.SerializeToString()))
        if corrupt == "data":
            rec[14] ^= 0xFF
        elif corrupt == "length":
            rec[9] ^= 0xFF
        self.f.write(bytes(rec[:len(rec) - cut]))

    def close(self):
        self.f.close()


def simple(tag, x):
    return pb.Summary.Value(tag=tag, simple_value=x)


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def scalar_tensor(tag, x, dtype, content, meta):
    """As TF2's tf.summary.scalar (float tensor_content) or other writers."""
    t = pb.TensorProto(dtype=dtype, tensor_shape=pb.TensorShapeProto())
    if content:
        t.tensor_content = struct.pack("<f" if dtype == pb.DT_FLOAT else "<d", x)
    elif dtype == pb.DT_FLOAT:
        t.float_val.append(x)
    else:
        t.double_val.append(x)
    v = pb.Summary.Value(tag=tag, tensor=t)
    if meta:
        v.metadata.CopyFrom(SCALARS_META)
    return v


def text_value(tag, s, rank1):
    """torch/tensorboardX add_text: rank 1 of one string; TF2: rank 0."""
    shape = pb.TensorShapeProto(dim=[pb.TensorShapeProto.Dim(size=1)] if rank1 else [])
    t = pb.TensorProto(dtype=pb.DT_STRING, tensor_shape=shape, string_val=[s.encode()])
    return pb.Summary.Value(tag=tag, tensor=t, metadata=TEXT_META)


def ev_of(step, wall, *values):
    return pb.Event(step=step, wall_time=wall, summary=pb.Summary(value=list(values)))


def foreign_tbx(d):
    """tensorboardX / torch.utils.tensorboard: one event per add_scalar,
    simple_value, no metadata; add_text; a histogram; a graph."""
    os.makedirs(d)
    w = Writer(os.path.join(d, "events.out.tfevents.1700000000.myhost.4242.0"))
    steps = []
    w.add(pb.Event(wall_time=1700000000.5, graph_def=b"\x0a\x03abc"))
    for s in range(5):
        wall = 1700000001.0 + s
        loss, acc = 1.0 / (s + 1), 0.1 * s
        w.add(ev_of(s, wall, simple("loss", loss)))
        w.add(ev_of(s, wall + 0.25, simple("acc/top1", acc)))
        fields = {"loss": ["real", f32(loss)], "acc/top1": ["real", f32(acc)]}
        if s == 1:
            h = pb.HistogramProto(min=0, max=1, num=2, bucket_limit=[1.0], bucket=[2.0])
            w.add(ev_of(s, wall, pb.Summary.Value(tag="weights", histo=h)))
        if s == 2:
            w.add(ev_of(s, wall, text_value("note", "lr halved ✓", True)))
            fields["note"] = ["str", "lr halved ✓"]
        steps.append([s, wall, fields])
    w.close()
    return {"steps": steps, "skipped": 2, "bad": 0, "torn": 0, "host": "myhost", "pid": 4242}


def foreign_tf2(d):
    """TensorFlow 2: scalars as rank-0 DT_FLOAT tensors with the scalars
    metadata on the first value only, a DT_DOUBLE one, text rank 0,
    hparams."""
    os.makedirs(d)
    w = Writer(os.path.join(d, "events.out.tfevents.1700000100.tf-host.example.com.777.1.v2"))
    hp = pb.HParamsPluginData(session_start_info=pb.SessionStartInfo(start_time_secs=1700000100))
    hp.session_start_info.hparams["lr"].number_value = 0.01
    hp.session_start_info.hparams["optimizer"].string_value = "adam"
    hp.session_start_info.hparams["nesterov"].bool_value = True
    null = pb.TensorProto(dtype=pb.DT_FLOAT, tensor_shape=pb.TensorShapeProto(
        dim=[pb.TensorShapeProto.Dim()]))
    meta = pb.SummaryMetadata(plugin_data=pb.SummaryMetadata.PluginData(
        plugin_name="hparams", content=hp.SerializeToString()))
    w.add(ev_of(0, 1700000100.0, pb.Summary.Value(tag="_hparams_/session_start_info",
                                                  tensor=null, metadata=meta)))
    steps = []
    for s in range(4):
        wall = 1700000101.0 + s
        x, y = 0.5 + s, 1.0 / 3.0 + s
        w.add(ev_of(s, wall, scalar_tensor("epoch_loss", x, pb.DT_FLOAT, s % 2 == 0, s == 0)))
        w.add(ev_of(s, wall, scalar_tensor("exact", y, pb.DT_DOUBLE, s % 2 == 1, s == 0)))
        fields = {"epoch_loss": ["real", f32(x)], "exact": ["real", y]}
        if s == 3:
            w.add(ev_of(s, wall, text_value("summary_text", "done", False)))
            fields["summary_text"] = ["str", "done"]
        steps.append([s, wall, fields])
    w.close()
    config = {"lr": 0.01, "optimizer": "adam", "nesterov": True}
    return {"steps": steps, "skipped": 0, "bad": 0, "torn": 0, "host": "tf-host.example.com",
            "pid": 777, "config": config}


def foreign_damaged(d):
    """A bad data CRC in the middle (skipped, reading on), a truncated last
    record (skipped); a second file whose length CRC breaks (the file ends
    there)."""
    os.makedirs(d)
    w = Writer(os.path.join(d, "events.out.tfevents.1700000200.h.1.0"))
    steps = []
    for s in range(10):
        wall = 1700000201.0 + s
        corrupt = "data" if s == 4 else None
        cut = 7 if s == 9 else 0
        w.add(ev_of(s, wall, simple("x", float(s))), corrupt=corrupt, cut=cut)
        if s != 4 and s != 9:
            steps.append([s, wall, {"x": ["real", float(s)]}])
    w.close()
    w = Writer(os.path.join(d, "events.out.tfevents.1700000300.h.1.1"))
    for s in range(10, 14):
        wall = 1700000301.0 + s
        w.add(ev_of(s, wall, simple("y", float(s))), corrupt="length" if s == 12 else None)
        if s < 12:
            steps.append([s, wall, {"y": ["real", float(s)]}])
    w.close()
    return {"steps": steps, "skipped": 0, "bad": 2, "torn": 1, "host": "h", "pid": 1}


def foreign_restart(d):
    """A restart: SessionLog START at step 5 in a second file drops the first
    file's steps from 5 on; a step going back without a marker (6 after 8)
    drops the same file's earlier steps from 6 on."""
    os.makedirs(d)
    a = Writer(os.path.join(d, "events.out.tfevents.1700000400.h.2.0"))
    for s in range(10):
        a.add(ev_of(s, 1700000400.0 + s, simple("v", float(s))))
    a.close()
    b = Writer(os.path.join(d, "events.out.tfevents.1700000500.h.3.0"))
    b.add(pb.Event(step=5, wall_time=1700000500.0,
                   session_log=pb.SessionLog(status=pb.SessionLog.START)))
    for s in [5, 6, 7, 8]:
        b.add(ev_of(s, 1700000500.0 + s, simple("v", 100.0 + s)))
    for s in [6, 7]:
        b.add(ev_of(s, 1700000600.0 + s, simple("v", 200.0 + s)))
    b.close()
    steps = [[s, 1700000400.0 + s, {"v": ["real", float(s)]}] for s in range(5)]
    steps += [[5, 1700000505.0, {"v": ["real", 105.0]}]]
    steps += [[s, 1700000600.0 + s, {"v": ["real", 200.0 + s]}] for s in [6, 7]]
    return {"steps": steps, "skipped": 0, "bad": 0, "torn": 0, "host": "h", "pid": 2}


def cmd_foreign(d):
    out = {}
    for name, make in [("tbx/run1", foreign_tbx), ("tf2/train", foreign_tf2),
                       ("damaged/run", foreign_damaged), ("restart/run", foreign_restart)]:
        path = os.path.join(d, name)
        want = make(path)
        want["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, "file://" + os.path.realpath(path)))
        want["name"] = os.path.basename(path)
        want["experiment"] = os.path.dirname(name)
        out[name] = want
    print(json.dumps(out))


def main(argv):
    try:
        if argv[1] == "layout":
            cmd_layout(argv[2], argv[3], argv[4], argv[5])
        elif argv[1] == "attempts":
            cmd_attempts(argv[2], argv[3])
        elif argv[1] == "torn":
            cmd_torn(argv[2], argv[3])
        elif argv[1] == "foreign":
            cmd_foreign(argv[2])
        elif argv[1] == "uuid":
            print(uuid.uuid5(uuid.NAMESPACE_URL, "file://" + os.path.realpath(argv[2])))
        else:
            raise Fail("unknown command " + argv[1])
    except Fail as e:
        print("FAIL", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
