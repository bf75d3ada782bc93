/*
 * The guest kernel's parts of the NIC switch, as rtvirt-netshunt drives
 * them: the master over the two legs, either the team driver over netlink
 * (netshunt_team.c, the default) or the bonding driver's sysfs interface
 * (Documentation/networking/bonding.rst, "Configuring Bonding Manually via
 * Sysfs"); netfront's netdevs found by their xenbus device, link flags over
 * SIOCSIFFLAGS, and a gratuitous ARP sent on the master at the flip.
 * Nothing here knows the switch protocol (netshunt.c does).
 */
#ifndef RTVIRT_NETSHUNT_SYS_H
#define RTVIRT_NETSHUNT_SYS_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/err.h"

struct netshunt_sys_ops;

/* A master driver: its name on the command line, the netdev's default
 * name, how to build it over the emulated NIC (or take the one a previous
 * shunt built), and the engine's seam over it.  NULL-terminated, the
 * default first. */
struct netshunt_master {
    const char                    *kind, *default_name;
    int                          (*setup)(const char *name, const char *emulated,
                                          struct rtv_err *err);
    const struct netshunt_sys_ops *ops;
};
extern const struct netshunt_master netshunt_masters[];

/* The team in activebackup mode over emulated (its first port and the
 * active one), with emulated's MAC, so both legs carry that one MAC.  An
 * existing team in activebackup mode with emulated as a port is taken as it
 * is (a restarted shunt).  Loads team and team_mode_activebackup if they
 * are not there. */
int netshunt_team_setup(const char *team, const char *emulated, struct rtv_err *err);

/* The bond in active-backup mode over emulated (its first slave, whose MAC
 * the bond takes: fail_over_mac none, so both legs carry that one MAC),
 * miimon 100 ms, one gratuitous ARP / unsolicited NA per failover.  An
 * existing bond with emulated enslaved is taken as it is (a restarted
 * shunt).  Loads the bonding module if it is not there. */
int netshunt_bond_setup(const char *bond, const char *emulated, struct rtv_err *err);

/* Runs modprobe MODULE [ARG] (arg may be NULL). */
int netshunt_modprobe(const char *module, const char *arg);

/* Sets the netdev's IFF_UP as asked (nothing if it is so already). */
int netshunt_set_up(const char *dev, bool up, struct rtv_err *err);

/* The netdev netfront made for device/vif/<devid> ("" until it exists). */
int netshunt_pv_netdev(unsigned devid, char name[IFNAMSIZ]);

/* Loads xen-netfront unless its driver is registered already. */
int netshunt_load_netfront(struct rtv_err *err);

/* Is dev a slave of bond, and is its link up as bonding sees it? */
bool netshunt_is_slave(const char *bond, const char *dev);
bool netshunt_slave_up(const char *dev);

/* Enslaves dev (set down first: bonding refuses a slave that is up). */
int netshunt_enslave(const char *bond, const char *dev, struct rtv_err *err);
int netshunt_release(const char *bond, const char *dev, struct rtv_err *err);

/* The bond's active slave ("" if none) / make dev the active one. */
int netshunt_active(const char *bond, char name[IFNAMSIZ]);
int netshunt_set_active(const char *bond, const char *dev, struct rtv_err *err);

/* bonding's all_slaves_active: with on, the inactive slave delivers what
 * reaches it (bonding.rst: "duplicate frames received on inactive ports");
 * off, bonding's default, drops it. */
int netshunt_both_receive(const char *bond, bool on, struct rtv_err *err);

/* IPv6 off on dev (net.ipv6.conf.<dev>.disable_ipv6 = 1) before it is
 * enslaved: a port sends nothing of its own (netshunt.h, quiet_port).  No
 * IPv6 in the kernel: nothing to do. */
int netshunt_quiet_port(const char *dev, struct rtv_err *err);

/* The netdev's received-packets counter (statistics/rx_packets). */
int netshunt_rx_packets(const char *dev, uint64_t *n);

/* MAC of a netdev, lower-case "xx:xx:xx:xx:xx:xx", or as its 6 bytes. */
int netshunt_mac(const char *dev, char mac[18]);
int netshunt_mac_bytes(const char *dev, uint8_t hw[6]);

/* Does path exist (a sysfs node)? */
bool netshunt_exists(const char *path);

/* A gratuitous ARP (an ARP request for our own address, from it) for each
 * IPv4 address of bond, out of its active slave: the bridge learns the new
 * port and peers refresh their caches at once.  Returns how many it sent. */
int netshunt_announce(const char *bond, struct rtv_err *err);

/* The seam's entries that do not depend on the master (ctx unused). */
int  netshunt_l_pv_netdev(void *ctx, unsigned devid, char name[IFNAMSIZ]);
int  netshunt_l_load_netfront(void *ctx, struct rtv_err *err);
bool netshunt_l_is_slave(void *ctx, const char *master, const char *dev);
int  netshunt_l_mac(void *ctx, const char *dev, char mac[18]);
int  netshunt_l_announce(void *ctx, const char *master, struct rtv_err *err);
int  netshunt_l_rx_packets(void *ctx, const char *dev, uint64_t *n);
int  netshunt_l_quiet_port(void *ctx, const char *dev, struct rtv_err *err);

#endif
