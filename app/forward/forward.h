/*
 * forward.h — what forwarding mail to outside addresses needs besides the
 * delivery path itself: the SRS key, the per-alias rate limit, the loop
 * checks and the forwarded copy's envelope sender.
 *
 * Design. An alias may name addresses outside our domains
 * (store_resolve_forwards). Each message that reaches such targets is
 * forwarded as one more entry of the outbound queue, in the same commit
 * as its local copies (forward_copy.h builds it), with the envelope
 * sender rewritten with SRS (srs.h) into the domain of the address that
 * was forwarded, so SPF passes at the next hop and a bounce comes back to
 * us and on to the original sender; the null sender stays null and a
 * sender in one of our own domains stays as it is (our SPF covers it
 * already). Each copy carries a "Delivered-To: <address>" field for each
 * address of ours that forwarded it, as Postfix's local(8) adds: when the
 * copy comes back (a loop through another forwarder) forward_scan finds
 * it and the copy is not forwarded again.
 * A message with FORWARD_HOPS_MAX Received fields or more (ours included)
 * is a loop whatever its recipients (Postfix's hopcount_limit).
 *
 * The rate limit counts forwarded messages per alias (the alias that
 * names the outside targets; for a bounce, the SRS address) in a sliding
 * hour (core/rate.h), whatever the number of targets: TERN_FORWARD_RATE.
 * The messages an account's Sieve scripts compose because mail came in
 * (vacation replies, notifications) count against the same limit per
 * account, under a key no address has: like a forward they are caused by
 * strangers' mail, so they do not spend the account's own sending budget
 * (TERN_SEND_RATE), which a flood of messages from fresh senders could
 * otherwise use up for an hour.
 *
 * Caveats: the SRS key comes from $TERN_DATA_DIR/secrets.key (see
 * admin_secret_derive): a new key file makes the SRS addresses of mail
 * already forwarded invalid (their bounces are refused). The rate window
 * is in memory and resets at restart. Functions here are thread-safe
 * after forward_init().
 */
#ifndef TERN_FORWARD_FORWARD_H
#define TERN_FORWARD_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "core/rate.h"
#include "core/str.h"
#include "forward/srs.h"

/* Received fields (ours included) at which a message is a loop (Postfix's
 * hopcount_limit: cleanup counts them as we do and refuses at the limit). */
#define FORWARD_HOPS_MAX 50
/* Outside targets kept per recipient address. */
#define FORWARD_TARGETS_MAX 32

/*
 * Server start: derives the SRS key from data_dir's key file (made when
 * missing) and sets the rate limit (forwarded messages per alias and
 * hour, 0 = unlimited). 0, or -1 with a logged reason: without a key
 * nothing can be forwarded, and SRS addresses are refused.
 */
int forward_init(const char *data_dir, unsigned per_hour);

/* The SRS key, or NULL before a successful forward_init(). */
const struct srs *forward_srs(void);

/* 1 when alias (an address, ASCII case ignored) may forward one more
 * message at now_ms (monotonic), 0 when its hour is full. */
int forward_rate_allowed(const char *alias, uint64_t now_ms);
/* Counts one message forwarded through alias at now_ms. */
void forward_rate_record(const char *alias, uint64_t now_ms);
/* 1 when account's scripts may send one more message of their own (a
 * vacation reply, a notification, whatever its number of recipients) at
 * now_ms, 0 when its hour is full. */
int forward_rate_account_allowed(uint32_t account, uint64_t now_ms);
/* Counts one such message of account at now_ms. */
void forward_rate_account_record(uint32_t account, uint64_t now_ms);

/*
 * Loop checks on a message's header section (msg is the whole message,
 * len octets; only the header is read). *received_r gets the number of
 * Received fields; the return is 1 when a Delivered-To field names addr
 * (ASCII case ignored, angle brackets and white space around it
 * ignored), else 0. addr NULL only counts.
 */
int forward_scan(const char *msg, size_t len, const char *addr, unsigned *received_r);

/* 1 when msg's header section has any ARC field (ARC-Seal,
 * ARC-Message-Signature, ARC-Authentication-Results), else 0. */
int forward_has_arc(const char *msg, size_t len);

/*
 * The envelope sender of a forwarded copy, into out (outsz octets):
 * "" for the null sender; sender itself when sender_local (one of our
 * domains); else its SRS rewrite into fwd_domain's A-labels (an ASCII
 * sender whatever spelling the alias was written in) at now (seconds).
 * When SRS cannot rewrite it (a quoted local part, too long, a domain
 * with no A-labels) the sender is kept as it is. Returns the srs.h
 * result of the rewrite (SRS_OK also when none was needed), for the log.
 */
int forward_sender(const char *sender, int sender_local, const char *fwd_domain, int64_t now,
		   char *out, size_t outsz);

/*
 * The ORCPT an alias's outside target goes with, into out (outsz
 * octets, SQ_ORCPT_MAX + 1 is enough): the one the alias's RCPT gave
 * (given, decoded "type;addr"), else "rfc822;<alias>" (RFC 3461 §4.2:
 * one a relay adds MUST be the address it received), so the sender's
 * notice names the address the sender wrote to. Returns out, or NULL
 * for none: a UTF-8 alias without ORCPT (its "utf-8" form is RFC
 * 6533's, not made here) or one that does not fit.
 */
const char *forward_orcpt(const char *given, const char *alias, char *out, size_t outsz);

struct store;
/*
 * addr is one of our SRS addresses (an SRS local part at a domain of st,
 * in either spelling of an internationalized one):
 * 1 and out set to where it reverses when it verifies, -1 when it does
 * not (bad hash, expired, malformed, no key), 0 when addr is no SRS
 * address of ours (out ""). *why_r (may be NULL) gets srs_reverse()'s
 * result when there was one. Reads the store (any thread).
 */
int forward_reverse_local(struct store *st, const char *addr, char *out, size_t outsz, int *why_r);

#endif
