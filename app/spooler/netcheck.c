/* The webhook targets' address check (netcheck.h): the special-purpose
 * ranges of the IANA registries that a delivery must not reach. */
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdbool.h>
#include <string.h>

#include "netcheck.h"

struct range4 {
	uint32_t	 net;
	unsigned	 bits;
	enum net_class	 cls;
};

static const struct range4 v4[] = {
	{ 0x00000000, 8, NET_UNSPECIFIED },	/* 0/8 */
	{ 0x0a000000, 8, NET_PRIVATE },		/* 10/8 */
	{ 0x64400000, 10, NET_SHARED },		/* 100.64/10 */
	{ 0x7f000000, 8, NET_LOOPBACK },	/* 127/8 */
	{ 0xa9fe0000, 16, NET_LINK_LOCAL },	/* 169.254/16 */
	{ 0xac100000, 12, NET_PRIVATE },	/* 172.16/12 */
	{ 0xc0000000, 24, NET_PROTOCOL },	/* 192.0.0/24 */
	{ 0xc0000200, 24, NET_DOCUMENTATION },	/* 192.0.2/24 */
	{ 0xc0586300, 24, NET_TUNNEL },		/* 192.88.99/24: 6to4 relay
						   anycast */
	{ 0xc0a80000, 16, NET_PRIVATE },	/* 192.168/16 */
	{ 0xc6120000, 15, NET_BENCHMARK },	/* 198.18/15 */
	{ 0xc6336400, 24, NET_DOCUMENTATION },	/* 198.51.100/24 */
	{ 0xcb007100, 24, NET_DOCUMENTATION },	/* 203.0.113/24 */
	{ 0xe0000000, 4, NET_MULTICAST },	/* 224/4 */
	{ 0xf0000000, 4, NET_RESERVED },	/* 240/4, broadcast too */
};

enum net_class
net_class_v4(uint32_t a)
{
	size_t i;

	for (i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
		if ((a & (0xffffffffu << (32 - v4[i].bits))) == v4[i].net)
			return v4[i].cls;
	return NET_PUBLIC;
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static bool
zero(const uint8_t *p, size_t n)
{
	while (n-- > 0)
		if (*p++ != 0)
			return false;
	return true;
}

enum net_class
net_class_v6(const uint8_t *a)
{
	static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b };
	static const uint8_t nat64_local[6] = { 0, 0x64, 0xff, 0x9b, 0, 1 };

	if (zero(a, 16))
		return NET_UNSPECIFIED;
	if (zero(a, 15) && a[15] == 1)
		return NET_LOOPBACK;
	/* IPv4 inside: mapped, SIIT translated (::ffff:0:0:0/96),
	 * compatible, NAT64, 6to4. */
	if (zero(a, 10) && a[10] == 0xff && a[11] == 0xff)
		return net_class_v4(be32(a + 12));
	if (zero(a, 8) && a[8] == 0xff && a[9] == 0xff && a[10] == 0 &&
	    a[11] == 0)
		return net_class_v4(be32(a + 12));
	if (zero(a, 12))
		return net_class_v4(be32(a + 12));
	if (memcmp(a, nat64, 12) == 0)
		return net_class_v4(be32(a + 12));
	if (a[0] == 0x20 && a[1] == 0x02)
		return net_class_v4(be32(a + 2));
	/* Local-use NAT64 (64:ff9b:1::/48: any mapping, the translator is
	 * local) and Teredo (2001::/32: its server and client addresses,
	 * obfuscated, say nothing sure of where it ends): refused whole. */
	if (memcmp(a, nat64_local, 6) == 0 || (a[0] == 0x20 && a[1] == 0x01 &&
	    a[2] == 0 && a[3] == 0))
		return NET_TUNNEL;
	if ((a[0] & 0xfe) == 0xfc)
		return NET_UNIQUE_LOCAL;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return NET_LINK_LOCAL;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return NET_SITE_LOCAL;
	if (a[0] == 0xff)
		return NET_MULTICAST;
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return NET_DOCUMENTATION;
	if (a[0] == 0x01 && zero(a + 1, 7))
		return NET_DISCARD;
	return NET_PUBLIC;
}

enum net_class
net_classify(const struct sockaddr *sa, socklen_t len)
{
	if (sa->sa_family == AF_INET &&
	    len >= (socklen_t)sizeof(struct sockaddr_in))
		return net_class_v4(ntohl(((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6 &&
	    len >= (socklen_t)sizeof(struct sockaddr_in6))
		return net_class_v6(((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr.s6_addr);
	return NET_UNKNOWN;
}

const char *
net_class_text(enum net_class c)
{
	switch (c) {
	case NET_PUBLIC:
		return "a public address";
	case NET_UNSPECIFIED:
		return "an unspecified address";
	case NET_PRIVATE:
		return "a private address";
	case NET_SHARED:
		return "a shared (carrier-grade NAT) address";
	case NET_LOOPBACK:
		return "a loopback address";
	case NET_LINK_LOCAL:
		return "a link-local address";
	case NET_PROTOCOL:
		return "an IETF protocol address";
	case NET_DOCUMENTATION:
		return "a documentation address";
	case NET_BENCHMARK:
		return "a benchmarking address";
	case NET_MULTICAST:
		return "a multicast address";
	case NET_RESERVED:
		return "a reserved address";
	case NET_UNIQUE_LOCAL:
		return "a unique local address";
	case NET_SITE_LOCAL:
		return "a site-local address";
	case NET_DISCARD:
		return "a discard-only address";
	case NET_TUNNEL:
		return "a tunnel or translation address";
	case NET_UNKNOWN:
		break;
	}
	return "not an IP address";
}
