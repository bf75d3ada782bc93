/*
 * rtvirt-netcheck: the NIC switch's checker (what fio --verify is for the
 * disk), run at both ends of a guest's network by the lab's net flight.
 *
 *   rtvirt-netcheck stream (--listen PORT | --connect IP:PORT)
 *                   [--rate KBPS | --bulk] [--seconds S] [--stop-file F]
 *                   [--gap-ms G] [--out FILE]
 *   rtvirt-netcheck ping IP [--interval-ms I] [--seconds S] [--stop-file F] [--out FILE]
 *
 * stream: one TCP connection carrying a numbered byte pattern both ways at
 * once (the 8-byte big-endian block numbers 0, 1, 2, ...: every byte says
 * where it belongs), checked byte-exact as it arrives.  It records every
 * gap with nothing received longer than G ms (default 20) with its wall-clock
 * start, and samples the kernel's smoothed RTT (TCP_INFO).  On stop (the
 * seconds passed, the stop file appeared, or SIGTERM) it stops sending,
 * shuts its side down and reads until the peer did the same, so the two
 * ends' totals can be compared: sent here == received there.
 * --bulk sends as fast as the socket takes it (throughput).
 *
 * ping: ICMP echo requests every I ms (default 2), each numbered; prints
 * which went unanswered, with their send times, and the echo gaps: each
 * run of unanswered echoes as [send time of the answered one before it,
 * ms to the next answered one].
 *
 * Output: one JSON object (to --out, else stdout).  Exit 0 only if nothing
 * failed: a mismatch, a reset, a short total, or an error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rtvirt/clock.h"

#define MAX_GAPS   4096
#define MAX_RTT    65536
#define MAX_LOST   (1u << 20)   /* echoes: 87 min at 5 ms */

static volatile sig_atomic_t stop_sig;

static void on_signal(int s)
{
    (void)s;
    stop_sig = 1;
}

/* The pattern: byte k of the stream is byte k % 8 of k / 8, big-endian. */
static unsigned char pattern(uint64_t k)
{
    return (unsigned char)((k / 8) >> (8 * (7 - k % 8)));
}

struct opts {
    int         listen_port;
    const char *connect;
    unsigned    rate_kbps;
    bool        bulk;
    unsigned    seconds;
    const char *stop_file;
    unsigned    gap_ms;
    unsigned    interval_ms;
    const char *out;
};

static bool stopping(const struct opts *o, uint64_t t0)
{
    struct stat st;
    if (stop_sig)
        return true;
    if (o->seconds && rtv_now_us() - t0 >= (uint64_t)o->seconds * 1000000u)
        return true;
    return o->stop_file && stat(o->stop_file, &st) == 0;
}

static FILE *out_file(const struct opts *o)
{
    FILE *f = o->out ? fopen(o->out, "w") : stdout;
    if (f == NULL) {
        fprintf(stderr, "rtvirt-netcheck: %s: %s\n", o->out, strerror(errno));
        return stdout;
    }
    return f;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int stream(const struct opts *o)
{
    static struct { uint64_t t_ms, len_ms; } gaps[MAX_GAPS];
    static uint32_t rtt[MAX_RTT];
    unsigned ngaps = 0, nrtt = 0;
    uint64_t sent = 0, recvd = 0, bad_at = UINT64_MAX, max_gap_ms = 0;
    char err[256] = "";
    int s;

    if (o->listen_port) {
        int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(o->listen_port) };
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0) {
            perror("rtvirt-netcheck: listen");
            return 2;
        }
        fprintf(stderr, "rtvirt-netcheck: listening on %d\n", o->listen_port);
        s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        close(l);
    } else {
        char host[64];
        snprintf(host, sizeof(host), "%s", o->connect);
        char *colon = strrchr(host, ':');
        struct sockaddr_in a = { .sin_family = AF_INET };
        if (colon != NULL)
            *colon = '\0';
        if (colon == NULL || inet_pton(AF_INET, host, &a.sin_addr) != 1) {
            fprintf(stderr, "rtvirt-netcheck: --connect IP:PORT, got %s\n", o->connect);
            return 2;
        }
        a.sin_port = htons((uint16_t)atoi(colon + 1));
        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
            perror("rtvirt-netcheck: connect");
            return 2;
        }
    }
    if (s < 0) {
        perror("rtvirt-netcheck: accept");
        return 2;
    }
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(s, F_SETFL, O_NONBLOCK);

    uint64_t t0 = rtv_now_us(), last_rx = t0, last_rx_wall = rtv_wall_ms(), last_rtt = 0;
    uint64_t rate_bps = (uint64_t)(o->rate_kbps ? o->rate_kbps : 256) * 1024u;
    bool wr_open = true, peer_done = false;
    uint64_t stop_at = 0;
    unsigned char buf[16384];

    while (!peer_done) {
        uint64_t now = rtv_now_us();
        if (wr_open && stopping(o, t0)) {
            shutdown(s, SHUT_WR);
            wr_open = false;
            stop_at = now;
        }
        if (!wr_open && now - stop_at > 30000000u) {
            snprintf(err, sizeof(err), "the peer did not finish within 30 s of the stop");
            break;
        }
        /* What the pace allows by now. */
        uint64_t allowed = o->bulk ? UINT64_MAX : (now - t0) * rate_bps / 1000000u;
        bool want_out = wr_open && sent < allowed;
        /* Paced: sleep until the next KiB is due (the guest under TCG has a
         * fraction of a CPU; no busy loop), but never past 50 ms. */
        int tmo = 50;
        if (wr_open && !want_out && !o->bulk) {
            uint64_t due_us = (sent + 1024 - allowed) * 1000000u / rate_bps;
            tmo = due_us / 1000u < 50 ? (int)(due_us / 1000u) + 1 : 50;
        }
        struct pollfd p = { .fd = s, .events = POLLIN | (want_out ? POLLOUT : 0) };
        int n = poll(&p, 1, tmo);
        if (n < 0 && errno != EINTR) {
            snprintf(err, sizeof(err), "poll: %s", strerror(errno));
            break;
        }
        now = rtv_now_us();
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(s, buf, sizeof(buf), 0);
            if (r == 0) {
                peer_done = true;
            } else if (r < 0 && errno != EAGAIN && errno != EINTR) {
                snprintf(err, sizeof(err), "recv: %s (after %llu bytes)", strerror(errno),
                         (unsigned long long)recvd);
                break;
            } else if (r > 0) {
                for (ssize_t i = 0; i < r && bad_at == UINT64_MAX; i++)
                    if (buf[i] != pattern(recvd + (uint64_t)i))
                        bad_at = recvd + (uint64_t)i;
                recvd += (uint64_t)r;
                uint64_t gap = (now - last_rx) / 1000u;
                if (gap >= o->gap_ms && wr_open) {
                    if (ngaps < MAX_GAPS) {
                        gaps[ngaps].t_ms = last_rx_wall;
                        gaps[ngaps].len_ms = gap;
                        ngaps++;
                    }
                    if (gap > max_gap_ms)
                        max_gap_ms = gap;
                }
                last_rx = now;
                last_rx_wall = rtv_wall_ms();
            }
        }
        if (want_out && (p.revents & POLLOUT)) {
            uint64_t n_out = allowed - sent;
            if (n_out > sizeof(buf))
                n_out = sizeof(buf);
            for (uint64_t i = 0; i < n_out; i++)
                buf[i] = pattern(sent + i);
            ssize_t w = send(s, buf, n_out, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                snprintf(err, sizeof(err), "send: %s (after %llu bytes)", strerror(errno),
                         (unsigned long long)sent);
                break;
            }
            if (w > 0)
                sent += (uint64_t)w;
        }
        if (now - last_rtt >= 100000u && nrtt < MAX_RTT) {
            struct tcp_info ti;
            socklen_t len = sizeof(ti);
            if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_rtt)
                rtt[nrtt++] = ti.tcpi_rtt;
            last_rtt = now;
        }
    }
    close(s);
    double secs = (double)(rtv_now_us() - t0) / 1e6;
    qsort(rtt, nrtt, sizeof(rtt[0]), cmp_u32);
    bool ok = err[0] == '\0' && bad_at == UINT64_MAX && peer_done;
    FILE *f = out_file(o);
    fprintf(f, "{\"mode\": \"stream\", \"ok\": %s, \"sent\": %llu, \"received\": %llu, "
            "\"seconds\": %.3f, \"rx_bytes_per_s\": %.0f, \"first_mismatch\": %lld, "
            "\"peer_finished\": %s, \"error\": \"%s\", \"rtt_us_median\": %u, "
            "\"max_gap_ms\": %llu, \"gap_threshold_ms\": %u, \"gaps\": [",
            ok ? "true" : "false", (unsigned long long)sent, (unsigned long long)recvd, secs,
            secs > 0 ? (double)recvd / secs : 0.0,
            bad_at == UINT64_MAX ? -1LL : (long long)bad_at, peer_done ? "true" : "false",
            err, nrtt ? rtt[nrtt / 2] : 0, (unsigned long long)max_gap_ms, o->gap_ms);
    for (unsigned i = 0; i < ngaps; i++)
        fprintf(f, "%s[%llu, %llu]", i ? ", " : "", (unsigned long long)gaps[i].t_ms,
                (unsigned long long)gaps[i].len_ms);
    fprintf(f, "]}\n");
    if (f != stdout)
        fclose(f);
    if (!ok)
        fprintf(stderr, "rtvirt-netcheck: stream FAILED: %s%s\n", err,
                bad_at != UINT64_MAX ? " (pattern mismatch)" : "");
    return ok ? 0 : 1;
}

static uint16_t csum(const void *data, size_t len)
{
    const uint16_t *p = data;
    uint32_t sum = 0;
    for (; len > 1; len -= 2)
        sum += *p++;
    if (len)
        sum += *(const uint8_t *)p;
    sum = (sum >> 16) + (sum & 0xffff);
    sum += sum >> 16;
    return (uint16_t)~sum;
}

/* Takes every echo reply queued on s: marks its send answered.  The
 * sequence number is 16 bits: a reply belongs to the latest echo sent
 * with that low half (replies come back within milliseconds). */
static void take_replies(int s, uint16_t id, unsigned nsent, bool *answered, unsigned *nrecv)
{
    unsigned char buf[256];
    ssize_t r;

    while ((r = recv(s, buf, sizeof(buf), 0)) > 0) {
        struct iphdr *iph = (struct iphdr *)buf;
        size_t hl = (size_t)iph->ihl * 4;
        if ((size_t)r < hl + sizeof(struct icmphdr))
            continue;
        struct icmphdr *h = (struct icmphdr *)(buf + hl);
        if (h->type != ICMP_ECHOREPLY || ntohs(h->un.echo.id) != id)
            continue;
        unsigned seq = ntohs(h->un.echo.sequence);
        if (seq >= nsent)
            continue;
        unsigned k = seq + (nsent - 1 - seq) / 65536u * 65536u;
        if (!answered[k]) {
            answered[k] = true;
            (*nrecv)++;
        }
    }
}

static int ping(const char *ip, const struct opts *o)
{
    static uint64_t sent_at[MAX_LOST];
    static bool answered[MAX_LOST];
    struct sockaddr_in to = { .sin_family = AF_INET };
    uint16_t id = (uint16_t)getpid();
    unsigned nsent = 0, nrecv = 0;
    int s;

    if (inet_pton(AF_INET, ip, &to.sin_addr) != 1) {
        fprintf(stderr, "rtvirt-netcheck: ping: not an IPv4 address: %s\n", ip);
        return 2;
    }
    if ((s = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMP)) < 0) {
        perror("rtvirt-netcheck: raw socket");
        return 2;
    }
    uint64_t t0 = rtv_now_us(), next = t0;
    while (!stopping(o, t0) && nsent < MAX_LOST) {
        uint64_t now = rtv_now_us();
        if (now >= next) {
            struct icmphdr h = { .type = ICMP_ECHO };
            h.un.echo.id = htons(id);
            h.un.echo.sequence = htons((uint16_t)nsent);
            h.checksum = csum(&h, sizeof(h));
            sent_at[nsent] = rtv_wall_ms();
            sendto(s, &h, sizeof(h), 0, (struct sockaddr *)&to, sizeof(to));
            nsent++;
            next += (uint64_t)o->interval_ms * 1000u;
        }
        struct pollfd p = { .fd = s, .events = POLLIN };
        uint64_t wait = next > now ? (next - now) / 1000u : 0;
        poll(&p, 1, (int)wait);
        take_replies(s, id, nsent, answered, &nrecv);
    }
    /* The last second's replies may still be on their way: wait for them. */
    uint64_t grace = rtv_now_us() + 1000000u;
    while (rtv_now_us() < grace) {
        struct pollfd p = { .fd = s, .events = POLLIN };
        poll(&p, 1, 50);
        take_replies(s, id, nsent, answered, &nrecv);
    }
    close(s);
    FILE *f = out_file(o);
    fprintf(f, "{\"mode\": \"ping\", \"sent\": %u, \"received\": %u, \"interval_ms\": %u, "
            "\"lost_sent_ms\": [", nsent, nrecv, o->interval_ms);
    bool first = true;
    for (unsigned i = 0; i < nsent; i++)
        if (!answered[i]) {
            fprintf(f, "%s%llu", first ? "" : ", ", (unsigned long long)sent_at[i]);
            first = false;
        }
    /* The echo gaps: for each run of unanswered echoes, the send times of
     * the answered echo before it and of the first answered after it (a run
     * at the end: the last echo sent).  What a switch's blackout is at the
     * packet level: from the last echo that made the round trip to the
     * next one that did. */
    fprintf(f, "], \"echo_gaps\": [");
    first = true;
    for (unsigned i = 0, last = UINT32_MAX; i < nsent; i++) {
        bool end = i + 1 == nsent;
        if (!answered[i] && !end)
            continue;
        if (i > 0 && !answered[i - 1] && (answered[i] || end)) {
            uint64_t from = sent_at[last == UINT32_MAX ? 0 : last];
            fprintf(f, "%s[%llu, %llu]", first ? "" : ", ", (unsigned long long)from,
                    (unsigned long long)(sent_at[i] - from));
            first = false;
        }
        if (answered[i])
            last = i;
    }
    fprintf(f, "]}\n");
    if (f != stdout)
        fclose(f);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: rtvirt-netcheck stream (--listen PORT | --connect IP:PORT) [--rate KBPS |"
               " --bulk]\n"
               "                       [--seconds S] [--stop-file F] [--gap-ms G] [--out FILE]\n"
               "       rtvirt-netcheck ping IP [--interval-ms I] [--seconds S] [--stop-file F]"
               " [--out FILE]\n");
}

int main(int argc, char **argv)
{
    struct opts o = { .gap_ms = 20, .interval_ms = 2 };
    const char *cmd = argc > 1 ? argv[1] : "", *ip = NULL;
    struct sigaction sa;

    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--bulk") == 0) {
            o.bulk = true;
            continue;
        }
        if (a[0] != '-') {
            ip = a;
            continue;
        }
        if (v == NULL) {
            usage(stderr);
            return 2;
        }
        i++;
        if (strcmp(a, "--listen") == 0)
            o.listen_port = atoi(v);
        else if (strcmp(a, "--connect") == 0)
            o.connect = v;
        else if (strcmp(a, "--rate") == 0)
            o.rate_kbps = (unsigned)atoi(v);
        else if (strcmp(a, "--seconds") == 0)
            o.seconds = (unsigned)atoi(v);
        else if (strcmp(a, "--stop-file") == 0)
            o.stop_file = v;
        else if (strcmp(a, "--gap-ms") == 0)
            o.gap_ms = (unsigned)atoi(v);
        else if (strcmp(a, "--interval-ms") == 0)
            o.interval_ms = (unsigned)atoi(v) ? (unsigned)atoi(v) : 1;
        else if (strcmp(a, "--out") == 0)
            o.out = v;
        else {
            usage(stderr);
            return 2;
        }
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (strcmp(cmd, "stream") == 0 && (o.listen_port > 0) != (o.connect != NULL))
        return stream(&o);
    if (strcmp(cmd, "ping") == 0 && ip)
        return ping(ip, &o);
    usage(stderr);
    return 2;
}
