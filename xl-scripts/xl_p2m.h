/* xl-rtvirt p2m-identity (xl_p2m.c). */
#ifndef XL_P2M_H
#define XL_P2M_H

#include "rtvirt/seam.h"

struct xl_p2m_opts {
    const char *range;      /* "FIRST-LAST" as rtvirt-p2m takes it, or NULL */
    int concurrent;         /* else paused */
    int json;
};

/* Rebuild dom's P2M to identity through rtvirt-p2m, recording the run in
 * xenstore; returns the exit status. */
int xl_p2m_identity(struct rtv_store *xs, rtv_domid_t dom, const struct xl_p2m_opts *o);

#endif
