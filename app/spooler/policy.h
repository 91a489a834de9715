/* What the spooler does with the answer to one send: Meta's error codes
 * mapped to actions by one table (policy.c), and the backoff between
 * attempts. Pure: no I/O, so it can be unit-tested alone. */
#ifndef WZ_SPOOLER_POLICY_H
#define WZ_SPOOLER_POLICY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pol_action {
	POL_SENT,		/* 2xx: Meta accepted the message */
	POL_RETRY,		/* transient: back to the queue after a backoff */
	POL_RETRY_RECIPIENT,	/* 131056: this recipient only, 4^n s, >= 6 s */
	POL_PERMANENT,		/* fail the message with Meta's error */
	POL_PAUSE_ACCOUNT,	/* the account cannot send (token, lock,
				   billing, spam pause): requeue without
				   counting the attempt, pause the account */
	POL_AMBIGUOUS,		/* the request may have reached Meta with no
				   answer back: leave it 'sending' */
};

/* One row of the policy table: a code, or a range of codes. */
struct pol_rule {
	int		 lo, hi;
	enum pol_action	 action;
	int		 base_s;	/* first backoff (retries) or pause */
	int		 max_attempts;	/* retries: fail after this many sends */
	const char	*why;
	bool		 stop_campaign;	/* a campaign message that gets it
					   fails and stops its campaign */
};

#define POL_TITLE_MAX	255	/* messages.error_title is VARCHAR(255) */
#define POL_MESSAGE_MAX	1024

/* The classification of one finished request. */
struct pol_outcome {
	enum pol_action	 action;
	bool		 has_code;
	int		 code;		/* Meta's error.code when has_code */
	long		 http_status;	/* 0 when no response arrived */
	int		 base_s;
	int		 max_attempts;
	bool		 stop_campaign;	/* the rule's: see struct pol_rule */
	char		 title[POL_TITLE_MAX * 4 + 1];	/* UTF-8 */
	char		 message[POL_MESSAGE_MAX * 4 + 1];
	char		 wamid[256];	/* POL_SENT: messages[0].id, or "" */
};

/* What the transport saw. curl_ok false means no complete HTTP response;
 * then maybe_sent tells whether the whole request had been written
 * (only then may Meta have acted on it) and errtext says why. */
struct pol_input {
	bool		 curl_ok;
	bool		 maybe_sent;
	const char	*errtext;
	long		 http_status;
	const char	*body;
	size_t		 len;
};

/* The table row for a Meta error code, or NULL if the code is not in it. */
const struct pol_rule *policy_rule(int code);
/* Classifies one answer. Never fails: an unreadable body is classified by
 * the HTTP status alone. */
void	 policy_classify(const struct pol_input *, struct pol_outcome *);

#define POL_MAX_AGE_S		(24 * 3600)	/* give up on older messages */
#define POL_MAX_ATTEMPTS	20		/* whatever the error */
#define POL_BACKOFF_CAP_S	300

/* The wait before the next attempt of a retried message, in microseconds:
 * base * 2^(attempt-1) (4^attempt and at least 6 s for a recipient's pair
 * limit), capped at POL_BACKOFF_CAP_S unless the base is larger, times a
 * jitter of +-20 % (r01 uniform in [0, 1)), never below the floor.
 * attempt counts from 1. */
int64_t	 policy_backoff_us(const struct pol_outcome *, int attempt, double r01);
/* True when a retry must become a failure: too many attempts or too old. */
bool	 policy_give_up(const struct pol_outcome *, int attempt, long long age_s);

#endif
