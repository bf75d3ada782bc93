/*
 * Formatted messages, one piece of code for each way rtvirt words them:
 *
 *  - a note: a bounded message into a fixed buffer (a state machine's
 *    `out->note`, an error slot), truncated rather than overrun;
 *  - a log sink: where a component's lines go.  A component that runs inside
 *    a daemon logs through the daemon's sink (its journal, its --verbose
 *    switch); with no sink set, a line goes to stderr after the component's
 *    prefix, so a test or a tool that sets nothing still sees it.
 */
#ifndef RTVIRT_LOG_H
#define RTVIRT_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* vsnprintf into buf[len]; nothing when buf is NULL or len is 0. */
void rtv_notef(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A note into out->note, the char array of a state machine's output. */
#define rtv_note(out, ...) rtv_notef((out)->note, sizeof((out)->note), __VA_ARGS__)

struct rtv_log_sink {
    void (*fn)(void *ctx, const char *msg);   /* NULL: stderr */
    void  *ctx;
};

/* One line to the sink, or to stderr as "<prefix>: <message>\n".  Lines are
 * cut at 767 characters. */
void rtv_logf(const struct rtv_log_sink *sink, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* rtv_logf with the arguments in a va_list: for a component's own
 * wrappers that add a level (a line only with --verbose). */
void rtv_vlogf(const struct rtv_log_sink *sink, const char *prefix, const char *fmt,
               va_list ap) __attribute__((format(printf, 3, 0)));

#endif
