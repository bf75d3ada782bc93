/*
 * Store helpers every rtvirt program uses on top of the seam: the
 * transaction retry loop (so nobody writes their own), formatted writes and
 * strict number reads.
 */
#ifndef RTVIRT_XS_UTIL_H
#define RTVIRT_XS_UTIL_H

#include "rtvirt/err.h"
#include "rtvirt/seam.h"

/* Default retry budget for rtv_xs_transact(): generous, because on a busy
 * xenstored conflicts are normal, but bounded, because every wait is. */
#define RTV_XS_TXN_TRIES 64

/* Body of a transaction.  Return 0 to commit, a negative errno to abort
 * (-EAGAIN from the body also restarts the transaction). */
typedef int (*rtv_xs_txn_fn)(struct rtv_store *s, rtv_txn_t t, void *arg);

/* Runs fn in a fresh transaction until it commits, retrying on -EAGAIN up to
 * max_tries times (0 = RTV_XS_TXN_TRIES).  Returns 0 once committed, fn's own
 * error if it failed, or -EAGAIN if every try conflicted.  fn may run more
 * than once, so it must not have side effects outside the store. */
int rtv_xs_transact(struct rtv_store *s, unsigned max_tries,
                    rtv_xs_txn_fn fn, void *arg);

/* Writes a printf-formatted value. */
int rtv_xs_printf(struct rtv_store *s, rtv_txn_t t, const char *path,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Reads a node's text into buf, truncated to len ("" if absent: 0).  Other
 * errors are returned. */
int rtv_xs_read_text(struct rtv_store *s, rtv_txn_t t, const char *path,
                     char *buf, size_t len);

/* Reads an unsigned decimal number no larger than max.  -ENOENT if absent,
 * -EINVAL if not a plain decimal number, -ERANGE if above max. */
int rtv_xs_read_uint(struct rtv_store *s, rtv_txn_t t, const char *path,
                     unsigned long long max, unsigned long long *out);

/* After removing path: removes its parent, and so on up to `levels`
 * parents, while each is empty (a released last device must not leave
 * .../rtvirt/vbd or .../rtvirt behind: the lab's leak check compares with
 * the guest before it was managed). */
int rtv_xs_rm_empty_parents(struct rtv_store *s, rtv_txn_t t, const char *path,
                            unsigned levels);

/* Checks whether a wait is over: 1 done, 0 not yet, a negative errno to
 * stop waiting (err set). */
typedef int (*rtv_xs_wait_fn)(struct rtv_store *s, void *arg, struct rtv_err *err);

/* Watches dir and runs done() at once and after every event on it (events
 * may be coalesced or spurious: done() re-reads what it needs), at most
 * timeout_ms: 0 once done() said 1, done()'s error, or -ETIMEDOUT (err is
 * then left to the caller, who knows what was last seen). */
int rtv_xs_wait_on(struct rtv_store *s, const char *dir, unsigned timeout_ms,
                   rtv_xs_wait_fn done, void *arg, struct rtv_err *err);

/* True when rc (< 0) says the store failed the operation (I/O error, no
 * room, transactions exhausted, ...), as opposed to what was asked about:
 * a node absent (-ENOENT), a value malformed (-EINVAL, -ERANGE, -E2BIG) or
 * forbidden (-EACCES).  Nobody wrote anything wrong then, so no peer is to
 * blame, and the same operation may succeed when tried again. */
bool rtv_xs_store_failed(int rc);

/* Parses what rtv_xs_read_uint() accepts: digits only, no sign, no spaces,
 * no leading zeros except "0" itself. */
int rtv_parse_uint(const char *text, unsigned long long max,
                   unsigned long long *out);

#endif
