/*
 * plugins/tensorboard/tb_format.h - the names and numbers of the event file
 * format this backend writes and reads (TensorFlow's event.proto,
 * summary.proto, tensor.proto, types.proto; TensorBoard's scalar, text and
 * hparams plugins), and the tags of its own records.  See README.md for
 * the byte layouts.
 */
#ifndef TROPT_TB_FORMAT_H
#define TROPT_TB_FORMAT_H

/* Event (event.proto) */
enum {
    EV_WALL_TIME = 1,    /* double */
    EV_STEP = 2,         /* int64 */
    EV_FILE_VERSION = 3, /* string */
    EV_GRAPH_DEF = 4,
    EV_SUMMARY = 5, /* Summary */
    EV_LOG_MESSAGE = 6,
    EV_SESSION_LOG = 7, /* SessionLog */
    EV_TAGGED_RUN_METADATA = 8,
    EV_META_GRAPH_DEF = 9,
    EV_SOURCE_METADATA = 10
};
/* SessionLog.status (1) */
enum {
    SESSION_STATUS_UNSPECIFIED = 0,
    SESSION_START = 1,
    SESSION_STOP = 2,
    SESSION_CHECKPOINT = 3
};
/* Summary.value (1) is a Value: */
enum {
    SV_TAG = 1,          /* string */
    SV_SIMPLE_VALUE = 2, /* float */
    SV_OBSOLETE_HISTO = 3,
    SV_IMAGE = 4,
    SV_HISTO = 5,
    SV_AUDIO = 6,
    SV_NODE_NAME = 7,
    SV_TENSOR = 8,  /* TensorProto */
    SV_METADATA = 9 /* SummaryMetadata: plugin_data (1) = {plugin_name (1), content (2)} */
};
/* TensorProto (tensor.proto) */
enum {
    TP_DTYPE = 1,
    TP_SHAPE = 2, /* TensorShapeProto: dim (2) = {size (1)} */
    TP_CONTENT = 4,
    TP_FLOAT_VAL = 5,
    TP_DOUBLE_VAL = 6,
    TP_INT_VAL = 7,
    TP_STRING_VAL = 8,
    TP_INT64_VAL = 10,
    TP_BOOL_VAL = 11,
    TP_HALF_VAL = 13
};
/* DataType (types.proto) */
enum {
    DT_FLOAT = 1,
    DT_DOUBLE = 2,
    DT_INT32 = 3,
    DT_STRING = 7,
    DT_INT64 = 9,
    DT_BOOL = 10,
    DT_HALF = 19
};
/* hparams plugin_data.proto: HParamsPluginData {version (1),
 * session_start_info (3), session_end_info (4)}; SessionStartInfo {hparams
 * (1) map<string, google.protobuf.Value>, start_time_secs (5)};
 * SessionEndInfo {status (1), end_time_secs (2)}; google.protobuf.Value
 * {null_value (1), number_value (2), string_value (3), bool_value (4)};
 * api.proto Status: */
enum { HP_STATUS_UNKNOWN = 0, HP_STATUS_SUCCESS = 1, HP_STATUS_FAILURE = 2, HP_STATUS_RUNNING = 3 };

#define TB_FILE_VERSION "brain.Event:2"
#define TB_PLUGIN_SCALARS "scalars"
#define TB_PLUGIN_TEXT "text"
#define TB_PLUGIN_HPARAMS "hparams"
#define TB_TAG_HP_START "_hparams_/session_start_info"
#define TB_TAG_HP_END "_hparams_/session_end_info"

/* The file names TensorBoard reads: every file of a run folder whose name
 * holds this. */
#define TB_FILE_MARK "tfevents"
#define TB_FILE_PREFIX "events.out.tfevents."

/* Our own records: text summaries under this reserved prefix. */
#define TB_PREFIX "_tropt_/"
#define TB_TAG_RUN TB_PREFIX "run"       /* a run (an attempt) starts: JSON */
#define TB_TAG_END TB_PREFIX "end"       /* the run ends: JSON */
#define TB_TAG_CONFIG TB_PREFIX "config" /* the config for people (Markdown) */
#define TB_PFX_JSON TB_PREFIX "json/"    /* a null, bool or JSON field, as JSON */
#define TB_PFX_KEY TB_PREFIX "key/"      /* a user key that starts with TB_PREFIX */
#define TB_PFX_EXACT TB_PREFIX "exact/"  /* scalars=float: a number's exact value */
/* ABI 1.2: event-format lines (tev_encode_*, one JSON object each) as
 * rank-0 DT_STRING tensors without any plugin's metadata (TensorBoard
 * shows them nowhere) */
#define TB_TAG_ANNOTATE TB_PREFIX "annotate"     /* a metadata change */
#define TB_TAG_CHECKPOINT TB_PREFIX "checkpoint" /* a checkpoint mark */
#define TB_TAG_SYSTEM                                                                              \
    TB_PREFIX "system" /* system samples, the Event's first value; its                             \
                          others are the samples as DT_FLOAT scalars */

/* The identity record's format: 2 has the ABI 1.2 members (attempt,
 * from_step, attempt_started_at, pidns, resume_key, provenance). */
#define TB_FORMAT 2

/* The highest attempt number a reader believes (a larger one is damage). */
#define TB_MAX_ATTEMPTS 65536

/* Files of the store besides event files (tb_store.c) */
#define TB_STORE_DIR ".tropt"             /* in the logdir: keys/, deleted/ */
#define TB_CLAIM_PREFIX ".tropt-attempt-" /* in a run folder: an attempt's claim */

#endif
