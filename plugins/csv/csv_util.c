/*
 * plugins/csv/csv_util.c - small helpers shared by the csv backend: allocation, paths, the
 * closer thread that closes replaced files.
 * See csv_priv.h for the state and who updates it.
 */
#include "csv_priv.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

static void *closer_main(void *arg)
{
    closer *cl = arg;
    int fds[CLOSER_MAX];
    pthread_mutex_lock(&cl->mu);
    for (;;) {
        while (cl->n == 0 && !cl->stop)
            pthread_cond_wait(&cl->cv, &cl->mu);
        if (cl->n == 0)
            break; /* stop, and nothing left */
        int n = cl->n;
        memcpy(fds, cl->fds, (size_t)n * sizeof *fds);
        cl->n = 0;
        pthread_mutex_unlock(&cl->mu);
        for (int i = 0; i < n; i++)
            close(fds[i]);
        pthread_mutex_lock(&cl->mu);
    }
    pthread_mutex_unlock(&cl->mu);
    return NULL;
}

/* Close fd, on the helper thread when it runs and has room. */
void close_later(closer *cl, int fd)
{
    pthread_mutex_lock(&cl->mu);
    if (!cl->started && pthread_create(&cl->th, NULL, closer_main, cl) == 0)
        cl->started = 1;
    if (cl->started && cl->n < CLOSER_MAX) {
        cl->fds[cl->n++] = fd;
        pthread_cond_signal(&cl->cv);
        fd = -1;
    }
    pthread_mutex_unlock(&cl->mu);
    if (fd >= 0)
        close(fd);
}

/* Wait for every pending close and end the thread. */
void closer_stop(closer *cl)
{
    pthread_mutex_lock(&cl->mu);
    int started = cl->started;
    cl->stop = 1;
    pthread_cond_signal(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
    if (started)
        pthread_join(cl->th, NULL);
    cl->started = cl->stop = 0;
}

int oom(csv *c)
{
    return c->h->error(TROPT_ENOMEM, "out of memory");
}

char *joinpath(csv *c, const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *p = c->h->malloc(na + nb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, na);
    p[na] = '/';
    memcpy(p + na + 1, b, nb + 1);
    return p;
}
