/* tests/spool_tu.c - see spool_tu.h. */
#include "spool_tu.h"

#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

char *stu_hint_of(const char *text)
{
    const char *at = strstr(text, "send them with: ");
    ck_assert_msg(at != NULL, "no replay command in:\n%s", text);
    at += strlen("send them with: ");
    return strndup(at, strcspn(at, "\n"));
}

void stu_cut_advice(char *hint, const char *prefix)
{
    char *at = strstr(hint, prefix);
    ck_assert_msg(at != NULL, "no advice '%s' after the command: %s", prefix, hint);
    *at = '\0';
}

void stu_cli_on_path(void)
{
    const char *cli = getenv("TROPT_CLI");
    ck_assert_msg(cli && strchr(cli, '/'), "TROPT_CLI is not set");
    char *dir = strdup(cli);
    *strrchr(dir, '/') = '\0';
    const char *path = getenv("PATH");
    char *full = tu_strdupf("%s:%s", dir, path ? path : "/usr/bin:/bin");
    setenv("PATH", full, 1);
    free(full);
    free(dir);
}

char *stu_snapshot(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    char *all = strdup("");
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            char *p = tu_path(dir, names[i]->d_name);
            char *s = tu_read_file(p, NULL);
            char *next = tu_strdupf("%s%s\n%s\n", all, names[i]->d_name, s ? s : "(unreadable)");
            free(all);
            all = next;
            free(s);
            free(p);
        }
        free(names[i]);
    }
    if (n >= 0)
        free(names);
    return all;
}

static void count_line(json_t *o, const char *run_id, int *seen, int max, stu_events *ev)
{
    const char *type = json_string_value(json_object_get(o, "type"));
    const char *id = json_string_value(json_object_get(o, "run_id"));
    ck_assert_msg(type && id, "a spool line without type or run_id");
    if (strcmp(id, run_id) != 0)
        return;
    if (strcmp(type, "run_start") == 0)
        ev->starts++;
    else if (strcmp(type, "run_end") == 0)
        ev->ends++;
    else {
        json_int_t k = json_integer_value(json_object_get(o, "step"));
        ck_assert_msg(k >= 0 && k < max, "step %lld in the spool", (long long)k);
        seen[k]++;
        ev->logs++;
    }
}

stu_events stu_spool_events(const char *dir, const char *run_id, int *seen, int max)
{
    stu_events ev = {0, 0, 0};
    memset(seen, 0, (size_t)max * sizeof *seen);
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        char *p = tu_path(dir, names[i]->d_name);
        char *text = names[i]->d_name[0] != '.' ? tu_read_file(p, NULL) : NULL;
        for (char *line = text; line && *line;) {
            size_t len = strcspn(line, "\n");
            json_t *o = json_loadb(line, len, 0, NULL);
            ck_assert_msg(o != NULL, "%s: not JSON: %.*s", p, (int)len, line);
            count_line(o, run_id, seen, max, &ev);
            json_decref(o);
            line += len + (line[len] == '\n');
        }
        free(text);
        free(p);
        free(names[i]);
    }
    if (n >= 0)
        free(names);
    return ev;
}

char *stu_replay_fails(const char *hint, const char *spool)
{
    char *before = stu_snapshot(spool);
    char *cwd = tu_mkdtemp();
    char *cmd = tu_strdupf("cd '%s' && %s", cwd, hint);
    char *out = NULL;
    int rc = tu_run(cmd, &out, 1);
    ck_assert_msg(rc != 0, "a replay that delivered nothing exited 0:\n%s\n%s", hint, out);
    char *after = stu_snapshot(spool);
    ck_assert_str_eq(after, before);
    char *here = stu_snapshot(cwd);
    ck_assert_msg(!*here, "the replay wrote where it ran:\n%s", here);
    free(here);
    free(after);
    free(cmd);
    tu_rmtree(cwd);
    free(cwd);
    free(before);
    return out;
}
