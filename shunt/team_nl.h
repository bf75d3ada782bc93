/*
 * The netlink messages rtvirt-netshunt speaks to the kernel's team driver,
 * built into and parsed from plain buffers (no socket here, so the unit
 * test checks the bytes; netshunt_team.c does the I/O):
 *
 *  - rtnetlink: create a team netdev with a given MAC (RTM_NEWLINK, kind
 *    "team"), make a netdev a port of it or release it (RTM_NEWLINK on the
 *    port with IFLA_MASTER = the team's ifindex, or 0);
 *  - generic netlink, family "team" (include/uapi/linux/if_team.h): resolve
 *    the family's id (nlctrl CTRL_CMD_GETFAMILY), set one team-wide option
 *    (TEAM_CMD_OPTIONS_SET: "mode" is a string, "activeport" a u32 ifindex),
 *    read them all back (TEAM_CMD_OPTIONS_GET) and find one in the reply.
 *
 * Without teamd the team driver does nothing by itself: the mode and the
 * active port are ours to set, which is what the switch needs (which leg is
 * active is the protocol's decision, not a link monitor's).
 */
#ifndef RTVIRT_TEAM_NL_H
#define RTVIRT_TEAM_NL_H

#include <stddef.h>
#include <stdint.h>

/* Every builder writes one whole message (nlmsghdr, payload, attributes) to
 * buf and returns its length, or -EMSGSIZE if it does not fit in len. */
int team_nl_get_family(void *buf, size_t len, uint32_t seq);
int team_nl_set_u32(void *buf, size_t len, uint16_t family, uint32_t seq, int team_ifindex,
                    const char *name, uint32_t value);
int team_nl_set_string(void *buf, size_t len, uint16_t family, uint32_t seq, int team_ifindex,
                       const char *name, const char *value);
int team_nl_get_options(void *buf, size_t len, uint16_t family, uint32_t seq, int team_ifindex);
int team_nl_new_team(void *buf, size_t len, uint32_t seq, const char *name,
                     const uint8_t mac[6]);
int team_nl_set_master(void *buf, size_t len, uint32_t seq, int ifindex, int master_ifindex);

/* What one netlink message in a reply is. */
enum team_nl_kind {
    TEAM_NL_DATA,     /* a message of the request's family: parse it */
    TEAM_NL_ACK,      /* NLMSG_ERROR with error 0 */
    TEAM_NL_ERROR,    /* NLMSG_ERROR with an error (*err = -errno) */
    TEAM_NL_DONE,     /* NLMSG_DONE: the end of a multi-part reply */
};

/* Walks a received datagram: at most one call per message.  *off is where
 * the next message starts (0 first).  Returns 1 with *msg, *msg_len, *kind
 * (and *err) filled, 0 at the end, -EBADMSG for a truncated message. */
int team_nl_next(const void *dgram, size_t len, size_t *off, const void **msg, size_t *msg_len,
                 enum team_nl_kind *kind, int *err);

/* The family id and the id of its multicast group "change_event" in
 * nlctrl's reply to team_nl_get_family (-ENOENT without either).  A
 * TEAM_CMD_OPTIONS_SET that changed an option then sends an event to that
 * group, and in Linux 6.1 returns the multicast's -ESRCH when nobody
 * listens (team_nl_cmd_options_set), after the option was set: the caller
 * joins the group, as teamd does. */
int team_nl_family_id(const void *msg, size_t len, uint16_t *id, uint32_t *event_group);

/* A team-wide option (no port, no array index) of one TEAM_CMD_OPTIONS_GET
 * reply message.  Returns 1 and fills the value of the type asked for, 0
 * if the message does not carry the option, -EBADMSG if it carries it with
 * another type or a malformed value. */
int team_nl_find_u32(const void *msg, size_t len, const char *name, uint32_t *value);
int team_nl_find_string(const void *msg, size_t len, const char *name, char *value,
                        size_t value_len);

#endif
