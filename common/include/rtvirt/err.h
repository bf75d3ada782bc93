/*
 * Error reports that say what was wrong: a negative errno for code paths and
 * a sentence for people (xenstore error nodes, CLI messages).
 */
#ifndef RTVIRT_ERR_H
#define RTVIRT_ERR_H

struct rtv_err {
    int  code;        /* positive errno, 0 = no error */
    char msg[512];
};

/* Records code and the formatted message (if err is not NULL) and returns
 * -code, so callers can write `return rtv_err_set(err, EINVAL, ...);`. */
int rtv_err_set(struct rtv_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
