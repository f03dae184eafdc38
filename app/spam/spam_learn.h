/*
 * spam_learn.h — learning from what users do (issue 34): an email a user
 * files into Junk trains that account's model as spam (and its fuzzy
 * memory), one taken out of Junk (not to Trash) trains it as ham; when
 * several users agree on the same message, the global model learns it
 * too. The store calls spam_learn_hook (store.h, "Junk moves") after the
 * commit; the work (reading the message, parsing it, the model's writes)
 * runs on the worker pool.
 *
 * Design. What was learned from a message is remembered per account in
 * meta, keyed by the message's content (16 bytes of a BLAKE2b hash of
 * its From and Subject lines and its body: the header we add differs per
 * transaction): spamtrained/<account>/<hex> holds 's' or 'h'. Moving a message to
 * Junk twice trains it once; moving it back out first forgets the spam
 * lesson (spam_forget), then learns ham. The global model's votes are
 * spamvote/<hex>: the accounts that trained the message and which way
 * (at most SPAM_VOTE_MAX), and whether the global model learned it: it
 * does once SPAM_VOTE_AGREE accounts agree (SPAM_VOTE_AGREE_MANY on a
 * server of more than SPAM_VOTE_MANY accounts) and none disagrees, and
 * forgets it when voters change their minds until fewer agree. A message
 * delivered to several local users is one blob, so their votes meet.
 *
 * Each lesson (not a "known" one) also corrects the sender's reputation
 * (spam_rep_correct) for the network and domain the filter saw when tern
 * received the message (meta spamfrom/, kept with the email at
 * delivery), never for what the message's own fields claim. Only an
 * email tern received on port 25 has them: one a client put in the store
 * (IMAP APPEND, JMAP import) teaches its account's model and nothing
 * global, neither reputation nor a vote for the global model, since
 * its user wrote all of it (forged Received and Authentication-Results
 * fields naming someone else's network or domain included).
 *
 * The records go with the email they were learned from: each lesson
 * on a stored email names its key in spamlesson/<account>/<email>, and
 * the store, destroying the email or the account, removes that name,
 * spamtrained/<account>/<hex> and the account's vote in spamvote/<hex>
 * (the record with its last vote). What a model learned stays learned.
 *
 * Two emails of one account with the same key (a copy, one message
 * delivered twice) share one lesson: spamtrained/ counts the emails
 * naming it, and the last one destroyed takes the records (before, the
 * first did, and the other, moved out of Junk, learned ham on top of a
 * spam lesson nobody took back).
 *
 * A copy (IMAP COPY makes an email of its own) learns for the email tern
 * received too: its spamfrom/ names that origin (store_copy.c), and its
 * lesson is named under both, standing at one correction. Before, a
 * message copied into Junk, expunged there and copied again was learned
 * and corrected the sender's reputation once per copy; a MOVE counts once.
 * An origin already expunged gets a name the sweep drops.
 *
 * Caveats: an email read fails (expunged meanwhile) are skipped. An
 * email expunged between the lesson's read and its spamlesson/ write
 * leaves that name, until the sweep after the next lessons
 * (store_spam_sweep, 256 names a batch) finds its email gone. Lessons
 * learned before spamlesson/ existed stay until the account goes (their
 * votes stay).
 */
#ifndef TERN_SPAM_SPAM_LEARN_H
#define TERN_SPAM_SPAM_LEARN_H

#include <stddef.h>
#include <stdint.h>

struct store;

#define SPAM_VOTE_MAX 8
#define SPAM_VOTE_AGREE 2
/* On a server of more than SPAM_VOTE_MANY accounts, SPAM_VOTE_AGREE_MANY
 * must agree: two accounts there are too easy to get (a signup, a
 * colleague) for the pair to steer what every user's filter learns. */
#define SPAM_VOTE_MANY 10
#define SPAM_VOTE_AGREE_MANY 3

/*
 * The store's Junk hook (store_junk_hook_fn): queues the lessons. At
 * most SPAM_LEARN_QUEUE_MAX emails wait: a user moving a large mailbox
 * into Junk and out again, over and over, queued lessons faster than
 * the pool learns them, and the queue grew without bound; past it the
 * emails are not learned (logged event=learn_dropped).
 */
#define SPAM_LEARN_QUEUE_MAX 100000
void spam_learn_hook(struct store *st, uint32_t account, const uint32_t *emails, size_t n,
		     int to_junk);
/* Emails waiting in the queue's lessons. */
size_t spam_learn_pending(void);

/*
 * Learns one message (msg[0..len), the bytes of the account's email
 * email; 0: not a stored email) for account as spam or ham, with the
 * bookkeeping above: synchronous store writes, call it from a worker or
 * the CLI; thread-safe, one lesson at a time (concurrent ones wait).
 * The votes and the reputation count only for an email tern received
 * on port 25. *what_r (may be NULL) says what happened: "trained",
 * "retrained" (the opposite lesson forgotten first), "known" (learned so
 * already), with "+global" when this vote made the global model learn it,
 * "-global" when it took the global model's lesson back (a voter changed
 * their mind and too few agree now).
 * Returns 0 or a store error.
 */
int spam_learn_message(struct store *st, uint32_t account, uint32_t email, const char *msg,
		       size_t len, int is_spam, const char **what_r);

/*
 * What `tern spam train` needs to learn each message once (its lessons
 * have no stored email): the message's key as above, in hex, into
 * hex[SPAM_LEARN_KEY_HEX + 1]; what account's model (0: the global one)
 * learned from the key ('s', 'h'; 0: nothing), read from and written to
 * spamtrained/ACCOUNT/HEX (written after the model took the lessons:
 * a failed write learns them again next time, never loses them). The write keeps the count of emails naming
 * the lesson, so a message a user filed into Junk and the CLI then
 * trains as ham stays one lesson. Returns 0 or a store error.
 */
#define SPAM_LEARN_KEY_HEX 32
void spam_learn_key(const char *msg, size_t len, char hex[SPAM_LEARN_KEY_HEX + 1]);
uint8_t spam_learn_trained(struct store *st, uint32_t account, const char *hex);
struct spam_learn_mark {
	char hex[SPAM_LEARN_KEY_HEX + 1];
	uint8_t what; /* 's' or 'h' */
};
/* Writes the n marks in one store transaction (all or none), then
 * prunes the account's marks (spam_learn_marks_prune, at
 * SPAM_LEARN_MARKS_MAX). 0 or a store error. */
int spam_learn_trained_set(struct store *st, uint32_t account, const struct spam_learn_mark *v,
			   size_t n);
/*
 * The marks no email names (the CLI's, a count of 0: those an email
 * names go with their emails) would grow with every message ever
 * trained; as Rspamd's learn cache expires, the account keeps the max
 * newest and the oldest go (in one store transaction). A message whose
 * mark went is learned again if trained again. Returns 0 or a store
 * error.
 */
#define SPAM_LEARN_MARKS_MAX 100000
int spam_learn_marks_prune(struct store *st, uint32_t account, size_t max);

/*
 * The global model's lessons from the filter's own signals (a spam trap,
 * strong blocklist listings: smtp/smtp_spam.c) count each message once,
 * as Rspamd's learn cache has it: 1 the first time msg[0..len) (the
 * message as its sender wrote it; the key is the one above) comes, 0
 * when it came recently. Without it a greylisted message learned at its
 * 451 and again at its retry, and a campaign sending one text over and
 * over to a trap was learned once a copy, its counts growing with each
 * and its byte-gram lessons pushing the trained ones out (the regression
 * keeps the newest SPAM_GRAM_LESSONS_MAX). Remembered in memory, one key
 * in each of SPAM_LEARN_OWN_SEEN slots chosen by the key (a newer key in
 * the slot forgets the older), not across a restart. Only the first
 * SPAM_LEARN_OWN_BYTES octets are read (about 60 us of hashing: the SMTP
 * stage asks on its loop); two texts alike that far are one. Thread-safe.
 */
#define SPAM_LEARN_OWN_SEEN 4096
#define SPAM_LEARN_OWN_BYTES (64 * 1024)
int spam_learn_own_first(const char *msg, size_t len);

#endif
