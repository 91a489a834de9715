/* The webhook delivery's pure parts: the address check (netcheck.c) and
 * the policy (whpolicy.c): classes, schedule, Retry-After, excerpts. */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "netcheck.h"
#include "text.h"
#include "tests.h"
#include "whpolicy.h"

static enum net_class
cls(const char *text)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;

	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, text, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		return net_classify((struct sockaddr *)&s4, sizeof(s4));
	}
	ck_assert_int_eq(inet_pton(AF_INET6, text, &s6.sin6_addr), 1);
	s6.sin6_family = AF_INET6;
	return net_classify((struct sockaddr *)&s6, sizeof(s6));
}

static const struct {
	const char	*addr;
	enum net_class	 want;
} cases[] = {
	{ "0.0.0.0", NET_UNSPECIFIED },
	{ "0.1.2.3", NET_UNSPECIFIED },
	{ "10.0.0.1", NET_PRIVATE },
	{ "10.255.255.255", NET_PRIVATE },
	{ "100.64.0.1", NET_SHARED },
	{ "100.127.255.254", NET_SHARED },
	{ "100.128.0.1", NET_PUBLIC },
	{ "100.63.255.255", NET_PUBLIC },
	{ "127.0.0.1", NET_LOOPBACK },
	{ "127.255.0.9", NET_LOOPBACK },
	{ "169.254.169.254", NET_LINK_LOCAL },
	{ "172.16.0.1", NET_PRIVATE },
	{ "172.31.255.255", NET_PRIVATE },
	{ "172.32.0.1", NET_PUBLIC },
	{ "172.15.255.255", NET_PUBLIC },
	{ "192.0.0.8", NET_PROTOCOL },
	{ "192.0.2.1", NET_DOCUMENTATION },
	{ "192.168.1.1", NET_PRIVATE },
	{ "198.18.0.1", NET_BENCHMARK },
	{ "198.19.255.255", NET_BENCHMARK },
	{ "198.20.0.1", NET_PUBLIC },
	{ "198.51.100.7", NET_DOCUMENTATION },
	{ "203.0.113.9", NET_DOCUMENTATION },
	{ "224.0.0.1", NET_MULTICAST },
	{ "239.255.255.250", NET_MULTICAST },
	{ "240.0.0.1", NET_RESERVED },
	{ "255.255.255.255", NET_RESERVED },
	{ "8.8.8.8", NET_PUBLIC },
	{ "93.184.216.34", NET_PUBLIC },
	{ "192.0.3.1", NET_PUBLIC },
	{ "::", NET_UNSPECIFIED },
	{ "::1", NET_LOOPBACK },
	{ "::ffff:127.0.0.1", NET_LOOPBACK },
	{ "::ffff:10.1.2.3", NET_PRIVATE },
	{ "::ffff:8.8.8.8", NET_PUBLIC },
	{ "::127.0.0.1", NET_LOOPBACK },
	{ "::169.254.169.254", NET_LINK_LOCAL },
	{ "64:ff9b::7f00:1", NET_LOOPBACK },
	{ "64:ff9b::a9fe:a9fe", NET_LINK_LOCAL },
	{ "64:ff9b::808:808", NET_PUBLIC },
	{ "2002:7f00:1::", NET_LOOPBACK },
	{ "2002:c0a8:101::1", NET_PRIVATE },
	{ "2002:808:808::1", NET_PUBLIC },
	{ "fc00::1", NET_UNIQUE_LOCAL },
	{ "fd00::1", NET_UNIQUE_LOCAL },
	{ "fe80::1", NET_LINK_LOCAL },
	{ "febf::1", NET_LINK_LOCAL },
	{ "fec0::1", NET_SITE_LOCAL },
	{ "ff02::1", NET_MULTICAST },
	{ "ff05::2", NET_MULTICAST },
	{ "2001:db8::1", NET_DOCUMENTATION },
	{ "100::1", NET_DISCARD },
	{ "100:0:0:1::1", NET_PUBLIC },
	{ "2001:4860:4860::8888", NET_PUBLIC },
	{ "2a00:1450:4001::1", NET_PUBLIC },
	{ "192.88.99.1", NET_TUNNEL },
	{ "192.88.98.1", NET_PUBLIC },
	{ "192.88.100.1", NET_PUBLIC },
	{ "64:ff9b:1::808:808", NET_TUNNEL },
	{ "64:ff9b:1:ffff::1", NET_TUNNEL },
	{ "64:ff9b:2::808:808", NET_PUBLIC },
	{ "2001::1", NET_TUNNEL },
	{ "2001:0:4136:e378:8000:63bf:3fff:fdd2", NET_TUNNEL },
	{ "2001:1::1", NET_PUBLIC },
	{ "::ffff:0:127.0.0.1", NET_LOOPBACK },
	{ "::ffff:0:10.0.0.1", NET_PRIVATE },
	{ "::ffff:0:8.8.8.8", NET_PUBLIC },
};

START_TEST(netcheck_classes)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(cls(cases[i].addr) == cases[i].want,
		    "%s: class %d, want %d", cases[i].addr,
		    (int)cls(cases[i].addr), (int)cases[i].want);
}
END_TEST

START_TEST(netcheck_texts)
{
	struct sockaddr sa;

	ck_assert_str_eq(net_class_text(NET_LOOPBACK), "a loopback address");
	ck_assert_str_eq(net_class_text(NET_LINK_LOCAL),
	    "a link-local address");
	ck_assert_str_eq(net_class_text(NET_PRIVATE), "a private address");
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	ck_assert_int_eq(net_classify(&sa, sizeof(sa)), NET_UNKNOWN);
	/* A short address is not read past its end. */
	sa.sa_family = AF_INET6;
	ck_assert_int_eq(net_classify(&sa, sizeof(sa)), NET_UNKNOWN);
}
END_TEST

START_TEST(whpolicy_classify)
{
	enum wh_verdict v;

	ck_assert_int_eq(wh_classify(true, 0, false, 200, &v), WHC_NONE);
	ck_assert_int_eq(v, WH_OK);
	ck_assert_int_eq(wh_classify(true, 0, false, 299, &v), WHC_NONE);
	ck_assert_int_eq(v, WH_OK);
	ck_assert_int_eq(wh_classify(true, 0, false, 301, &v), WHC_REDIRECT);
	ck_assert_int_eq(v, WH_RETRY);
	ck_assert_int_eq(wh_classify(true, 0, false, 410, &v),
	    WHC_HTTP_STATUS);
	ck_assert_int_eq(v, WH_GONE);
	ck_assert_int_eq(wh_classify(true, 0, false, 500, &v),
	    WHC_HTTP_STATUS);
	ck_assert_int_eq(v, WH_RETRY);
	ck_assert_int_eq(wh_classify(true, 0, false, 100, &v),
	    WHC_HTTP_STATUS);
	ck_assert_int_eq(wh_classify(false, CURLE_OPERATION_TIMEDOUT, false,
	    0, &v), WHC_TIMEOUT);
	ck_assert_int_eq(v, WH_RETRY);
	ck_assert_int_eq(wh_classify(false, CURLE_COULDNT_RESOLVE_HOST, false,
	    0, &v), WHC_DNS);
	ck_assert_int_eq(wh_classify(false, CURLE_COULDNT_CONNECT, false, 0,
	    &v), WHC_CONNECT);
	ck_assert_int_eq(wh_classify(false, CURLE_COULDNT_CONNECT, true, 0,
	    &v), WHC_REFUSED);
	ck_assert_int_eq(v, WH_RETRY);
	ck_assert_int_eq(wh_classify(false, CURLE_PEER_FAILED_VERIFICATION,
	    false, 0, &v), WHC_TLS);
	ck_assert_int_eq(wh_classify(false, CURLE_RECV_ERROR, false, 0, &v),
	    WHC_TRANSPORT);
	ck_assert_ptr_null(wh_class_name(WHC_NONE));
	ck_assert_str_eq(wh_class_name(WHC_REFUSED), "refused_target");
	ck_assert_str_eq(wh_class_name(WHC_HTTP_STATUS), "http_status");
}
END_TEST

START_TEST(whpolicy_schedule)
{
	/* 10 s x 3^(n-1), jitter 0.8 .. 1.2, scaled. */
	ck_assert_int_eq(wh_backoff_ms(1, 0.5, 1), 10000);
	ck_assert_int_eq(wh_backoff_ms(2, 0.5, 1), 30000);
	ck_assert_int_eq(wh_backoff_ms(3, 0.5, 1), 90000);
	ck_assert_int_eq(wh_backoff_ms(1, 0, 1), 8000);
	ck_assert_int_eq(wh_backoff_ms(1, 1, 1), 12000);
	ck_assert_int_eq(wh_backoff_ms(4, 0, 1), 216000);
	ck_assert_int_eq(wh_backoff_ms(4, 1, 1), 324000);
	ck_assert_int_eq(wh_backoff_ms(2, 0.5, 0.001), 30);
	ck_assert_int_eq(wh_backoff_ms(1, 0.5, 0.00001), 1);
	/* Far out it stays finite. */
	ck_assert(wh_backoff_ms(200, 1, 1) > 0);
	/* Cut to the round's end; at or past it, over. */
	ck_assert_int_eq(wh_next_wait_ms(3, 0.5, 1, 1000000, -1), 90000);
	ck_assert_int_eq(wh_next_wait_ms(3, 0.5, 1, 5000, -1), 5000);
	ck_assert_int_eq(wh_next_wait_ms(3, 0.5, 1, 0, -1), -1);
	ck_assert_int_eq(wh_next_wait_ms(1, 0.5, 1, -1, -1), -1);
	/* Retry-After within [wait, 2 x wait]. */
	ck_assert_int_eq(wh_next_wait_ms(1, 0.5, 1, 1000000, 15), 15000);
	ck_assert_int_eq(wh_next_wait_ms(1, 0.5, 1, 1000000, 1), 10000);
	ck_assert_int_eq(wh_next_wait_ms(1, 0.5, 1, 1000000, 3600), 20000);
	ck_assert_int_eq(wh_next_wait_ms(1, 0.5, 1, 12000, 3600), 12000);
	ck_assert_int_eq(wh_next_wait_ms(1, 0.5, 1, 1000000,
	    999999999999LL), 20000);
}
END_TEST

START_TEST(whpolicy_retry_after)
{
	time_t now = 1445412480;	/* Wed, 21 Oct 2015 07:28:00 GMT */

	ck_assert_int_eq(wh_retry_after_s("120", now), 120);
	ck_assert_int_eq(wh_retry_after_s(" 0 ", now), 0);
	ck_assert_int_eq(wh_retry_after_s("Wed, 21 Oct 2015 07:30:00 GMT",
	    now), 120);
	ck_assert_int_eq(wh_retry_after_s("Wed, 21 Oct 2015 07:00:00 GMT",
	    now), 0);
	ck_assert_int_eq(wh_retry_after_s("soon", now), -1);
	ck_assert_int_eq(wh_retry_after_s("12s", now), -1);
	ck_assert_int_eq(wh_retry_after_s("-5", now), -1);
	ck_assert_int_eq(wh_retry_after_s("", now), -1);
	ck_assert_int_eq(wh_retry_after_s(NULL, now), -1);
	ck_assert_int_eq(wh_retry_after_s("99999999999999999999", now),
	    100000000);
	/* A date centuries ahead is capped as a number is (the fuzzer's
	 * find: "Wed,1 Oct 241508:28:00 GMT" parses as the year 2415). */
	ck_assert_int_eq(wh_retry_after_s("Wed, 01 Oct 2415 08:28:00 GMT",
	    now), 100000000);
}
END_TEST

START_TEST(whpolicy_excerpt)
{
	char out[WH_EXCERPT_MAX + 1], big[3000];
	size_t n;

	ck_assert_uint_eq(wh_excerpt("ok \xc3\xbc", 5, out), 5);
	ck_assert_str_eq(out, "ok \xc3\xbc");
	/* A bad byte, a NUL, a cut sequence: U+FFFD each. */
	n = wh_excerpt("a\xff" "b\0c\xc3", 6, out);
	ck_assert_uint_eq(n, 12);
	ck_assert_str_eq(out, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd");
	/* At most 1 KiB, never a sequence cut. */
	memset(big, 'x', sizeof(big));
	ck_assert_uint_eq(wh_excerpt(big, sizeof(big), out), WH_EXCERPT_MAX);
	big[1023] = '\xc3';
	big[1024] = '\xbc';
	ck_assert_uint_eq(wh_excerpt(big, sizeof(big), out), 1023);
	ck_assert_uint_eq(wh_excerpt("", 0, out), 0);
}
END_TEST

/* Texts of records (errors: a Location named in one) are cleaned the
 * same way, to any bound, never cut within a character. */
START_TEST(whpolicy_clean)
{
	char out[513], big[700];
	size_t i, n;

	n = wh_clean("http://x/\xff\xfe", 11, out, 512);
	ck_assert_uint_eq(n, 15);
	ck_assert_str_eq(out, "http://x/\xef\xbf\xbd\xef\xbf\xbd");
	ck_assert(utf8_valid(out, n));
	/* 2-byte characters from an odd offset: a cut at 512 would split
	 * one; the cleaned text stops before it. */
	big[0] = 'h';
	for (i = 1; i + 1 < sizeof(big); i += 2) {
		big[i] = '\xc3';
		big[i + 1] = '\xa9';
	}
	n = wh_clean(big, sizeof(big) - 1, out, 512);
	ck_assert_uint_eq(n, 511);
	ck_assert(utf8_valid(out, n));
	/* Already cut mid-character (as by a capture buffer): the tail byte
	 * becomes U+FFFD if it fits, never stays. */
	n = wh_clean(big, 512, out, 512);
	ck_assert(utf8_valid(out, n));
	ck_assert_uint_le(n, 512);
	n = wh_clean("ab\xc3", 3, out, 512);
	ck_assert_str_eq(out, "ab\xef\xbf\xbd");
}
END_TEST

Suite *
webhooks_suite(void)
{
	Suite *s = suite_create("webhooks");
	TCase *tc = tcase_new("webhooks");

	tcase_add_test(tc, netcheck_classes);
	tcase_add_test(tc, netcheck_texts);
	tcase_add_test(tc, whpolicy_clean);
	tcase_add_test(tc, whpolicy_classify);
	tcase_add_test(tc, whpolicy_schedule);
	tcase_add_test(tc, whpolicy_retry_after);
	tcase_add_test(tc, whpolicy_excerpt);
	suite_add_tcase(s, tc);
	return s;
}
