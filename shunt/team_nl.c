/*
 * The team driver's netlink messages; see team_nl.h.
 */
#include "team_nl.h"

#include <errno.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/if_team.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

/* TEAM_ATTR_OPTION_TYPE carries the kernel's netlink attribute type of the
 * value (enum in the kernel's include/net/netlink.h, not in a uapi header:
 * team_nl_cmd_options_set maps NLA_U32 to a u32 option and NLA_STRING to a
 * string one; libteam names the same two numbers). */
#define TEAM_NL_TYPE_U32    3
#define TEAM_NL_TYPE_STRING 5

/* ---- building ------------------------------------------------------------------- */

struct msg {
    uint8_t *p;
    size_t   len, cap;
    bool     full;
};

static void *room(struct msg *m, size_t n)
{
    size_t a = NLMSG_ALIGN(n);
    void *at;

    if (m->full || a > m->cap - m->len) {
        m->full = true;
        return NULL;
    }
    at = m->p + m->len;
    memset(at, 0, a);
    m->len += a;
    return at;
}

static void start(struct msg *m, void *buf, size_t cap, uint16_t type, uint16_t flags,
                  uint32_t seq)
{
    struct nlmsghdr *h;

    *m = (struct msg){ buf, 0, cap, false };
    if ((h = room(m, NLMSG_HDRLEN)) != NULL) {
        h->nlmsg_type = type;
        h->nlmsg_flags = flags;
        h->nlmsg_seq = seq;
    }
}

static void put(struct msg *m, uint16_t type, const void *data, size_t len)
{
    struct nlattr *a = room(m, NLA_HDRLEN + len);

    if (a == NULL)
        return;
    a->nla_len = (uint16_t)(NLA_HDRLEN + len);
    a->nla_type = type;
    memcpy((uint8_t *)a + NLA_HDRLEN, data, len);
}

static void put_u32(struct msg *m, uint16_t type, uint32_t v)
{
    put(m, type, &v, sizeof(v));
}

static void put_str(struct msg *m, uint16_t type, const char *s)
{
    put(m, type, s, strlen(s) + 1);   /* with its NUL, as nla_put_string */
}

/* A nest: its header now, its length once its attributes are in. */
static size_t nest(struct msg *m, uint16_t type)
{
    struct nlattr *a = room(m, NLA_HDRLEN);

    if (a == NULL)
        return 0;
    a->nla_type = type | NLA_F_NESTED;
    return (size_t)((uint8_t *)a - m->p);
}

static void nest_end(struct msg *m, size_t at)
{
    if (!m->full)
        ((struct nlattr *)(m->p + at))->nla_len = (uint16_t)(m->len - at);
}

static int finish(struct msg *m)
{
    if (m->full || m->len > UINT32_MAX)
        return -EMSGSIZE;
    ((struct nlmsghdr *)m->p)->nlmsg_len = (uint32_t)m->len;
    return (int)m->len;
}

static void genl(struct msg *m, uint8_t cmd, uint8_t version)
{
    struct genlmsghdr *g = room(m, GENL_HDRLEN);

    if (g != NULL) {
        g->cmd = cmd;
        g->version = version;
    }
}

int team_nl_get_family(void *buf, size_t len, uint32_t seq)
{
    struct msg m;

    start(&m, buf, len, GENL_ID_CTRL, NLM_F_REQUEST, seq);
    genl(&m, CTRL_CMD_GETFAMILY, 1);
    put_str(&m, CTRL_ATTR_FAMILY_NAME, TEAM_GENL_NAME);
    return finish(&m);
}

/* TEAM_CMD_OPTIONS_SET of one team-wide option, value of the given type. */
static int set_option(void *buf, size_t len, uint16_t family, uint32_t seq, int team_ifindex,
                      const char *name, uint8_t type, const void *value, size_t value_len)
{
    struct msg m;
    size_t list, item;

    start(&m, buf, len, family, NLM_F_REQUEST | NLM_F_ACK, seq);
    genl(&m, TEAM_CMD_OPTIONS_SET, TEAM_GENL_VERSION);
    put_u32(&m, TEAM_ATTR_TEAM_IFINDEX, (uint32_t)team_ifindex);
    list = nest(&m, TEAM_ATTR_LIST_OPTION);
    item = nest(&m, TEAM_ATTR_ITEM_OPTION);
    put_str(&m, TEAM_ATTR_OPTION_NAME, name);
    put(&m, TEAM_ATTR_OPTION_TYPE, &type, 1);
    put(&m, TEAM_ATTR_OPTION_DATA, value, value_len);
    nest_end(&m, item);
    nest_end(&m, list);
    return finish(&m);
}

int team_nl_set_u32(void *buf, size_t len, uint16_t family, uint32_t seq, int team_ifindex,
                    const char *name, uint32_t value)
{
    return set_option(buf, len, family, seq, team_ifindex, name, TEAM_NL_TYPE_U32, &value,
                      sizeof(value));
}

int team_nl_set_string(void *buf, size_t len, uint16_t family, uint32_t seq, int team_ifindex,
                       const char *name, const char *value)
{
    if (strlen(value) >= TEAM_STRING_MAX_LEN)
        return -EINVAL;   /* the driver refuses it */
    return set_option(buf, len, family, seq, team_ifindex, name, TEAM_NL_TYPE_STRING, value,
                      strlen(value) + 1);
}

int team_nl_get_options(void *buf, size_t len, uint16_t family, uint32_t seq, int team_ifindex)
{
    struct msg m;

    start(&m, buf, len, family, NLM_F_REQUEST, seq);
    genl(&m, TEAM_CMD_OPTIONS_GET, TEAM_GENL_VERSION);
    put_u32(&m, TEAM_ATTR_TEAM_IFINDEX, (uint32_t)team_ifindex);
    return finish(&m);
}

static void ifinfo(struct msg *m, int ifindex)
{
    struct ifinfomsg *i = room(m, sizeof(*i));

    if (i != NULL) {
        i->ifi_family = AF_UNSPEC;
        i->ifi_index = ifindex;
    }
}

int team_nl_new_team(void *buf, size_t len, uint32_t seq, const char *name,
                     const uint8_t mac[6])
{
    struct msg m;
    size_t info;

    start(&m, buf, len, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
          seq);
    ifinfo(&m, 0);
    put_str(&m, IFLA_IFNAME, name);
    /* The emulated NIC's MAC from the start (team_newlink takes it; without
     * one it makes a random one): both legs and the team then have one. */
    put(&m, IFLA_ADDRESS, mac, 6);
    info = nest(&m, IFLA_LINKINFO);
    put_str(&m, IFLA_INFO_KIND, "team");
    nest_end(&m, info);
    return finish(&m);
}

int team_nl_set_master(void *buf, size_t len, uint32_t seq, int ifindex, int master_ifindex)
{
    struct msg m;

    start(&m, buf, len, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
    ifinfo(&m, ifindex);
    put_u32(&m, IFLA_MASTER, (uint32_t)master_ifindex);
    return finish(&m);
}

/* ---- parsing -------------------------------------------------------------------- */

int team_nl_next(const void *dgram, size_t len, size_t *off, const void **msg, size_t *msg_len,
                 enum team_nl_kind *kind, int *err)
{
    const uint8_t *p = (const uint8_t *)dgram + *off;
    size_t left = len - *off;
    const struct nlmsghdr *h = (const struct nlmsghdr *)p;

    if (*off >= len)
        return 0;
    if (left < NLMSG_HDRLEN || h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > left)
        return -EBADMSG;
    *msg = p;
    *msg_len = h->nlmsg_len;
    *err = 0;
    *off += NLMSG_ALIGN(h->nlmsg_len) < left ? NLMSG_ALIGN(h->nlmsg_len) : left;
    switch (h->nlmsg_type) {
    case NLMSG_DONE:
        *kind = TEAM_NL_DONE;
        return 1;
    case NLMSG_ERROR: {
        const struct nlmsgerr *e = (const struct nlmsgerr *)(p + NLMSG_HDRLEN);
        if (h->nlmsg_len < NLMSG_HDRLEN + sizeof(e->error))
            return -EBADMSG;
        *err = e->error;
        *kind = e->error == 0 ? TEAM_NL_ACK : TEAM_NL_ERROR;
        if (*err > 0)
            *err = -*err;
        return 1;
    }
    default:
        *kind = TEAM_NL_DATA;
        return 1;
    }
}

/* Attribute walk over [p, p + len): calls fn for each well-formed one;
 * -EBADMSG for one that overruns. */
typedef int (*attr_fn)(const struct nlattr *a, const void *data, size_t len, void *arg);

static int each_attr(const uint8_t *p, size_t len, attr_fn fn, void *arg)
{
    while (len >= NLA_HDRLEN) {
        const struct nlattr *a = (const struct nlattr *)p;
        size_t al = NLA_ALIGN(a->nla_len);
        int rc;

        if (a->nla_len < NLA_HDRLEN || a->nla_len > len)
            return -EBADMSG;
        if ((rc = fn(a, p + NLA_HDRLEN, a->nla_len - NLA_HDRLEN, arg)) != 0)
            return rc;
        if (al >= len)
            break;
        p += al;
        len -= al;
    }
    return 0;
}

/* The attributes after the genetlink header of msg. */
static int genl_attrs(const void *msg, size_t len, attr_fn fn, void *arg)
{
    const struct nlmsghdr *h = msg;

    if (len < NLMSG_HDRLEN + GENL_HDRLEN || h->nlmsg_len > len)
        return -EBADMSG;
    return each_attr((const uint8_t *)msg + NLMSG_HDRLEN + GENL_HDRLEN,
                     h->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN, fn, arg);
}

struct family {
    bool     have_id, have_group;
    uint16_t id;
    uint32_t group;
    /* the group being read */
    bool     is_event;
    bool     have_gid;
    uint32_t gid;
};

static int group_attr(const struct nlattr *a, const void *data, size_t len, void *arg)
{
    struct family *f = arg;

    switch (a->nla_type & NLA_TYPE_MASK) {
    case CTRL_ATTR_MCAST_GRP_NAME:
        f->is_event = len == sizeof(TEAM_GENL_CHANGE_EVENT_MC_GRP_NAME) &&
                      memcmp(data, TEAM_GENL_CHANGE_EVENT_MC_GRP_NAME, len) == 0;
        break;
    case CTRL_ATTR_MCAST_GRP_ID:
        if (len != sizeof(uint32_t))
            return -EBADMSG;
        memcpy(&f->gid, data, sizeof(uint32_t));
        f->have_gid = true;
        break;
    }
    return 0;
}

static int group(const struct nlattr *a, const void *data, size_t len, void *arg)
{
    struct family *f = arg;
    int rc;

    (void)a;   /* its type is the group's index */
    f->is_event = f->have_gid = false;
    if ((rc = each_attr(data, len, group_attr, f)) < 0)
        return rc;
    if (f->is_event && f->have_gid) {
        f->group = f->gid;
        f->have_group = true;
    }
    return 0;
}

static int family_attr(const struct nlattr *a, const void *data, size_t len, void *arg)
{
    struct family *f = arg;

    switch (a->nla_type & NLA_TYPE_MASK) {
    case CTRL_ATTR_FAMILY_ID:
        if (len != sizeof(uint16_t))
            return -EBADMSG;
        memcpy(&f->id, data, sizeof(uint16_t));
        f->have_id = true;
        break;
    case CTRL_ATTR_MCAST_GROUPS:
        return each_attr(data, len, group, f);
    }
    return 0;
}

int team_nl_family_id(const void *msg, size_t len, uint16_t *id, uint32_t *event_group)
{
    struct family f = { .have_id = false };
    int rc = genl_attrs(msg, len, family_attr, &f);

    if (rc < 0)
        return rc;
    if (!f.have_id || !f.have_group)
        return -ENOENT;
    *id = f.id;
    *event_group = f.group;
    return 0;
}

/* One option item, as the driver fills it (team_nl_fill_one_option_get). */
struct item {
    char        name[TEAM_STRING_MAX_LEN + 1];
    bool        per_port, has_type;
    uint8_t     type;
    const void *data;
    size_t      data_len;
};

struct find {
    const char *name;
    uint8_t     type;
    const void *data;
    size_t      data_len;
    int         found;   /* 1 found, -EBADMSG found with another type */
};

static int item_attr(const struct nlattr *a, const void *data, size_t len, void *arg)
{
    struct item *it = arg;

    switch (a->nla_type & NLA_TYPE_MASK) {
    case TEAM_ATTR_OPTION_NAME:
        if (len == 0 || len > sizeof(it->name) || ((const char *)data)[len - 1] != '\0')
            return -EBADMSG;
        memcpy(it->name, data, len);
        break;
    case TEAM_ATTR_OPTION_PORT_IFINDEX:
    case TEAM_ATTR_OPTION_ARRAY_INDEX:
        it->per_port = true;   /* not a team-wide value */
        break;
    case TEAM_ATTR_OPTION_TYPE:
        if (len != 1)
            return -EBADMSG;
        it->type = *(const uint8_t *)data;
        it->has_type = true;
        break;
    case TEAM_ATTR_OPTION_DATA:
        it->data = data;
        it->data_len = len;
        break;
    }
    return 0;
}

static int option_item(const struct nlattr *a, const void *data, size_t len, void *arg)
{
    struct find *f = arg;
    struct item it = { .name = "" };
    int rc;

    if ((a->nla_type & NLA_TYPE_MASK) != TEAM_ATTR_ITEM_OPTION)
        return 0;
    if ((rc = each_attr(data, len, item_attr, &it)) < 0)
        return rc;
    if (it.per_port || strcmp(it.name, f->name) != 0)
        return 0;
    if (!it.has_type || it.type != f->type || it.data == NULL) {
        f->found = -EBADMSG;
        return 1;
    }
    f->data = it.data;
    f->data_len = it.data_len;
    f->found = 1;
    return 1;
}

static int option_list(const struct nlattr *a, const void *data, size_t len, void *arg)
{
    if ((a->nla_type & NLA_TYPE_MASK) != TEAM_ATTR_LIST_OPTION)
        return 0;
    return each_attr(data, len, option_item, arg);
}

static int find(const void *msg, size_t len, struct find *f)
{
    int rc = genl_attrs(msg, len, option_list, f);
    return rc < 0 ? rc : f->found;
}

int team_nl_find_u32(const void *msg, size_t len, const char *name, uint32_t *value)
{
    struct find f = { .name = name, .type = TEAM_NL_TYPE_U32 };
    int rc = find(msg, len, &f);

    if (rc != 1)
        return rc;
    if (f.data_len != sizeof(*value))
        return -EBADMSG;
    memcpy(value, f.data, sizeof(*value));
    return 1;
}

int team_nl_find_string(const void *msg, size_t len, const char *name, char *value,
                        size_t value_len)
{
    struct find f = { .name = name, .type = TEAM_NL_TYPE_STRING };
    int rc = find(msg, len, &f);

    if (rc != 1)
        return rc;
    const char *s = f.data;
    size_t n = strnlen(s, f.data_len);
    if (n == f.data_len || n >= value_len)
        return -EBADMSG;   /* no NUL inside the attribute, or too long for us */
    memcpy(value, s, n + 1);
    return 1;
}
