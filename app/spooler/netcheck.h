/* The webhook targets' address check (SSRF guard, SPEC 6): which
 * addresses a delivery may connect to. Pure: no resolution, no sockets;
 * http.c calls it for each address a connection is about to be opened
 * to, after DNS, so a name cannot slip past. */
#ifndef WZ_SPOOLER_NETCHECK_H
#define WZ_SPOOLER_NETCHECK_H
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

enum net_class {
	NET_PUBLIC,		/* allowed */
	NET_UNSPECIFIED,	/* 0.0.0.0/8, :: */
	NET_PRIVATE,		/* 10/8, 172.16/12, 192.168/16 */
	NET_SHARED,		/* 100.64/10 (carrier-grade NAT) */
	NET_LOOPBACK,		/* 127/8, ::1 */
	NET_LINK_LOCAL,		/* 169.254/16, fe80::/10 */
	NET_PROTOCOL,		/* 192.0.0/24 (IETF protocol assignments) */
	NET_DOCUMENTATION,	/* 192.0.2/24, 198.51.100/24, 203.0.113/24,
				   2001:db8::/32 */
	NET_BENCHMARK,		/* 198.18/15 */
	NET_MULTICAST,		/* 224/4, ff00::/8 */
	NET_RESERVED,		/* 240/4, 255.255.255.255 */
	NET_UNIQUE_LOCAL,	/* fc00::/7 */
	NET_SITE_LOCAL,		/* fec0::/10 */
	NET_DISCARD,		/* 100::/64 */
	NET_TUNNEL,		/* 192.88.99/24 (6to4 relay anycast),
				   64:ff9b:1::/48 (local-use NAT64),
				   2001::/32 (Teredo) */
	NET_UNKNOWN,		/* not IPv4 or IPv6 */
};

/* IPv4 in host order. */
enum net_class	 net_class_v4(uint32_t);
/* 16 bytes; the IPv4 inside mapped (::ffff:0:0/96), SIIT translated
 * (::ffff:0:0:0/96), compatible (::/96), NAT64 (64:ff9b::/96) and 6to4
 * (2002::/16) addresses is judged as IPv4. */
enum net_class	 net_class_v6(const uint8_t *);
enum net_class	 net_classify(const struct sockaddr *, socklen_t);
/* "a loopback address", ...: for "Refused: <addr> is <this>". */
const char	*net_class_text(enum net_class);

#endif
