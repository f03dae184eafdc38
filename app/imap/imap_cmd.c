/*
 * imap_cmd.c — the IMAP command table, dispatch, the capability list, the
 * commands too small for a file of their own (CAPABILITY, NOOP, CHECK,
 * LOGOUT, CLOSE, UNSELECT, NAMESPACE) and helpers the handlers share.
 *
 * Each command is check (the table says in which states it is allowed) ->
 * policy -> proceed in its handler. A command the table does not know, or
 * one that is not implemented yet, gets "BAD" and counts as a client
 * error; one used in the wrong state gets "BAD" with the reason, as
 * Dovecot answers.
 */
#include <stdio.h>
#include <string.h>

#include "auth/sasl.h"
#include "imap/imap_session.h"
#include "http/http_server.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/utf8.h"
#include "imap/imap_acl.h"
#include "imap/imap_utf7.h"
#include "net/conn.h"
#include "store/store.h"

typedef void imap_cmd_fn(struct imap_session *s, const struct imap_cmd *cmd);

#define ST(x) (1u << (x))
#define NOAUTH ST(IMAP_S_NOT_AUTH)
#define AUTHED ST(IMAP_S_AUTH)
#define SELECTED ST(IMAP_S_SELECTED)
#define ANY (NOAUTH | AUTHED | SELECTED)
/* With the states: the grammar gives the command no arguments (RFC 9051
 * §9: command-any, "CHECK", "UNSELECT", "NAMESPACE"), so any is BAD, as
 * for every command whose arguments are wrong. */
#define NOARGS (1u << 16)

struct imap_cmd_def {
	enum imap_cmd_id id;
	imap_cmd_fn *fn;
	unsigned states; /* bit per enum imap_state, and NOARGS */
};

/* The capabilities this slice implements; nothing else is advertised. */
/* Search, list, sort and thread extensions (one line: the imap2 branch's). */
#define CAPS_IMAP2 " ESEARCH SEARCHRES WITHIN LIST-EXTENDED LIST-STATUS CREATE-SPECIAL-USE OBJECTID SAVEDATE PREVIEW SORT SORT=DISPLAY THREAD=REFERENCES THREAD=ORDEREDSUBJECT"
#define CAPS_BASE "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UIDPLUS UNSELECT CHILDREN SPECIAL-USE STATUS=SIZE BINARY" CAPS_IMAP2

/* Added by later slices, one line each so that their merges stay apart. */
#define CAPS_MORE \
	" MULTIAPPEND" \
	" MOVE" \
	" REPLACE" \
	" CONDSTORE" \
	" QRESYNC" \
	" QUOTA QUOTA=RES-STORAGE" \
	" IMAP4rev2 UTF8=ACCEPT" \
	" ESORT PARTIAL" \
	" METADATA METADATA-SERVER" \
	" CONTEXT=SEARCH CONTEXT=SORT" \
	" I18NLEVEL=1" \
	" CATENATE URL-PARTIAL" \
	" NOTIFY" \
	" URLAUTH" \
	" UIDONLY" \
	" INPROGRESS" \
	""

const char *imap_capabilities(const struct imap_session *s)
{
	/* APPENDLIMIT carries the configured size; one buffer per loop thread. */
	static __thread char caps[1024];
	char auth[128];
	sasl_mechs_each(" AUTH=", "", auth, sizeof auth);
	const char *tail = s->state != IMAP_S_NOT_AUTH ? ""
			   : imap_secure(s) ? auth
					    /* Before TLS: no mechanism may be used
					     * (loopback included). */
					    : " STARTTLS LOGINDISABLED";
	/* COMPRESS is a command-auth (RFC 4978 §5): before login it is BAD, so
	 * it is offered only once it can be used, as Dovecot does; the
	 * capabilities sent with the LOGIN/AUTHENTICATE OK then carry it. */
	const char *compress = s->state != IMAP_S_NOT_AUTH ? " COMPRESS=DEFLATE" : "";
	char url[320];
	/* JMAPACCESS (RFC 9698) only where this process serves JMAP. */
	int jmap = http_jmap_session_url(url, sizeof url) == 0;
	/* Shared mailboxes (RFC 4314), once complete (imap_acl.h). */
	const char *acl = IMAP_ACL_ENABLED ? " ACL RIGHTS=texk" : "";
	snprintf(caps, sizeof(caps), "%s%s%s%s APPENDLIMIT=%llu MESSAGELIMIT=%u SAVELIMIT=%u%s%s",
		 CAPS_BASE, CAPS_MORE, acl, compress, (unsigned long long)imap_append_limit(),
		 imap_message_limit(), imap_save_limit(), jmap ? " JMAPACCESS" : "", tail);
	return caps;
}

static void cmd_capability(struct imap_session *s, const struct imap_cmd *cmd)
{
	imap_reply(s, "* CAPABILITY %s", imap_capabilities(s));
	imap_tagged(s, "OK Capability completed.");
}

static void cmd_noop(struct imap_session *s, const struct imap_cmd *cmd)
{
	/* NOOP and CHECK are the moments to tell about new and gone mail. */
	imap_session_sync(s);
	imap_notify_check(s);
	imap_tagged(s, "OK %s completed.", cmd->id == IMAP_CMD_CHECK ? "Check" : "NOOP");
}

static void cmd_logout(struct imap_session *s, const struct imap_cmd *cmd)
{
	imap_reply(s, "* BYE Logging out");
	imap_tagged(s, "OK Logout completed.");
	imap_close_with(s, "logout");
}

static void cmd_close(struct imap_session *s, const struct imap_cmd *cmd)
{
	/* UNSELECT: leave without expunging (CLOSE is in cmd_expunge.c). */
	imap_session_unselect(s);
	imap_tagged(s, "OK Unselect completed.");
}

/*
 * GETJMAPACCESS (RFC 9698 §3): the URL of the JMAP session resource that
 * serves this same store with these same credentials, where
 * /.well-known/jmap leads (http_jmap_session_url, the one source). JMAP's
 * ids are IMAP's OBJECTID ones (imap_session.h), as §4 requires. Without
 * JMAP here the command is unknown, as the capability is not advertised.
 */
static void cmd_getjmapaccess(struct imap_session *s, const struct imap_cmd *cmd)
{
	char url[320];
	if (http_jmap_session_url(url, sizeof url) != 0 || strpbrk(url, "\"\\")) {
		imap_tagged(s, "BAD Error in IMAP command GETJMAPACCESS: Unknown command.");
		imap_session_error(s);
		return;
	}
	imap_reply(s, "* JMAPACCESS \"%s\"", url);
	imap_tagged(s, "OK Getjmapaccess completed.");
}

static void cmd_namespace(struct imap_session *s, const struct imap_cmd *cmd)
{
	/* RFC 2342: personal, other users' (shared with the user: Shared/
	 * OWNER/...), shared. The second only once sharing is on. */
	if (IMAP_ACL_ENABLED)
		imap_reply(s, "* NAMESPACE ((\"\" \"/\")) ((\"" IMAP_ACL_PREFIX "\" \"/\")) NIL");
	else
		imap_reply(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_tagged(s, "OK Namespace completed.");
}

static const struct imap_cmd_def defs[] = {
	{ IMAP_CMD_CAPABILITY, cmd_capability, ANY | NOARGS },
	{ IMAP_CMD_NOOP, cmd_noop, ANY | NOARGS },
	{ IMAP_CMD_LOGOUT, cmd_logout, ANY | NOARGS },
	{ IMAP_CMD_ID, imap_cmd_id, ANY },
	{ IMAP_CMD_STARTTLS, imap_cmd_starttls, NOAUTH },
	{ IMAP_CMD_LOGIN, imap_cmd_login, NOAUTH },
	{ IMAP_CMD_AUTHENTICATE, imap_cmd_authenticate, NOAUTH },
	{ IMAP_CMD_ENABLE, imap_cmd_enable, AUTHED | SELECTED }, /* cmd_enable.c */
	{ IMAP_CMD_SELECT, imap_cmd_select, AUTHED | SELECTED },
	{ IMAP_CMD_EXAMINE, imap_cmd_select, AUTHED | SELECTED },
	{ IMAP_CMD_LIST, imap_cmd_list, AUTHED | SELECTED },
	{ IMAP_CMD_LSUB, imap_cmd_list, AUTHED | SELECTED },
	{ IMAP_CMD_NAMESPACE, cmd_namespace, AUTHED | SELECTED | NOARGS },
	{ IMAP_CMD_STATUS, imap_cmd_status, AUTHED | SELECTED },
	{ IMAP_CMD_IDLE, imap_cmd_idle, AUTHED | SELECTED },
	{ IMAP_CMD_CHECK, cmd_noop, SELECTED | NOARGS },
	{ IMAP_CMD_CLOSE, imap_cmd_close, SELECTED },
	{ IMAP_CMD_UNSELECT, cmd_close, SELECTED | NOARGS },
	{ IMAP_CMD_FETCH, imap_cmd_fetch, SELECTED },
	{ IMAP_CMD_UID_FETCH, imap_cmd_fetch, SELECTED },
	{ IMAP_CMD_SEARCH, imap_cmd_search, SELECTED },
	{ IMAP_CMD_UID_SEARCH, imap_cmd_search, SELECTED },
	{ IMAP_CMD_SORT, imap_cmd_sort, SELECTED }, { IMAP_CMD_UID_SORT, imap_cmd_sort, SELECTED }, { IMAP_CMD_THREAD, imap_cmd_thread, SELECTED }, { IMAP_CMD_UID_THREAD, imap_cmd_thread, SELECTED },
	{ IMAP_CMD_STORE, imap_cmd_store, SELECTED },
	{ IMAP_CMD_UID_STORE, imap_cmd_store, SELECTED },
	{ IMAP_CMD_EXPUNGE, imap_cmd_expunge, SELECTED },
	{ IMAP_CMD_UID_EXPUNGE, imap_cmd_expunge, SELECTED },
	{ IMAP_CMD_CREATE, imap_cmd_mailbox, AUTHED | SELECTED },
	{ IMAP_CMD_DELETE, imap_cmd_mailbox, AUTHED | SELECTED },
	{ IMAP_CMD_RENAME, imap_cmd_mailbox, AUTHED | SELECTED },
	{ IMAP_CMD_SUBSCRIBE, imap_cmd_mailbox, AUTHED | SELECTED },
	{ IMAP_CMD_UNSUBSCRIBE, imap_cmd_mailbox, AUTHED | SELECTED },
	{ IMAP_CMD_APPEND, imap_cmd_append, AUTHED | SELECTED },
	{ IMAP_CMD_COPY, imap_cmd_copy, SELECTED },
	{ IMAP_CMD_UID_COPY, imap_cmd_copy, SELECTED },
	{ IMAP_CMD_MOVE, imap_cmd_copy, SELECTED },
	{ IMAP_CMD_UID_MOVE, imap_cmd_copy, SELECTED },
	{ IMAP_CMD_REPLACE, imap_cmd_replace, SELECTED },
	{ IMAP_CMD_UID_REPLACE, imap_cmd_replace, SELECTED },
	{ IMAP_CMD_COMPRESS, imap_cmd_compress, AUTHED | SELECTED },
	{ IMAP_CMD_GETMETADATA, imap_cmd_metadata, AUTHED | SELECTED },
	{ IMAP_CMD_SETMETADATA, imap_cmd_metadata, AUTHED | SELECTED },
	{ IMAP_CMD_CANCELUPDATE, imap_cmd_cancelupdate, SELECTED },
	{ IMAP_CMD_NOTIFY, imap_cmd_notify, AUTHED | SELECTED },
	{ IMAP_CMD_GENURLAUTH, imap_cmd_urlauth, AUTHED | SELECTED },
	{ IMAP_CMD_RESETKEY, imap_cmd_urlauth, AUTHED | SELECTED },
	{ IMAP_CMD_URLFETCH, imap_cmd_urlauth, AUTHED | SELECTED },
	{ IMAP_CMD_GETJMAPACCESS, cmd_getjmapaccess, AUTHED | SELECTED | NOARGS },
	{ IMAP_CMD_SETACL, imap_cmd_acl, AUTHED | SELECTED },
	{ IMAP_CMD_DELETEACL, imap_cmd_acl, AUTHED | SELECTED },
	{ IMAP_CMD_GETACL, imap_cmd_acl, AUTHED | SELECTED },
	{ IMAP_CMD_LISTRIGHTS, imap_cmd_acl, AUTHED | SELECTED },
	{ IMAP_CMD_MYRIGHTS, imap_cmd_acl, AUTHED | SELECTED },
	{ IMAP_CMD_GETQUOTA, imap_cmd_quota, AUTHED | SELECTED },
	{ IMAP_CMD_GETQUOTAROOT, imap_cmd_quota, AUTHED | SELECTED },
	{ IMAP_CMD_SETQUOTA, imap_cmd_quota, AUTHED | SELECTED },
};

/* The commands whose arguments are message sequence numbers. */
static int uses_seqnums(enum imap_cmd_id id)
{
	return id == IMAP_CMD_FETCH || id == IMAP_CMD_STORE || id == IMAP_CMD_SEARCH ||
	       id == IMAP_CMD_COPY || id == IMAP_CMD_MOVE || id == IMAP_CMD_SORT ||
	       id == IMAP_CMD_THREAD || id == IMAP_CMD_REPLACE;
}

/* The UID commands that read the mailbox first, during which EXPUNGE
 * responses may be sent. Not UID REPLACE: it reads no message data, and
 * syncs after its APPEND as APPEND does. */
static int uid_command(enum imap_cmd_id id)
{
	return id == IMAP_CMD_UID_FETCH || id == IMAP_CMD_UID_STORE || id == IMAP_CMD_UID_SEARCH ||
	       id == IMAP_CMD_UID_COPY || id == IMAP_CMD_UID_MOVE || id == IMAP_CMD_UID_SORT ||
	       id == IMAP_CMD_UID_THREAD || id == IMAP_CMD_UID_EXPUNGE;
}

void imap_dispatch(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_cmd_def *def = NULL;

	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
		if (defs[i].id == cmd->id)
			def = &defs[i];
	if (!def) {
		/* Unknown, or known to the parser but not implemented yet. */
		imap_tagged(s, "BAD Error in IMAP command %s: Unknown command.",
			    cmd->id == IMAP_CMD_UNKNOWN ? "received by server" : imap_cmd_name(cmd->id));
		imap_session_error(s);
		return;
	}
	if (!(def->states & ST(s->state))) {
		const char *why = s->state == IMAP_S_NOT_AUTH ? "Not authenticated."
				  : s->state == IMAP_S_AUTH && (def->states & SELECTED)
					  ? "No mailbox selected."
					  : "Not allowed in this state.";
		imap_tagged(s, "BAD Error in IMAP command %s: %s", imap_cmd_name(cmd->id), why);
		imap_session_error(s);
		return;
	}
	if ((def->states & NOARGS) && cmd->nargs) {
		/* "NOOP x" and "LOGOUT x" were run as if bare. */
		imap_tagged(s, "BAD %s takes no arguments.", imap_cmd_name(cmd->id));
		imap_session_error(s);
		return;
	}
	if (s->uidonly && uses_seqnums(cmd->id)) {
		/* RFC 9586 §3: message numbers are gone once UIDONLY is on. */
		imap_tagged(s, "BAD [UIDREQUIRED] Message sequence numbers are not allowed "
			       "with UIDONLY.");
		imap_session_error(s);
		return;
	}
	imap_session_told_clear(s); /* what the last command's sync told */
	/* A shared mailbox's rights as granted now (cmd_select.c); not for
	 * the commands that leave the mailbox anyway. */
	if (s->state == IMAP_S_SELECTED && cmd->id != IMAP_CMD_SELECT &&
	    cmd->id != IMAP_CMD_EXAMINE && cmd->id != IMAP_CMD_UNSELECT &&
	    cmd->id != IMAP_CMD_LOGOUT && imap_select_rights_check(s) < 0)
		return; /* "r" revoked: BYE said it */
	if (s->state == IMAP_S_SELECTED && uid_command(cmd->id)) {
		/* A UID command reads the mailbox as it is now: other
		 * sessions' flag changes, new messages and expunges are told
		 * first (an EXPUNGE may be sent during a UID command, RFC 9051
		 * §7.5.1; not during FETCH, STORE or SEARCH, which keep the
		 * view until NOOP, IDLE or a UID command). Without this, UID
		 * FETCH 1:* FLAGS answered the flags as of the last NOOP. */
		imap_session_sync(s);
		if (s->state != IMAP_S_SELECTED)
			return; /* deleted, or another UIDVALIDITY: BYE said it */
	} else if (s->state == IMAP_S_SELECTED &&
		   (cmd->id == IMAP_CMD_FETCH || cmd->id == IMAP_CMD_STORE ||
		    cmd->id == IMAP_CMD_SEARCH || cmd->id == IMAP_CMD_SORT ||
		    cmd->id == IMAP_CMD_THREAD)) {
		/* The numbers stay, but the flags they answer are current:
		 * another session's flag change is told first, as a FETCH
		 * (RFC 9051 §7.5.1 allows that much during these). */
		if (imap_session_sync_flags(s) && cmd->id != IMAP_CMD_FETCH &&
		    cmd->id != IMAP_CMD_STORE)
			imap_session_held_line(s); /* FETCH and STORE say it last */
		if (s->state != IMAP_S_SELECTED)
			return; /* too much to tell: BYE said it */
	}
	imap_names_utf8 = s->utf8; /* for the name helpers below */
	def->fn(s, cmd);
}

/* ---- shared helpers ---- */

struct imap_arg *imap_args_copy(struct arena *a, const struct imap_arg *src, size_t n)
{
	struct imap_arg *dst = arena_zalloc(a, (n + 1) * sizeof(*dst));

	for (size_t i = 0; i < n; i++) {
		dst[i] = src[i];
		dst[i].section = NULL;
		if (src[i].type == IMAP_ARG_LIST) {
			dst[i].list = imap_args_copy(a, src[i].list, src[i].list_count);
		} else if (src[i].str.p) {
			char *p = arena_alloc(a, src[i].str.len + 1);
			memcpy(p, src[i].str.p, src[i].str.len);
			p[src[i].str.len] = '\0';
			dst[i].str = str_make(p, src[i].str.len);
		}
	}
	dst[n].type = IMAP_ARG_END;
	return dst;
}


__thread int imap_names_utf8;

/*
 * 1 when a decoded mailbox name holds no control octet (NUL, CR, LF, ...).
 * The store never has such a name, and the answers echo the name
 * ("Mailbox doesn't exist: %s"): a CR LF sent in a literal or in modified
 * UTF-7 ("&AA0ACg-") would end the reply line there and put the rest of
 * the name on the wire as a response of its own.
 */
static int name_text_ok(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	return 1;
}

/* Why a mailbox name argument is not one (mailbox_decode). */
enum name_fault { NAME_OK, NAME_NOT_ASTRING, NAME_TOO_LONG, NAME_INVALID };

/* The argument as a UTF-8 name in out (outsz octets with the NUL):
 * modified UTF-7 decoded (RFC 3501 §5.1.3), taken as sent after ENABLE
 * UTF8=ACCEPT or IMAP4rev2 (RFC 6855 §3, RFC 9051 §5.1); INBOX in any
 * case is "INBOX". */
static enum name_fault mailbox_decode(struct imap_session *s, const struct imap_arg *arg, char *out,
				      size_t outsz)
{
	struct str name;
	struct buf b;

	if (imap_arg_astring(arg, &name) < 0)
		return NAME_NOT_ASTRING;
	if (str_eq_ci_c(name, "INBOX")) {
		snprintf(out, outsz, "INBOX");
		return NAME_OK;
	}
	if (s->utf8) {
		if (name.len >= outsz)
			return NAME_TOO_LONG;
		if (!utf8_valid(name) || !name_text_ok(name.p, name.len))
			return NAME_INVALID;
		memcpy(out, name.p, name.len);
		out[name.len] = '\0';
		return NAME_OK;
	}
	buf_init(&b, outsz - 1);
	int r = imap_utf7_to_utf8(name, &b);
	enum name_fault f = r == IMAP_UTF7_NO_ROOM ? NAME_TOO_LONG
			    : r != IMAP_UTF7_OK || !name_text_ok(buf_data(&b), buf_len(&b)) ? NAME_INVALID
											      : NAME_OK;
	if (f == NAME_OK) {
		memcpy(out, buf_data(&b), buf_len(&b));
		out[buf_len(&b)] = '\0';
	}
	buf_free(&b);
	return f;
}

int imap_mailbox_name(struct imap_session *s, const struct imap_arg *arg, char *out, size_t outsz)
{
	return mailbox_decode(s, arg, out, outsz) == NAME_OK ? 0 : -1;
}

/*
 * The replies to a name that is not one (RFC 5530 §3): a name to be made
 * (CREATE, RENAME's new name, SUBSCRIBE) longer than the server takes
 * hit an implementation limit, LIMIT, and one it can never take is
 * CANNOT; a name looked up cannot be there, NONEXISTENT (not TRYCREATE
 * for APPEND, COPY and MOVE: a CREATE of it fails too). TOOBIG, which
 * this said, is a message too large (RFC 4469 §5, RFC 7889).
 */
enum name_use { USE_LOOKUP, USE_MAKE, USE_WATCH };

static int mailbox_arg(struct imap_session *s, const struct imap_arg *arg, char *out, size_t outsz,
		       enum name_use use)
{
	enum name_fault r = mailbox_decode(s, arg, out, outsz);
	int making = use == USE_MAKE;

	if (use == USE_WATCH && (r == NAME_TOO_LONG || r == NAME_INVALID))
		return 1;
	switch (r) {
	case NAME_OK:
		return 0;
	case NAME_NOT_ASTRING:
		imap_tagged(s, "BAD Invalid mailbox name argument.");
		imap_session_error(s);
		return -1;
	case NAME_TOO_LONG:
		if (making)
			imap_mailbox_too_long(s);
		else
			imap_tagged(s, "NO [NONEXISTENT] Mailbox doesn't exist (name too long).");
		return -1;
	case NAME_INVALID:
		imap_tagged(s, making ? "NO [CANNOT] Invalid mailbox name"
				      : "NO [NONEXISTENT] Mailbox doesn't exist (invalid name).");
		return -1;
	}
	return -1;
}

int imap_mailbox_arg(struct imap_session *s, const struct imap_arg *arg, char *out, size_t outsz)
{
	return mailbox_arg(s, arg, out, outsz, USE_LOOKUP);
}

int imap_mailbox_new_arg(struct imap_session *s, const struct imap_arg *arg, char *out, size_t outsz)
{
	return mailbox_arg(s, arg, out, outsz, USE_MAKE);
}

int imap_mailbox_name_of(struct imap_session *s, const struct imap_arg *arg, char *out,
			 size_t outsz)
{
	return mailbox_decode(s, arg, out, outsz) == NAME_OK ? 0 : -1;
}

int imap_mailbox_watch_arg(struct imap_session *s, const struct imap_arg *arg, char *out,
			   size_t outsz)
{
	return mailbox_arg(s, arg, out, outsz, USE_WATCH);
}

/* RFC 5530 §3 LIMIT, whose own example is "the number of flags on a
 * single message": STORE and APPEND past STORE_KEYWORDS_MAX. */
void imap_keywords_too_many(struct imap_session *s)
{
	imap_tagged(s, "NO [LIMIT] Too many keywords on a message (at most %d).", STORE_KEYWORDS_MAX);
}

void imap_disk_full(struct imap_session *s)
{
	imap_tagged(s, "NO [OVERQUOTA] Not enough disk space on the server.");
}

void imap_mailbox_too_long(struct imap_session *s)
{
	imap_tagged(s, "NO [LIMIT] Mailbox name too long (at most %u octets).",
		    imap_cfg->max_mailbox_name);
}

/*
 * TRYCREATE tells the client to CREATE the target and try again, so it is
 * given only when that CREATE could work (RFC 9051 §6.3.12 and §6.4.7:
 * "unless it is certain that the destination mailbox can not be
 * created"). A name CREATE refuses ("", "a*", "a//b", "x/", one past the
 * length limit) is NONEXISTENT, as it is to the lookups (imap_mailbox_arg):
 * with TRYCREATE a client went round CREATE's NO and the copy again.
 */
const char *imap_missing_target(const char *name, char *buf, size_t bufsz)
{
	switch (store_mailbox_name_creatable(imap_store, name)) {
	case STORE_ETOOBIG:
		return "NO [NONEXISTENT] Mailbox doesn't exist (name too long).";
	case STORE_EINVAL:
		return "NO [NONEXISTENT] Mailbox doesn't exist (invalid name).";
	default:
		snprintf(buf, bufsz, "NO [TRYCREATE] Mailbox doesn't exist: %s", name);
		return buf;
	}
}

/* 1 when s can go out as an atom (astring without quoting). */
static int is_atom(struct str s)
{
	if (s.len == 0 || (s.len == 3 && str_eq_ci_c(s, "NIL")))
		return 0;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c))
			return 0;
	}
	return 1;
}

int imap_append_string(struct buf *b, struct str s)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c == '\r' || c == '\n' || c == '\0' || c >= 0x80)
			return buf_printf(b, "{%zu}\r\n", s.len) < 0 ? -1 : buf_append_str(b, s);
	}
	if (buf_append_c(b, "\"") < 0)
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		if ((s.p[i] == '"' || s.p[i] == '\\') && buf_append_c(b, "\\") < 0)
			return -1;
		if (buf_append(b, &s.p[i], 1) < 0)
			return -1;
	}
	return buf_append_c(b, "\"");
}

/* A name's modified UTF-7 can be twice its UTF-8 ("a" and "é" in turn
 * are 6 octets for 3, "&" is "&-"): a 1024-octet ceiling failed a
 * 1000-octet name, which LIST then gave as "". */
#define MAILBOX_UTF7_MAX (2 * 1024 + 16)

int imap_append_mailbox(struct buf *b, const char *name)
{
	struct buf enc;
	int r;

	if (imap_names_utf8) {
		/* UTF-8 as is: an atom, or a quoted string (which may carry
		 * UTF-8 once UTF8=ACCEPT or IMAP4rev2 is on). */
		struct str n = str_c(name);
		if (is_atom(n))
			return buf_append_str(b, n);
		if (buf_append_c(b, "\"") < 0)
			return -1;
		for (size_t i = 0; i < n.len; i++)
			if (((n.p[i] == '"' || n.p[i] == '\\') && buf_append_c(b, "\\") < 0) ||
			    buf_append(b, &n.p[i], 1) < 0)
				return -1;
		return buf_append_c(b, "\"");
	}
	buf_init(&enc, MAILBOX_UTF7_MAX);
	if (imap_utf8_to_utf7(str_c(name), &enc) != IMAP_UTF7_OK) {
		buf_free(&enc);
		return -1;
	}
	struct str e = buf_str(&enc);
	r = is_atom(e) ? buf_append_str(b, e) : imap_append_string(b, e);
	buf_free(&enc);
	return r;
}
