/*
 * cmd_append.c — APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502),
 * UIDPLUS's APPENDUID (RFC 4315), literal8 data (RFC 3516) and the UTF8
 * data item (RFC 6855).
 *
 * Budget first: every literal of an APPEND is checked in
 * imap_append_literal_ok() before "+" is sent (or, for {N+}, before a
 * single octet is kept): at most the APPENDLIMIT (TERN_MAX_MESSAGE_SIZE)
 * per message and, with the literals of the command so far, at most what
 * the account's quota leaves, and while the whole process holds less
 * than APPEND_HELD_MAX of literal data. The store checks the quota again at commit
 * (another session may have used it meanwhile).
 *
 * Then: the whole command is parsed (the parser held the literals,
 * reading them as they arrived without blocking the loop, into spools
 * that go to disk past the memory budget, core/spool.h); the messages'
 * BLAKE2b ids (a big literal's was hashed as it arrived) and MIME
 * structures (mime_cache.h, as SMTP delivery builds them) are computed
 * on the worker pool (on the loop itself for up to
 * APPEND_INLINE_MAX octets), and the messages go to the
 * store's writer as one request chain (store_delivery.also): group commit
 * with the deliveries, all of MULTIAPPEND's messages or none. The tagged
 * OK with APPENDUID is sent from the writer's completion, after the
 * commit. The session waits in IMAP_W_STORE with input paused meanwhile;
 * s->append keeps it alive if the client goes away.
 *
 * Line ends: a message sent in a plain literal (or built by CATENATE from
 * plain literals) has every bare LF made CRLF before it is stored, as
 * Dovecot serves it: RFC 9051 §4.3 lets CR and LF appear in a text only
 * as CRLF, and BODY[], RFC822.SIZE, BINARY.SIZE and BODYSTRUCTURE's
 * sizes then all count the same octets (stored as sent, a bare-LF message
 * had BODYSTRUCTURE count CRLF, IMAP_BS_CRLF, while BODY[] sent LF).
 * A literal8 (RFC 3516) is stored as sent: its binary parts are data,
 * not lines. A bare CR stays, as Dovecot keeps it.
 *
 * Into a mailbox shared with the user (imap_acl.h): it needs "i" (RFC
 * 4314 §4), the message is the owner's (the owner's quota is charged,
 * the owner's encryption at rest applies: sealed whenever the owner has
 * a key, as a delivery, since the owner did not write it; crypt_put_key),
 * and the flags the rights do
 * not let the user set are left out. The literal's quota check before
 * "+" is the owner's too (append_quota_account), and again at commit.
 *
 * CATENATE (imap_catenate.c) builds a message from TEXT literals and URL
 * parts in place of the literal; the rest is the same.
 *
 * REPLACE (cmd_replace.c) is this same path with one message and the old
 * message's UID (and account, when it is another's) on the store
 * request, which expunges it in the commit.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "crypt/crypt_rest.h"
#include "imap/imap_acl.h"
#include "imap/imap_session.h"
#include "mime/mime_cache.h"
#include "net/conn.h"

/* APPEND data all sessions together may hold while it arrives and waits
 * for the commit (each session alone may hold 4 x APPENDLIMIT): past it,
 * a new literal gets NO [LIMIT] and the client retries later. One
 * message of APPENDLIMIT is always admitted when nothing else is held. */
#define APPEND_HELD_MAX ((uint64_t)256 * 1024 * 1024)

/* Up to this many octets of messages in one APPEND, ids and structures
 * are computed on the loop: for a usual message that is cheaper than the
 * worker pool's round trip (two thread wake-ups), and still far below
 * the millisecond a loop may spend on one job. */
#define APPEND_INLINE_MAX ((size_t)64 * 1024)

/* Messages in one MULTIAPPEND (Dovecot has no fixed cap; ours keeps a
 * command's memory bounded together with the command size limit). */
#define APPEND_MSGS_MAX 1000

struct append_msg {
	struct store_delivery d;
	uint32_t email_id; /* d's, for the Junk hook */
	struct buf meta;
	char *keywords;   /* store keywords, space-separated, malloc'ed; NULL = none */
	char *built;      /* CATENATE's message (malloc'ed), or NULL */
	int crlf;         /* sent as text: bare LFs become CRLF (append_prepare) */
	struct buf fixed; /* the message with them made CRLF, when it had some */
	struct spool sealed; /* encryption at rest: the message as stored */
};

struct imap_append {
	struct worker_job wj;
	struct imap_session *s;
	struct imap_lit *lits; /* the command's big literals, kept past the parser */
	struct append_msg *msgs;
	size_t n;
	uint32_t account, mailbox;
	enum imap_cmd_id cmd; /* APPEND, or REPLACE / UID REPLACE (cmd_replace.c) */
	struct crypt_key *key; /* the sealing key, when one applies (crypt_put_key) */
	int failed;            /* sealing failed: nothing is stored */
};

uint64_t imap_append_limit(void)
{
	return imap_cfg->max_message_size;
}

/*
 * The account an APPEND's literals count against before "+": the owner's
 * for a mailbox shared with the user that the user may insert into
 * (imap_acl.h; the owner is charged at commit), else the session's. Only
 * with "i": the owner's quota is not told to a user who may not append.
 */
static uint32_t append_quota_account(struct imap_session *s)
{
	const struct imap_arg *a = imap_parser_first_arg(&s->parser);
	char name[1024];
	struct imap_acl_target t;

	if (s->parser.cmd.id != IMAP_CMD_APPEND || !a ||
	    imap_mailbox_name_of(s, a, name, sizeof name) < 0 ||
	    imap_acl_resolve(imap_store, s->account, name, &t) != STORE_OK ||
	    !imap_acl_allows(t.rights, IMAP_ACL_OP_APPEND))
		return s->account;
	return t.owner;
}

int imap_append_literal_ok(struct imap_session *s, uint64_t size, const char **reply_r)
{
	uint64_t quota = 0, used = 0;

	if (size > imap_append_limit()) {
		*reply_r = IMAP_NO_TOOBIG;
		return 0;
	}
	uint64_t held = imap_literals_held();
	if (held > 0 && held + size > APPEND_HELD_MAX) {
		*reply_r = "NO [LIMIT] Too much message data in flight on this server; try again.";
		return 0;
	}
	if (store_account_usage(imap_store, append_quota_account(s), &quota, &used) != STORE_OK) {
		*reply_r = "NO [UNAVAILABLE] Internal error reading the quota.";
		return 0;
	}
	s->append_bytes += size;
	/* REPLACE frees the message it replaces, which only the commit
	 * counts (store_writer.c): it is refused there, not here. */
	if (quota && used + s->append_bytes > quota && s->parser.cmd.id == IMAP_CMD_APPEND) {
		*reply_r = "NO [OVERQUOTA] Quota exceeded (mailbox for user is full).";
		return 0;
	}
	return 1;
}

static void append_free(struct imap_append *a)
{
	for (size_t i = 0; i < a->n; i++) {
		buf_free(&a->msgs[i].meta);
		buf_free(&a->msgs[i].fixed);
		spool_free(&a->msgs[i].sealed);
		free(a->msgs[i].keywords);
		free(a->msgs[i].built);
	}
	free(a->msgs);
	imap_literals_free(&a->lits);
	crypt_key_release(a->key);
	free(a);
}

static void bad(struct imap_session *s, enum imap_cmd_id cmd, const char *why)
{
	imap_tagged(s, "BAD Error in IMAP command %s: %s", imap_cmd_name(cmd), why);
	imap_session_error(s);
}

/* After the commit (or its failure), on the loop. */
static void append_stored(struct store_delivery *d, void *arg)
{
	struct imap_append *a = arg;
	struct imap_session *s = a->s;

	s->append = NULL;
	if (s->conn_gone) {
		append_free(a);
		imap_session_free(s);
		return;
	}
	s->wait = IMAP_W_NONE;
	switch (d->result) {
	case STORE_OK:
		if (d->replace_uid) {
			/* RFC 8508 §3.4: the APPENDUID untagged, before the
			 * sync's EXISTS and EXPUNGE (VANISHED with QRESYNC). */
			imap_reply(s, "* OK [APPENDUID %u %u] Replacement Message ready",
				   d->uidvalidity_r, d->uid_r);
			imap_session_sync(s);
			imap_tagged(s, "OK Replace completed.");
			break;
		}
		if (s->state == IMAP_S_SELECTED && s->view.account == a->account &&
		    s->view.mailbox == a->mailbox)
			imap_session_sync(s); /* our own message: "* n EXISTS" */
		/* A message the user files into Junk is a lesson (store.h). */
		for (size_t i = 0; i < a->n; i++)
			store_junk_notify(imap_store, a->account, 0, a->mailbox, &a->msgs[i].email_id, 1);
		if (a->n == 1)
			imap_tagged(s, "OK [APPENDUID %u %u] Append completed.", d->uidvalidity_r,
				    d->uid_r);
		else /* one transaction: the UIDs are consecutive */
			imap_tagged(s, "OK [APPENDUID %u %u:%u] Append completed.",
				    d->uidvalidity_r, d->uid_r, a->msgs[a->n - 1].d.uid_r);
		break;
	case STORE_ENOTFOUND:
		if (d->replace_gone_r) /* expunged by another session meanwhile */
			imap_tagged(s, "NO [NONEXISTENT] The message to replace no longer exists.");
		else
			imap_tagged(s, "NO [TRYCREATE] Mailbox doesn't exist.");
		break;
	case STORE_EQUOTA:
		imap_tagged(s, "NO [OVERQUOTA] Quota exceeded (mailbox for user is full).");
		break;
	case STORE_EFULL: /* the server's disk: deleting mail still works (store_reserve.c) */
		imap_disk_full(s);
		break;
	case STORE_EINVAL:
		imap_keywords_too_many(s);
		break;
	default:
		imap_tagged(s, "NO [UNAVAILABLE] Temporary failure storing the message.");
		break;
	}
	log_info("imap", s->id, "event=%s mailbox=%u messages=%zu result=%d",
		 d->replace_uid ? "replace" : "append", a->mailbox, a->n, d->result);
	append_free(a);
	imap_cmd_end(s);
	conn_pause_read(s->conn, 0);
	imap_session_input(s);
	imap_flush(s);
}

/* A text message's bare LFs made CRLF (see the top): the data then
 * points at m->fixed, which grows by one octet per bare LF, at most
 * twice the literal that APPENDLIMIT admitted. */
static void crlf_fix(struct append_msg *m)
{
	if (!m->crlf)
		return;
	buf_init(&m->fixed, 2 * m->d.len);
	(void)buf_crlf_text(&m->fixed, &m->d.data, &m->d.len); /* no memory: stored as sent */
}

/* On a worker: ids and MIME structures, linear in the message sizes. */
static void append_prepare(void *arg)
{
	struct imap_append *a = arg;

	for (size_t i = 0; i < a->n; i++) {
		struct append_msg *m = &a->msgs[i];
		crlf_fix(m);
		struct str sealed;
		int rc = a->key ? crypt_seal(a->key, m->d.data, m->d.len, &m->sealed, &sealed) : 0;
		if (rc < 0) {
			a->failed = 1;
			return;
		}
		if (rc > 0) {
			m->d.data = sealed.p;
			m->d.len = sealed.len;
			spool_blob_id(&m->sealed, m->d.blob_id);
		} else if (imap_literal_blob_id(a->lits, m->d.data, m->d.len, m->d.blob_id) < 0) {
			/* A big literal was hashed as it arrived; a small one
			 * is quicker to hash here than to look for. */
			store_blob_id(m->d.data, m->d.len, m->d.blob_id);
		}
		if (mime_cache_build(m->d.data, m->d.len, &m->meta) == 0) {
			m->d.meta = buf_data(&m->meta);
			m->d.metalen = buf_len(&m->meta);
		}
	}
}

/* Back on the loop: hand the chain to the writer. */
static void append_prepared(void *arg)
{
	struct imap_append *a = arg;
	struct imap_session *s = a->s;

	if (s->conn_gone) {
		s->append = NULL;
		append_free(a);
		imap_session_free(s);
		return;
	}
	if (a->failed) {
		struct store_delivery *d = &a->msgs[0].d;
		d->result = STORE_ETEMP;
		append_stored(d, a);
		return;
	}
	for (size_t i = 0; i < a->n; i++) {
		struct store_delivery *d = &a->msgs[i].d;
		d->accounts = &a->account;
		d->naccounts = 1;
		d->mailbox = a->mailbox;
		d->keywords = a->msgs[i].keywords;
		d->email_ids = &a->msgs[i].email_id;
		d->also = i + 1 < a->n ? &a->msgs[i + 1].d : NULL;
	}
	struct store_delivery *d = &a->msgs[0].d;
	d->loop = s->loop;
	d->done = append_stored;
	d->arg = a;
	store_deliver(imap_store, d);
}

/* The flag list of one message into a malloc'ed keyword string. */
/* The flags of a message APPENDed to a shared mailbox: those the rights
 * do not let the user set are left out (RFC 4314 §4, as STORE). */
static void append_flags_by_rights(struct append_msg *m, uint32_t rights)
{
	if (!m->keywords)
		return;
	size_t n = imap_acl_keywords_filter(rights, m->keywords, strlen(m->keywords));
	m->keywords[n] = '\0';
	if (n == 0) {
		free(m->keywords);
		m->keywords = NULL;
	}
}

static int parse_flags(struct imap_session *s, enum imap_cmd_id cmd, const struct imap_arg *arg,
		       char **kw_r)
{
	const struct imap_arg *l;
	size_t n;
	const char *why = NULL;
	struct buf b;

	imap_arg_list(arg, &l, &n);
	buf_init(&b, IMAP_FLAGS_TEXT_MAX);
	for (size_t i = 0; i < n; i++) {
		if (imap_flags_add(&l[i], &b, &why) < 0) {
			buf_free(&b);
			bad(s, cmd, why);
			return -1;
		}
	}
	*kw_r = buf_len(&b) ? xstrndup(buf_data(&b), buf_len(&b)) : NULL;
	buf_free(&b);
	return 0;
}

/* The message data: a literal (literal8 allowed), or UTF8 (literal8);
 * *text_r 1 for a plain literal. */
static int message_arg(const struct imap_arg *args, size_t nargs, size_t *i, struct str *data_r,
		       int *text_r)
{
	const struct imap_arg *a = &args[*i];

	*text_r = 0;
	if (a->type == IMAP_ARG_LITERAL) {
		*data_r = a->str;
		*text_r = !(a->flags & IMAP_ARGF_LITERAL8);
		(*i)++;
		return 0;
	}
	/* RFC 6855 §4: UTF8 (~{n}...) carries a message with UTF-8 headers. */
	if (imap_arg_atom_is(a, "UTF8") && *i + 1 < nargs && args[*i + 1].type == IMAP_ARG_LIST &&
	    args[*i + 1].list_count == 1 && args[*i + 1].list[0].type == IMAP_ARG_LITERAL &&
	    (args[*i + 1].list[0].flags & IMAP_ARGF_LITERAL8)) {
		*data_r = args[*i + 1].list[0].str;
		*i += 2;
		return 0;
	}
	return -1;
}

void imap_append_run(struct imap_session *s, const struct imap_cmd *cmd, size_t first,
		     const struct imap_replace *rep)
{
	char name[1024];
	uint32_t mailbox;

	if (cmd->nargs < first + 2) {
		bad(s, cmd->id, "Missing arguments.");
		return;
	}
	if (imap_mailbox_arg(s, &cmd->args[first], name, sizeof(name)) < 0)
		return;

	struct imap_append *a = xcalloc(1, sizeof(*a));
	a->s = s;
	a->account = s->account;
	a->cmd = cmd->id;
	/* At most one message per argument after the mailbox name; REPLACE
	 * takes exactly one (RFC 8508 §4.7: no MULTIAPPEND). */
	size_t cap = cmd->nargs - first - 1 < APPEND_MSGS_MAX ? cmd->nargs - first - 1
							       : APPEND_MSGS_MAX;
	if (rep)
		cap = 1;
	a->msgs = xcalloc(cap, sizeof(*a->msgs));
	/* Looked up first: a CATENATE into a mailbox that does not exist is
	 * NO [TRYCREATE] whatever its URLs say, as Dovecot answers (the
	 * client creates the mailbox and tries again, URLs and all). A
	 * mailbox shared with the user (imap_acl.h) is its owner's, who
	 * stores the message and is charged for it. */
	struct imap_acl_target t;
	int rc = imap_acl_resolve(imap_store, s->account, name, &t);
	mailbox = t.mailbox;
	if (rc == STORE_OK && t.shared && !(t.rights & STORE_ACL_L))
		rc = STORE_ENOTFOUND; /* RFC 4314 §6: not to be told apart */
	int64_t now = (int64_t)time(NULL);
	size_t i = first + 1;
	while (i < cmd->nargs) {
		struct append_msg *m = &a->msgs[a->n];
		const struct imap_arg *arg = &cmd->args[i];
		struct str date, data;

		if (a->n == cap) {
			bad(s, cmd->id, "Too many messages.");
			goto fail;
		}
		if (a->n == imap_message_limit()) { /* RFC 9738: all or nothing */
			imap_limit_refuse(s, (size_t)a->n + 1);
			goto fail;
		}
		a->n++;
		m->d.received_at = now;
		if (arg->type == IMAP_ARG_LIST) {
			if (parse_flags(s, cmd->id, arg, &m->keywords) < 0)
				goto fail;
			arg = &cmd->args[++i];
		}
		if (arg->type == IMAP_ARG_STRING) {
			int zone;
			date = arg->str;
			if (imap_datetime_parse(date, &m->d.received_at, &zone) < 0) {
				bad(s, cmd->id, "Invalid internal date.");
				goto fail;
			}
			/* Kept: INTERNALDATE comes back in it, and its day is
			 * the one SEARCH BEFORE/ON/SINCE judge (RFC 9051). */
			m->d.received_zone = (int16_t)zone;
			i++;
		}
		if (i + 1 < cmd->nargs && imap_arg_atom_is(&cmd->args[i], "CATENATE") &&
		    cmd->args[i + 1].type == IMAP_ARG_LIST) {
			/* RFC 4469: the message from TEXT and URL parts. */
			size_t len;
			if (rc == STORE_ENOTFOUND && t.shared) {
				imap_tagged(s, "NO [NONEXISTENT] Mailbox doesn't exist: %s", name);
				goto fail;
			}
			if (rc == STORE_ENOTFOUND) {
				char no[sizeof name + 64];
				imap_tagged(s, "%s", imap_missing_target(name, no, sizeof no));
				goto fail;
			}
			if (imap_catenate_build(s, cmd->id, cmd->args[i + 1].list,
						cmd->args[i + 1].list_count, &m->built, &len) < 0)
				goto fail;
			data = str_make(m->built, len);
			m->crlf = 1;
			for (size_t k = 0; k < cmd->args[i + 1].list_count; k++)
				if (cmd->args[i + 1].list[k].flags & IMAP_ARGF_LITERAL8)
					m->crlf = 0; /* a TEXT literal8: binary data */
			i += 2;
		} else if (i >= cmd->nargs ||
			   message_arg(cmd->args, cmd->nargs, &i, &data, &m->crlf) < 0) {
			bad(s, cmd->id, "Invalid arguments.");
			goto fail;
		}
		if (data.len == 0) {
			imap_tagged(s, "NO Can't save a zero byte message.");
			goto fail;
		}
		m->d.data = data.p;
		m->d.len = data.len;
	}
	if (a->n == 0) {
		bad(s, cmd->id, "Missing message.");
		goto fail;
	}

	if (rc == STORE_ENOTFOUND && t.shared) {
		/* No CREATE would make it: not TRYCREATE. */
		imap_tagged(s, "NO [NONEXISTENT] Mailbox doesn't exist: %s", name);
		goto fail;
	}
	if (rc == STORE_ENOTFOUND) {
		char no[sizeof name + 64];
		imap_tagged(s, "%s", imap_missing_target(name, no, sizeof no));
		goto fail;
	}
	if (rc != STORE_OK) {
		imap_tagged(s, "NO [UNAVAILABLE] Internal error.");
		goto fail;
	}
	if (!imap_acl_allows(t.rights, IMAP_ACL_OP_APPEND)) { /* RFC 4314 §4: "i" */
		imap_tagged(s, "NO [NOPERM] Permission denied.");
		goto fail;
	}
	if (t.owner != s->account)
		for (size_t k = 0; k < a->n; k++)
			append_flags_by_rights(&a->msgs[k], t.rights);
	a->account = t.owner;
	a->mailbox = mailbox;
	if (rep) {
		a->msgs[0].d.replace_mailbox = rep->mailbox;
		a->msgs[0].d.replace_uidvalidity = rep->uidvalidity;
		a->msgs[0].d.replace_uid = rep->uid;
		/* Into or out of another account (imap_acl.h): the old
		 * message's account expunges it in the same commit. */
		a->msgs[0].d.replace_account = rep->account;
	}
	/* An account that seals its appends, or a grantee's append into
	 * an owner's shared mailbox that has a key (crypt_put_key): the key
	 * read now, the sealing (a public-key operation a message) always
	 * on a worker. */
	if (crypt_put_key(imap_store, a->account, s->account, &a->key) < 0) {
		imap_tagged(s, "NO [UNAVAILABLE] Internal error.");
		goto fail;
	}
	/* The data of big literals must outlive the parser's next command. */
	a->lits = imap_parser_take_literals(&s->parser);
	a->wj.fn = append_prepare;
	a->wj.done = append_prepared;
	a->wj.arg = a;
	a->wj.loop = s->loop;
	s->append = a;
	s->wait = IMAP_W_STORE;
	conn_pause_read(s->conn, 1);
	size_t total = 0;
	for (size_t k = 0; k < a->n; k++)
		total += a->msgs[k].d.len;
	if (total <= APPEND_INLINE_MAX && !a->key) {
		/* Tens of microseconds: cheaper here than two thread hops. */
		append_prepare(a);
		append_prepared(a);
		return;
	}
	worker_submit(&a->wj);
	return;
fail:
	append_free(a);
}

void imap_cmd_append(struct imap_session *s, const struct imap_cmd *cmd)
{
	imap_append_run(s, cmd, 0, NULL);
}
