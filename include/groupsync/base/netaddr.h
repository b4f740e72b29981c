/*
 * Client addresses behind a reverse proxy. With GROUPSYNC_TRUSTED_PROXIES
 * set, a request whose TCP peer is one of those proxies is logged with
 * the client address the proxy reports (X-Forwarded-For, X-Real-IP);
 * from anyone else those headers are ignored, since any client can send
 * them.
 */
#ifndef GROUPSYNC_NETADDR_H
#define GROUPSYNC_NETADDR_H

#include <stddef.h>

/* Longest textual IPv6 address plus NUL (INET6_ADDRSTRLEN). */
#define NETADDR_MAX 46

/*
 * Checks a comma-separated list of IP addresses and CIDR prefixes
 * ("127.0.0.1, 10.0.0.0/8, fd00::/8"). Returns 0, or -1 with err set.
 */
int netaddr_list_check(const char *list, char *err, size_t errlen);

/* 1 if ip (an address) is in list (as above); 0 if not or not an address. */
int netaddr_in_list(const char *ip, const char *list);

/*
 * The client's address into out: peer itself unless peer is in trusted;
 * then the right-most X-Forwarded-For entry that is not a trusted proxy
 * (all trusted: the left-most), else X-Real-IP, else peer. Entries that
 * are not IP addresses are never used. Returns out.
 */
const char *netaddr_client(const char *peer, const char *xff, const char *xrealip,
    const char *trusted, char out[NETADDR_MAX]);

#endif
