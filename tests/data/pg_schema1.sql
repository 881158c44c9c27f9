--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: fixture1; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA fixture1;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: tropt_key; Type: TABLE; Schema: fixture1; Owner: -
--

CREATE TABLE fixture1.tropt_key (
    id integer NOT NULL,
    key text NOT NULL
);


--
-- Name: tropt_log; Type: TABLE; Schema: fixture1; Owner: -
--

CREATE TABLE fixture1.tropt_log (
    run integer NOT NULL,
    step bigint NOT NULL,
    "time" double precision NOT NULL,
    keys integer[] NOT NULL,
    kinds smallint[] NOT NULL,
    r double precision[] NOT NULL,
    i bigint[] NOT NULL,
    t text[] NOT NULL
);


--
-- Name: tropt_run; Type: TABLE; Schema: fixture1; Owner: -
--

CREATE TABLE fixture1.tropt_run (
    id integer NOT NULL,
    run_id text NOT NULL,
    experiment text NOT NULL,
    status text NOT NULL,
    started_at double precision NOT NULL,
    ended_at double precision,
    host text NOT NULL,
    pid bigint NOT NULL,
    config text,
    heartbeat double precision NOT NULL,
    stale_after double precision NOT NULL
);


--
-- Name: metrics; Type: VIEW; Schema: fixture1; Owner: -
--

CREATE VIEW fixture1.metrics AS
 SELECT u.run_id,
    l.step,
    l."time",
    k.key,
    x.r AS value,
    x.i AS value_int,
    x.t AS value_text,
        CASE x.kind
            WHEN 0 THEN 'null'::text
            WHEN 1 THEN 'bool'::text
            WHEN 2 THEN 'int'::text
            WHEN 3 THEN 'real'::text
            WHEN 4 THEN 'string'::text
            ELSE 'json'::text
        END AS kind
   FROM (((fixture1.tropt_log l
     JOIN fixture1.tropt_run u ON ((u.id = l.run)))
     CROSS JOIN LATERAL UNNEST(l.keys, l.kinds, l.r, l.i, l.t) x(key, kind, r, i, t))
     JOIN fixture1.tropt_key k ON ((k.id = x.key)));


--
-- Name: tropt_param; Type: TABLE; Schema: fixture1; Owner: -
--

CREATE TABLE fixture1.tropt_param (
    run_id text NOT NULL,
    key text NOT NULL,
    kind smallint NOT NULL,
    r double precision,
    i bigint,
    t text
);


--
-- Name: params; Type: VIEW; Schema: fixture1; Owner: -
--

CREATE VIEW fixture1.params AS
 SELECT tropt_param.run_id,
    tropt_param.key,
    tropt_param.r AS value,
    tropt_param.i AS value_int,
    tropt_param.t AS value_text,
        CASE tropt_param.kind
            WHEN 0 THEN 'null'::text
            WHEN 1 THEN 'bool'::text
            WHEN 2 THEN 'int'::text
            WHEN 3 THEN 'real'::text
            WHEN 4 THEN 'string'::text
            ELSE 'json'::text
        END AS kind
   FROM fixture1.tropt_param;


--
-- Name: runs; Type: VIEW; Schema: fixture1; Owner: -
--

CREATE VIEW fixture1.runs AS
 SELECT tropt_run.run_id,
    tropt_run.experiment,
        CASE
            WHEN ((tropt_run.status = 'running'::text) AND (tropt_run.heartbeat < ((EXTRACT(epoch FROM clock_timestamp()))::double precision - tropt_run.stale_after))) THEN 'crashed'::text
            ELSE tropt_run.status
        END AS status,
    tropt_run.started_at,
        CASE
            WHEN ((tropt_run.status = 'running'::text) AND (tropt_run.heartbeat < ((EXTRACT(epoch FROM clock_timestamp()))::double precision - tropt_run.stale_after))) THEN tropt_run.heartbeat
            ELSE tropt_run.ended_at
        END AS ended_at,
    tropt_run.host,
    tropt_run.pid,
    tropt_run.config,
    tropt_run.heartbeat
   FROM fixture1.tropt_run;


--
-- Name: tropt_summary; Type: TABLE; Schema: fixture1; Owner: -
--

CREATE TABLE fixture1.tropt_summary (
    run_id text NOT NULL,
    key text NOT NULL,
    kind smallint NOT NULL,
    r double precision,
    i bigint,
    t text
);


--
-- Name: summary; Type: VIEW; Schema: fixture1; Owner: -
--

CREATE VIEW fixture1.summary AS
 SELECT tropt_summary.run_id,
    tropt_summary.key,
    tropt_summary.r AS value,
    tropt_summary.i AS value_int,
    tropt_summary.t AS value_text,
        CASE tropt_summary.kind
            WHEN 0 THEN 'null'::text
            WHEN 1 THEN 'bool'::text
            WHEN 2 THEN 'int'::text
            WHEN 3 THEN 'real'::text
            WHEN 4 THEN 'string'::text
            ELSE 'json'::text
        END AS kind
   FROM fixture1.tropt_summary;


--
-- Name: tropt_key_id_seq; Type: SEQUENCE; Schema: fixture1; Owner: -
--

ALTER TABLE fixture1.tropt_key ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME fixture1.tropt_key_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: tropt_run_id_seq; Type: SEQUENCE; Schema: fixture1; Owner: -
--

ALTER TABLE fixture1.tropt_run ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME fixture1.tropt_run_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: tropt_version; Type: TABLE; Schema: fixture1; Owner: -
--

CREATE TABLE fixture1.tropt_version (
    version integer NOT NULL
);


--
-- Data for Name: tropt_key; Type: TABLE DATA; Schema: fixture1; Owner: -
--

INSERT INTO fixture1.tropt_key OVERRIDING SYSTEM VALUE VALUES (1, 'loss');
INSERT INTO fixture1.tropt_key OVERRIDING SYSTEM VALUE VALUES (2, 'tokens');
INSERT INTO fixture1.tropt_key OVERRIDING SYSTEM VALUE VALUES (3, 'ok');
INSERT INTO fixture1.tropt_key OVERRIDING SYSTEM VALUE VALUES (4, 'phase');
INSERT INTO fixture1.tropt_key OVERRIDING SYSTEM VALUE VALUES (5, 'gnorm');
INSERT INTO fixture1.tropt_key OVERRIDING SYSTEM VALUE VALUES (7, 'neg0');
INSERT INTO fixture1.tropt_key OVERRIDING SYSTEM VALUE VALUES (9, 'big');
INSERT INTO fixture1.tropt_key OVERRIDING SYSTEM VALUE VALUES (10, 'hist');
INSERT INTO fixture1.tropt_key OVERRIDING SYSTEM VALUE VALUES (11, 'empty');
INSERT INTO fixture1.tropt_key OVERRIDING SYSTEM VALUE VALUES (12, 'nul');


--
-- Data for Name: tropt_log; Type: TABLE DATA; Schema: fixture1; Owner: -
--

INSERT INTO fixture1.tropt_log VALUES (1, 0, 1700000002, '{1,2,3,4,5}', '{3,2,1,4,3}', '{2,0,1,NULL,1}', '{NULL,0,1,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 0, 1700000002.125, '{1,7}', '{3,3}', '{0.3333333333333333,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 1, 1700000002.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{1,512,0,NULL,1.25}', '{NULL,512,0,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 1, 1700000002.625, '{1,7}', '{3,3}', '{0.25,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 2, 1700000003, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.6666666666666666,1024,0,NULL,1.5}', '{NULL,1024,0,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 2, 1700000003.125, '{1,7}', '{3,3}', '{0.2,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 3, 1700000003.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.5,1536,1,NULL,1.75}', '{NULL,1536,1,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 3, 1700000003.625, '{1,7}', '{3,3}', '{0.16666666666666666,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 4, 1700000004, '{}', '{}', '{}', '{}', '{}');
INSERT INTO fixture1.tropt_log VALUES (3, 4, 1700000004.125, '{1,7}', '{3,3}', '{0.14285714285714285,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 5, 1700000004.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.3333333333333333,2560,0,NULL,Infinity}', '{NULL,2560,0,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 5, 1700000004.625, '{1,7}', '{3,3}', '{0.125,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 6, 1700000005, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.2857142857142857,3072,1,NULL,-Infinity}', '{NULL,3072,1,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 0, 1700000002.25, '{1,9}', '{3,2}', '{3,9.223372036854776e+18}', '{NULL,9223372036854775807}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 2, 1700000002.75, '{1,9}', '{3,2}', '{2.9375,9.223372036854776e+18}', '{NULL,9223372036854775806}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 4, 1700000003.25, '{1,9}', '{3,2}', '{2.875,9.223372036854776e+18}', '{NULL,9223372036854775805}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 6, 1700000003.75, '{1,9}', '{3,2}', '{2.8125,9.223372036854776e+18}', '{NULL,9223372036854775804}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 8, 1700000004.25, '{1,9}', '{3,2}', '{2.75,9.223372036854776e+18}', '{NULL,9223372036854775803}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 10, 1700000004.75, '{1,9}', '{3,2}', '{2.6875,9.223372036854776e+18}', '{NULL,9223372036854775802}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 12, 1700000005.25, '{1,9}', '{3,2}', '{2.625,9.223372036854776e+18}', '{NULL,9223372036854775801}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 6, 1700000005.125, '{1,7}', '{3,3}', '{0.1111111111111111,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 7, 1700000005.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.25,3584,0,NULL,2.75}', '{NULL,3584,0,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 7, 1700000005.625, '{1,7}', '{3,3}', '{0.1,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 8, 1700000006, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.2222222222222222,4096,0,NULL,3}', '{NULL,4096,0,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 8, 1700000006.125, '{1,7}', '{3,3}', '{0.09090909090909091,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 9, 1700000006.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.2,4608,1,NULL,3.25}', '{NULL,4608,1,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 9, 1700000006.625, '{1,7}', '{3,3}', '{0.08333333333333333,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 10, 1700000007, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.18181818181818182,5120,0,NULL,3.5}', '{NULL,5120,0,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 10, 1700000007.125, '{1,7}', '{3,3}', '{0.07692307692307693,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 11, 1700000007.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.16666666666666666,5632,0,NULL,3.75}', '{NULL,5632,0,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 11, 1700000007.625, '{1,7}', '{3,3}', '{0.07142857142857142,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 12, 1700000008, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.15384615384615385,6144,1,NULL,4}', '{NULL,6144,1,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 12, 1700000008.125, '{1,7}', '{3,3}', '{0.06666666666666667,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 13, 1700000008.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.14285714285714285,6656,0,NULL,4.25}', '{NULL,6656,0,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 14, 1700000005.75, '{1,9}', '{3,2}', '{2.5625,9.223372036854776e+18}', '{NULL,9223372036854775800}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 16, 1700000006.25, '{1,9}', '{3,2}', '{2.5,9.223372036854776e+18}', '{NULL,9223372036854775799}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 18, 1700000006.75, '{1}', '{3}', '{2.4375}', '{NULL}', '{NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 20, 1700000007.25, '{1,9}', '{3,2}', '{2.375,9.223372036854776e+18}', '{NULL,9223372036854775797}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 22, 1700000007.75, '{1,9}', '{3,2}', '{2.3125,9.223372036854776e+18}', '{NULL,9223372036854775796}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 24, 1700000008.25, '{1,9}', '{3,2}', '{2.25,9.223372036854776e+18}', '{NULL,9223372036854775795}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 26, 1700000008.75, '{1,9}', '{3,2}', '{2.1875,9.223372036854776e+18}', '{NULL,9223372036854775794}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 28, 1700000009.25, '{1,9}', '{3,2}', '{2.125,9.223372036854776e+18}', '{NULL,9223372036854775793}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 30, 1700000009.75, '{1,9}', '{3,2}', '{2.0625,9.223372036854776e+18}', '{NULL,9223372036854775792}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 32, 1700000010.25, '{1,9}', '{3,2}', '{2,9.223372036854776e+18}', '{NULL,9223372036854775791}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 34, 1700000010.75, '{1,9}', '{3,2}', '{1.9375,9.223372036854776e+18}', '{NULL,9223372036854775790}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 36, 1700000011.25, '{1,9}', '{3,2}', '{1.875,9.223372036854776e+18}', '{NULL,9223372036854775789}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 38, 1700000011.75, '{1,9}', '{3,2}', '{1.8125,9.223372036854776e+18}', '{NULL,9223372036854775788}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 40, 1700000012.25, '{1,9}', '{3,2}', '{1.75,9.223372036854776e+18}', '{NULL,9223372036854775787}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 42, 1700000012.75, '{1,9}', '{3,2}', '{1.6875,9.223372036854776e+18}', '{NULL,9223372036854775786}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 44, 1700000013.25, '{1,9}', '{3,2}', '{1.625,9.223372036854776e+18}', '{NULL,9223372036854775785}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 46, 1700000013.75, '{1,9}', '{3,2}', '{1.5625,9.223372036854776e+18}', '{NULL,9223372036854775784}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 48, 1700000014.25, '{1,9}', '{3,2}', '{1.5,9.223372036854776e+18}', '{NULL,9223372036854775783}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 50, 1700000014.75, '{1,9}', '{3,2}', '{1.4375,9.223372036854776e+18}', '{NULL,9223372036854775782}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 52, 1700000015.25, '{1,9}', '{3,2}', '{1.375,9.223372036854776e+18}', '{NULL,9223372036854775781}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 54, 1700000015.75, '{1,9}', '{3,2}', '{1.3125,9.223372036854776e+18}', '{NULL,9223372036854775780}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 56, 1700000016.25, '{1,9}', '{3,2}', '{1.25,9.223372036854776e+18}', '{NULL,9223372036854775779}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 58, 1700000016.75, '{1,9}', '{3,2}', '{1.1875,9.223372036854776e+18}', '{NULL,9223372036854775778}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 60, 1700000017.25, '{1,9}', '{3,2}', '{1.125,9.223372036854776e+18}', '{NULL,9223372036854775777}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 62, 1700000017.75, '{1,9}', '{3,2}', '{1.0625,9.223372036854776e+18}', '{NULL,9223372036854775776}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 64, 1700000018.25, '{1,9}', '{3,2}', '{1,9.223372036854776e+18}', '{NULL,9223372036854775775}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 66, 1700000018.75, '{1,9}', '{3,2}', '{0.9375,9.223372036854776e+18}', '{NULL,9223372036854775774}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 68, 1700000019.25, '{1,9}', '{3,2}', '{0.875,9.223372036854776e+18}', '{NULL,9223372036854775773}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 70, 1700000019.75, '{1,9}', '{3,2}', '{0.8125,9.223372036854776e+18}', '{NULL,9223372036854775772}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 72, 1700000020.25, '{1,9}', '{3,2}', '{0.75,9.223372036854776e+18}', '{NULL,9223372036854775771}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 74, 1700000020.75, '{1,9}', '{3,2}', '{0.6875,9.223372036854776e+18}', '{NULL,9223372036854775770}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 76, 1700000021.25, '{1,9}', '{3,2}', '{0.625,9.223372036854776e+18}', '{NULL,9223372036854775769}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (2, 78, 1700000021.75, '{1,9}', '{3,2}', '{0.5625,9.223372036854776e+18}', '{NULL,9223372036854775768}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 13, 1700000008.625, '{1,7}', '{3,3}', '{0.0625,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 14, 1700000009.125, '{1,7}', '{3,3}', '{0.058823529411764705,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 15, 1700000009.625, '{1,7}', '{3,3}', '{0.05555555555555555,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 16, 1700000010.125, '{1,7}', '{3,3}', '{0.05263157894736842,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 17, 1700000010.625, '{1,7}', '{3,3}', '{0.05,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 18, 1700000011.125, '{1,7}', '{3,3}', '{0.047619047619047616,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 19, 1700000011.625, '{1,7}', '{3,3}', '{0.045454545454545456,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 20, 1700000012.125, '{1,7}', '{3,3}', '{0.043478260869565216,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 21, 1700000012.625, '{1,7}', '{3,3}', '{0.041666666666666664,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 22, 1700000013.125, '{1,7}', '{3,3}', '{0.04,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 23, 1700000013.625, '{1,7}', '{3,3}', '{0.038461538461538464,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (3, 24, 1700000014.125, '{1,7}', '{3,3}', '{0.037037037037037035,-0}', '{NULL,NULL}', '{NULL,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 14, 1700000009, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.13333333333333333,7168,0,NULL,4.5}', '{NULL,7168,0,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 15, 1700000009.5, '{}', '{}', '{}', '{}', '{}');
INSERT INTO fixture1.tropt_log VALUES (1, 16, 1700000010, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.11764705882352941,8192,0,NULL,5}', '{NULL,8192,0,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 17, 1700000010.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{NaN,8704,0,NULL,5.25}', '{NULL,8704,0,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 18, 1700000011, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.10526315789473684,9216,1,NULL,5.5}', '{NULL,9216,1,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 19, 1700000011.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.1,9728,0,NULL,5.75}', '{NULL,9728,0,NULL,NULL}', '{NULL,NULL,NULL,warm,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 20, 1700000012, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.09523809523809523,10240,0,NULL,6}', '{NULL,10240,0,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 21, 1700000012.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.09090909090909091,10752,1,NULL,6.25}', '{NULL,10752,1,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 22, 1700000013, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.08695652173913043,11264,0,NULL,6.5}', '{NULL,11264,0,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 23, 1700000013.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.08333333333333333,11776,0,NULL,6.75}', '{NULL,11776,0,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 24, 1700000014, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.08,12288,1,NULL,7}', '{NULL,12288,1,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 25, 1700000014.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.07692307692307693,12800,0,NULL,7.25}', '{NULL,12800,0,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 26, 1700000015, '{}', '{}', '{}', '{}', '{}');
INSERT INTO fixture1.tropt_log VALUES (1, 27, 1700000015.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.07142857142857142,13824,1,NULL,7.75}', '{NULL,13824,1,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 28, 1700000016, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.06896551724137931,14336,0,NULL,8}', '{NULL,14336,0,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 29, 1700000016.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.06666666666666667,14848,0,NULL,8.25}', '{NULL,14848,0,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 30, 1700000017, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.06451612903225806,15360,1,NULL,8.5}', '{NULL,15360,1,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 31, 1700000017.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.0625,15872,0,NULL,8.75}', '{NULL,15872,0,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 32, 1700000018, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.06060606060606061,16384,0,NULL,9}', '{NULL,16384,0,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 33, 1700000018.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.058823529411764705,16896,1,NULL,9.25}', '{NULL,16896,1,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 34, 1700000019, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.05714285714285714,17408,0,NULL,9.5}', '{NULL,17408,0,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 35, 1700000019.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.05555555555555555,17920,0,NULL,9.75}', '{NULL,17920,0,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 36, 1700000020, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.05405405405405406,18432,1,NULL,10}', '{NULL,18432,1,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 37, 1700000020.5, '{}', '{}', '{}', '{}', '{}');
INSERT INTO fixture1.tropt_log VALUES (1, 38, 1700000021, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.05128205128205128,19456,0,NULL,10.5}', '{NULL,19456,0,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 39, 1700000021.5, '{1,2,3,4,5}', '{3,2,1,4,3}', '{0.05,19968,1,NULL,10.75}', '{NULL,19968,1,NULL,NULL}', '{NULL,NULL,NULL,main,NULL}');
INSERT INTO fixture1.tropt_log VALUES (1, 40, 1700000030, '{10,11,12}', '{5,5,0}', '{NULL,NULL,NULL}', '{NULL,NULL,NULL}', '{"[1,2.5,\"x\"]","{}",NULL}');


--
-- Data for Name: tropt_param; Type: TABLE DATA; Schema: fixture1; Owner: -
--

INSERT INTO fixture1.tropt_param VALUES ('01890a5d-ac96-774b-bcce-b30209920001', 'lr', 3, 0.001, NULL, NULL);
INSERT INTO fixture1.tropt_param VALUES ('01890a5d-ac96-774b-bcce-b30209920001', 'seed', 2, 7, 7, NULL);
INSERT INTO fixture1.tropt_param VALUES ('01890a5d-ac96-774b-bcce-b30209920001', 'opt', 4, NULL, NULL, 'adam');
INSERT INTO fixture1.tropt_param VALUES ('01890a5d-ac96-774b-bcce-b30209920001', 'betas', 5, NULL, NULL, '[0.9,0.999]');
INSERT INTO fixture1.tropt_param VALUES ('01890a5d-ac96-774b-bcce-b30209920001', 'sched/warm', 1, 1, 1, NULL);
INSERT INTO fixture1.tropt_param VALUES ('01890a5d-ac96-774b-bcce-b30209920003', 'width', 2, 64, 64, NULL);


--
-- Data for Name: tropt_run; Type: TABLE DATA; Schema: fixture1; Owner: -
--

INSERT INTO fixture1.tropt_run OVERRIDING SYSTEM VALUE VALUES (1, '01890a5d-ac96-774b-bcce-b30209920001', 'fixture-a', 'finished', 1700000000.5, 1700000040, 'fixture-host', 101, '{"lr":0.001,"seed":7,"opt":"adam","betas":[0.9,0.999],"sched":{"warm":true}}', 1796662631.495922, 40);
INSERT INTO fixture1.tropt_run OVERRIDING SYSTEM VALUE VALUES (2, '01890a5d-ac96-774b-bcce-b30209920002', 'fixture-b', 'aborted', 1700000001.25, 1700000041.5, 'fixture-host', 102, NULL, 1796662631.502787, 40);
INSERT INTO fixture1.tropt_run OVERRIDING SYSTEM VALUE VALUES (3, '01890a5d-ac96-774b-bcce-b30209920003', 'fixture-c', 'running', 1700000002.75, NULL, 'other-host', 103, '{"width":64}', 1700000100, 40);


--
-- Data for Name: tropt_summary; Type: TABLE DATA; Schema: fixture1; Owner: -
--

INSERT INTO fixture1.tropt_summary VALUES ('01890a5d-ac96-774b-bcce-b30209920001', 'best', 3, 0.0625, NULL, NULL);
INSERT INTO fixture1.tropt_summary VALUES ('01890a5d-ac96-774b-bcce-b30209920001', 'steps', 2, 41, 41, NULL);


--
-- Data for Name: tropt_version; Type: TABLE DATA; Schema: fixture1; Owner: -
--

INSERT INTO fixture1.tropt_version VALUES (1);


--
-- Name: tropt_key_id_seq; Type: SEQUENCE SET; Schema: fixture1; Owner: -
--

SELECT pg_catalog.setval('fixture1.tropt_key_id_seq', 12, true);


--
-- Name: tropt_run_id_seq; Type: SEQUENCE SET; Schema: fixture1; Owner: -
--

SELECT pg_catalog.setval('fixture1.tropt_run_id_seq', 3, true);


--
-- Name: tropt_key tropt_key_key_key; Type: CONSTRAINT; Schema: fixture1; Owner: -
--

ALTER TABLE ONLY fixture1.tropt_key
    ADD CONSTRAINT tropt_key_key_key UNIQUE (key);


--
-- Name: tropt_key tropt_key_pkey; Type: CONSTRAINT; Schema: fixture1; Owner: -
--

ALTER TABLE ONLY fixture1.tropt_key
    ADD CONSTRAINT tropt_key_pkey PRIMARY KEY (id);


--
-- Name: tropt_log tropt_log_pkey; Type: CONSTRAINT; Schema: fixture1; Owner: -
--

ALTER TABLE ONLY fixture1.tropt_log
    ADD CONSTRAINT tropt_log_pkey PRIMARY KEY (run, step);


--
-- Name: tropt_param tropt_param_pkey; Type: CONSTRAINT; Schema: fixture1; Owner: -
--

ALTER TABLE ONLY fixture1.tropt_param
    ADD CONSTRAINT tropt_param_pkey PRIMARY KEY (run_id, key);


--
-- Name: tropt_run tropt_run_pkey; Type: CONSTRAINT; Schema: fixture1; Owner: -
--

ALTER TABLE ONLY fixture1.tropt_run
    ADD CONSTRAINT tropt_run_pkey PRIMARY KEY (id);


--
-- Name: tropt_run tropt_run_run_id_key; Type: CONSTRAINT; Schema: fixture1; Owner: -
--

ALTER TABLE ONLY fixture1.tropt_run
    ADD CONSTRAINT tropt_run_run_id_key UNIQUE (run_id);


--
-- Name: tropt_summary tropt_summary_pkey; Type: CONSTRAINT; Schema: fixture1; Owner: -
--

ALTER TABLE ONLY fixture1.tropt_summary
    ADD CONSTRAINT tropt_summary_pkey PRIMARY KEY (run_id, key);


--
-- PostgreSQL database dump complete
--


