/* The spooler's local journal: every result it owes the database (what
 * Meta answered, and what it decided itself) is appended here before it is
 * written to the database, and synced while it stays owed, so neither a
 * database outage nor a crash of the process loses an answer Meta gave.
 * See journal.c. */
#ifndef WZ_SPOOLER_JOURNAL_H
#define WZ_SPOOLER_JOURNAL_H
#include <stdbool.h>
#include <sys/types.h>
#include <stdint.h>

enum rec_kind {
	REC_SENT,	/* Meta accepted it: wz_message_result sent */
	REC_FAILED,	/* permanent: wz_message_result failed */
	REC_RETRY,	/* back to the queue after a backoff */
	REC_REQUEUE,	/* back to the queue, attempt not counted */
	REC_PAUSE,	/* the account's queued messages wait (id: account) */
	REC_AMBIGUOUS,	/* no answer, may have reached Meta: let recovery
			   decide (one blind resend at most) */
	/* Webhook deliveries (queue_webhook.c): one attempt's result (id:
	 * the delivery), written by wz_delivery_result. */
	REC_WH_SUCCEEDED,	/* a 2xx answer */
	REC_WH_RETRY,		/* failed; again after delay_us */
	REC_WH_FAILED,		/* failed, the delivery too */
	REC_WH_GONE,		/* 410: failed, the webhook disabled */
	/* The message queue's again (queue_message.c). */
	REC_PARK,	/* a message of a campaign no longer running: back
			   to the queue in the parked lane (2), never
			   claimed again, its attempt not counted */
};

/* A write the database owes, queued so that an outage loses none. */
struct rec {
	struct rec		*next;
	unsigned		 queue;		/* spool_opts.queues' index: 0,
						   the messages, is not
						   written ("q" otherwise) */
	enum rec_kind		 kind;
	unsigned long long	 id;		/* message (account: REC_PAUSE) */
	bool			 has_code;
	int			 code;
	char			*wamid, *title, *message;
	char			*holder;	/* who claimed the message */
	int64_t			 delay_us;	/* seconds for REC_PAUSE */
	/* REC_FAILED: the message's campaign, which stops (failed) with
	 * the same error in the same transaction (Meta's campaign-level
	 * errors); 0: none. */
	unsigned long long	 campaign;
	/* REC_WH_*: the attempt (has_code, code: its HTTP status;
	 * message: the error), which attempt of the delivery it was (the
	 * claim's), its start (unix ms), duration, error class and the
	 * answer's first 1 KiB (valid UTF-8). */
	int			 attempt;
	int64_t			 at_ms;
	long			 duration_ms;
	char			*wclass, *response;
	int			 errors;
	int64_t			 retry_at;	/* after repeated refusals */
};

/* A record as one line of JSON, NUL-terminated, ending in '\n' (freed by
 * the caller). */
char		*journal_encode(const struct rec *);
/* One line (without its '\n') back into a new record; NULL when it does
 * not parse (a line torn by a crash in mid-write). */
struct rec	*journal_decode(const char *, size_t);
void		 rec_free(struct rec *);

struct journal;

/* Opens (creating dir and file as needed) and locks this process' journal
 * in dir; the file is named after the holder. Fatal when another live
 * process on this host uses the same holder name. */
struct journal	*journal_open(const char *dir, const char *holder);
const char	*journal_path(const struct journal *);
/* Appends a record; -1 (logged) when the file cannot take it. */
int		 journal_append(struct journal *, const struct rec *);
/* Makes the appends so far durable (fdatasync); a no-op when none. */
void		 journal_sync(struct journal *);
/* The file holds exactly recs (a list by ->next), written anew and
 * synced: what is owed when results stay refused, so the file does not
 * grow with everything written since. 0, or -1 (logged; unchanged). */
int		 journal_rewrite(struct journal *, const struct rec *recs);
/* The file's size in bytes. */
off_t		 journal_size(const struct journal *);
/* Nothing is owed any more: empties the file. */
void		 journal_clear(struct journal *);
/* Takes over the records owed by spoolers that are gone: those in this
 * journal's file from an earlier process of the same holder (fn called
 * with appended = true: they are in our file already), then every other
 * journal file in the directory that no live process holds (appended =
 * false: fn must journal_append them; they are synced to our file before
 * the orphan is removed). Returns the number of records taken. */
unsigned long	 journal_adopt(struct journal *,
		    void (*fn)(struct rec *, bool appended, void *), void *);
/* Closes; the file is removed when empty. */
void		 journal_close(struct journal *, bool empty);

#endif
