/*
 * pipeline/cli/progress.c: the extraction's progress bar and its reject / shard-error lines,
 * shared by `graft extract` and `graft finetune` (both run graft_extract_run's machinery and
 * get the same callbacks). It only prints; what the commands print at the end (summaries,
 * epochs) stays in their own files.
 */
#include <stdio.h>

#include "cli.h"

void graft__progress_clear(graft__progress *p) {
    if (p->bar_shown) {
        fputs("\r\033[K", stderr);
        p->bar_shown = 0;
    }
}

static void fmt_eta(char *buf, size_t n, double secs) {
    if (!(secs >= 0) || secs > 99 * 3600) {
        snprintf(buf, n, "--:--");
        return;
    }
    int s = (int)(secs + 0.5);
    if (s >= 3600) snprintf(buf, n, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    else snprintf(buf, n, "%d:%02d", s / 60, s % 60);
}

void graft__progress_on_progress(void *user, const graft_extract_stats *st) {
    graft__progress *p = user;
    if (p->quiet) return;
    double rate = st->elapsed > 0 ? (double)st->extracted / st->elapsed : 0;
    double frac = st->bytes_total ? (double)st->bytes_read / (double)st->bytes_total : -1;
    if (p->json) {
        if (!p->extract) return;
        if (st->elapsed - p->json_last < 5 && st->elapsed > 0.01) return; /* a line every 5 s */
        p->json_last = st->elapsed;
        printf("{\"event\":\"progress\",\"elapsed\":%.1f,\"samples\":%llu,\"extracted\":%llu,"
               "\"cached\":%llu,\"rejects\":%llu,\"images_per_s\":%.1f,\"shard\":%d,"
               "\"shards\":%d,\"fraction\":%.4f}\n",
               st->elapsed, (unsigned long long)st->samples, (unsigned long long)st->extracted,
               (unsigned long long)st->cached, (unsigned long long)st->rejects, rate,
               st->shard_index + 1, st->shard_count, frac);
        fflush(stdout);
        return;
    }
    if (!p->tty) return;
    char bar[32], eta[32] = "";
    int width = 24, filled = frac >= 0 ? (int)(frac * width + 0.5) : 0;
    for (int i = 0; i < width; i++) bar[i] = frac < 0 ? '-' : i < filled ? '=' : ' ';
    bar[width] = '\0';
    if (p->extract) {
        double left = frac > 0 ? st->elapsed * (1 - frac) / frac : -1;
        fmt_eta(eta, sizeof eta, left);
    }
    fprintf(stderr, "\r\033[K[%s] %llu images  %.1f img/s  shard %d/%d  %s %llu  rejects %llu"
                    "%s%s",
            bar, (unsigned long long)st->extracted, rate, st->shard_index + 1, st->shard_count,
            p->extract ? "skipped" : "cached",
            (unsigned long long)(st->cached + st->rejected_before),
            (unsigned long long)st->rejects, p->extract ? "  ETA " : "", eta);
    p->bar_shown = 1;
}

void graft__progress_on_event(void *user, const graft_extract_event *ev) {
    graft__progress *p = user;
    if (ev->kind == GRAFT_EXTRACT_EVENT_COMMIT) {
        if (p->extract && p->json && !p->quiet) {
            printf("{\"event\":\"commit\",\"rows\":%llu}\n", (unsigned long long)ev->rows);
            fflush(stdout);
        }
        return;
    }
    const char *kind = ev->kind == GRAFT_EXTRACT_EVENT_REJECT ? "reject" : "shard_error";
    if (p->json) {
        printf("{\"event\":\"%s\",\"shard\":", kind);
        graft__json_string(stdout, ev->shard);
        printf(",\"member\":");
        graft__json_string(stdout, ev->member ? ev->member : "");
        printf(",\"reason\":");
        graft__json_string(stdout, ev->reason);
        printf("}\n");
        fflush(stdout);
        return;
    }
    graft__progress_clear(p);
    if (ev->kind == GRAFT_EXTRACT_EVENT_REJECT)
        fprintf(stderr, "graft %s: skipped %s: %s: %s\n", p->cmd, ev->shard,
                ev->member && *ev->member ? ev->member : ev->key, ev->reason);
    else
        fprintf(stderr, "graft %s: %s: %s (the other shards go on)\n", p->cmd, ev->shard,
                ev->reason);
}
