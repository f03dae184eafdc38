/*
 * sieve_spec.c — the table of Sieve commands, tests, tags and extensions:
 * what each takes, so the parser checks every script against one place.
 */
#include "sieve/sieve_private.h"

static const char *const ext_names[EXT_COUNT] = {
	[EXT_FILEINTO] = "fileinto",
	[EXT_ENVELOPE] = "envelope",
	[EXT_REJECT] = "reject",
	[EXT_EREJECT] = "ereject",
	[EXT_VARIABLES] = "variables",
	[EXT_IMAP4FLAGS] = "imap4flags",
	[EXT_VACATION] = "vacation",
	[EXT_VACATION_SECONDS] = "vacation-seconds",
	[EXT_RELATIONAL] = "relational",
	[EXT_SUBADDRESS] = "subaddress",
	[EXT_BODY] = "body",
	[EXT_COPY] = "copy",
	[EXT_MAILBOX] = "mailbox",
	[EXT_DATE] = "date",
	[EXT_INDEX] = "index",
	[EXT_REGEX] = "regex",
	[EXT_INCLUDE] = "include",
	[EXT_EDITHEADER] = "editheader",
	[EXT_DUPLICATE] = "duplicate",
	[EXT_ENCODED_CHARACTER] = "encoded-character",
	[EXT_ENVIRONMENT] = "environment",
	[EXT_IHAVE] = "ihave",
	[EXT_NUMERIC] = "comparator-i;ascii-numeric",
	[EXT_ENOTIFY] = "enotify",
	[EXT_SPECIAL_USE] = "special-use",
	[EXT_MAILBOXID] = "mailboxid",
	[EXT_FCC] = "fcc",
	[EXT_SPAMTEST] = "spamtest",
	[EXT_SPAMTESTPLUS] = "spamtestplus",
	[EXT_VIRUSTEST] = "virustest",
	[EXT_REDIRECT_DSN] = "redirect-dsn",
	[EXT_MIME] = "mime",
	[EXT_FOREVERYPART] = "foreverypart",
	[EXT_EXTRACTTEXT] = "extracttext",
	[EXT_REPLACE] = "replace",
	[EXT_ENCLOSE] = "enclose",
	[EXT_ENVELOPE_DSN] = "envelope-dsn",
	[EXT_ENVELOPE_DELIVERBY] = "envelope-deliverby",
	[EXT_REDIRECT_DELIVERBY] = "redirect-deliverby",
	[EXT_MBOXMETADATA] = "mboxmetadata",
	[EXT_SERVERMETADATA] = "servermetadata",
};

static const char extension_list[] =
	"fileinto reject ereject envelope encoded-character vacation vacation-seconds "
	"subaddress comparator-i;ascii-numeric relational regex imap4flags copy include "
	"body variables enotify environment mailbox date index ihave duplicate editheader "
	"special-use mailboxid fcc spamtest spamtestplus virustest redirect-dsn mime foreverypart extracttext replace enclose envelope-dsn "
	"envelope-deliverby redirect-deliverby mboxmetadata servermetadata";

const char *sieve_extensions(void)
{
	return extension_list;
}

#ifdef SIEVE_TESTSUITE
const struct sv_hook *sv_hook;
#endif

int sv_ext_find(struct str name)
{
#ifdef SIEVE_TESTSUITE
	if (sv_hook && (str_eq(name, str_c(sv_hook->ext)) ||
	                (sv_hook->ext_also && str_eq(name, str_c(sv_hook->ext_also)))))
		return EXT_HOOK;
	for (int i = 0; i < EXT_HOOK; i++)
#else
	for (int i = 0; i < EXT_COUNT; i++)
#endif
		if (str_eq(name, str_c(ext_names[i])))
			return i;
	return -1;
}

int sieve_extension_known(struct str name)
{
	/* RFC 5228 §2.7.4: the comparator names are extensions too. */
	if (str_eq(name, STR_LIT("comparator-i;octet")) ||
	    str_eq(name, STR_LIT("comparator-i;ascii-casemap")))
		return 1;
	return sv_ext_find(name) >= 0;
}

int sv_ihave_grants(struct str name)
{
	/* RFC 5463 §4: not extensions that change how a script is read
	 * (variables, encoded-character): the test fails, the block is not
	 * read with them. */
	return sieve_extension_known(name) && !str_eq(name, STR_LIT("variables")) &&
	       !str_eq(name, STR_LIT("encoded-character"));
}

const char *sv_ext_name(int ext)
{
#ifdef SIEVE_TESTSUITE
	if (ext == EXT_HOOK)
		return sv_hook ? sv_hook->ext : "";
#endif
	return ext >= 0 && ext < EXT_COUNT ? ext_names[ext] : "";
}

static const struct {
	const char *name;
	uint8_t arg;
} tag_table[G_COUNT_TAGS] = {
	[G_IS] = { "is", A_NONE },
	[G_CONTAINS] = { "contains", A_NONE },
	[G_MATCHES] = { "matches", A_NONE },
	[G_REGEX] = { "regex", A_NONE },
	[G_VALUE] = { "value", A_STR },
	[G_COUNT] = { "count", A_STR },
	[G_COMPARATOR] = { "comparator", A_STR },
	[G_ALL] = { "all", A_NONE },
	[G_LOCALPART] = { "localpart", A_NONE },
	[G_DOMAIN] = { "domain", A_NONE },
	[G_USER] = { "user", A_NONE },
	[G_DETAIL] = { "detail", A_NONE },
	[G_OVER] = { "over", A_NUM },
	[G_UNDER] = { "under", A_NUM },
	[G_COPY] = { "copy", A_NONE },
	[G_CREATE] = { "create", A_NONE },
	[G_FLAGS] = { "flags", A_LIST },
	[G_DAYS] = { "days", A_NUM },
	[G_SECONDS] = { "seconds", A_NUM },
	[G_SUBJECT] = { "subject", A_STR },
	[G_FROM] = { "from", A_STR },
	[G_ADDRESSES] = { "addresses", A_LIST },
	[G_MIME] = { "mime", A_NONE },
	[G_HANDLE] = { "handle", A_STR },
	[G_RAW] = { "raw", A_NONE },
	[G_CONTENT] = { "content", A_LIST },
	[G_TEXT] = { "text", A_NONE },
	[G_ZONE] = { "zone", A_STR },
	[G_ORIGINALZONE] = { "originalzone", A_NONE },
	[G_INDEX] = { "index", A_NUM },
	[G_LAST] = { "last", A_NONE },
	[G_LOWER] = { "lower", A_NONE },
	[G_UPPER] = { "upper", A_NONE },
	[G_LOWERFIRST] = { "lowerfirst", A_NONE },
	[G_UPPERFIRST] = { "upperfirst", A_NONE },
	[G_QUOTEWILDCARD] = { "quotewildcard", A_NONE },
	[G_QUOTEREGEX] = { "quoteregex", A_NONE },
	[G_LENGTH] = { "length", A_NONE },
	[G_ENCODEURL] = { "encodeurl", A_NONE },
	[G_ONCE] = { "once", A_NONE },
	[G_OPTIONAL] = { "optional", A_NONE },
	[G_PERSONAL] = { "personal", A_NONE },
	[G_GLOBAL] = { "global", A_NONE },
	[G_HEADER] = { "header", A_STR },
	[G_UNIQUEID] = { "uniqueid", A_STR },
	[G_IMPORTANCE] = { "importance", A_STR },
	[G_OPTIONS] = { "options", A_LIST },
	[G_MESSAGE] = { "message", A_STR },
	[G_MAILBOXID] = { "mailboxid", A_STR },
	[G_SPECIALUSE] = { "specialuse", A_STR },
	[G_FCC] = { "fcc", A_STR },
	[G_PERCENT] = { "percent", A_NONE },
	[G_NOTIFY] = { "notify", A_STR },
	[G_RET] = { "ret", A_STR },
	[G_ANYCHILD] = { "anychild", A_NONE },
	[G_TYPE] = { "type", A_NONE },
	[G_SUBTYPE] = { "subtype", A_NONE },
	[G_CONTENTTYPE] = { "contenttype", A_NONE },
	[G_PARAM] = { "param", A_LIST },
	[G_NAME] = { "name", A_STR },
	[G_FIRST] = { "first", A_NUM },
	[G_HEADERS] = { "headers", A_LIST },
	[G_BYTIMERELATIVE] = { "bytimerelative", A_NUM },
	[G_BYTIMEABSOLUTE] = { "bytimeabsolute", A_STR },
	[G_BYMODE] = { "bymode", A_STR },
	[G_BYTRACE] = { "bytrace", A_NONE },
};

int sv_tag_find(struct str name)
{
#ifdef SIEVE_TESTSUITE
	for (size_t i = 0; sv_hook && i < sv_hook->ntags; i++)
		if (str_eq_ci(name, str_c(sv_hook->tags[i])))
			return G_HOOK0 + (int)i;
	for (int i = 0; i < G_HOOK0; i++)
#else
	for (int i = 0; i < G_COUNT_TAGS; i++)
#endif
		if (str_eq_ci(name, str_c(tag_table[i].name)))
			return i;
	return -1;
}

const char *sv_tag_name(int tag)
{
#ifdef SIEVE_TESTSUITE
	if (tag >= G_HOOK0 && tag < G_HOOK_END)
		return sv_hook && (size_t)(tag - G_HOOK0) < sv_hook->ntags ? sv_hook->tags[tag - G_HOOK0] : "?";
#endif
	return tag >= 0 && tag < G_COUNT_TAGS ? tag_table[tag].name : "?";
}

enum sv_argtype sv_tag_argtype(int tag)
{
#ifdef SIEVE_TESTSUITE
	if (tag >= G_HOOK0 && tag < G_HOOK_END)
		return (enum sv_argtype)sv_hook->tag_args[tag - G_HOOK0];
#endif
	return (enum sv_argtype)tag_table[tag].arg;
}

/* The extension that brings a tag to a command (the tag is in the
 * command's table entry either way). */
int sv_tag_ext(int tag, uint16_t cmd)
{
#ifdef SIEVE_TESTSUITE
	if (cmd >= T_HOOK0 && cmd < T_HOOK_END && tag == G_INDEX)
		return -1; /* sv_hook's tests take an :index of their own */
#endif
	switch (tag) {
	case G_VALUE:
	case G_COUNT:
		return EXT_RELATIONAL;
	case G_REGEX:
	case G_QUOTEREGEX:
		return EXT_REGEX;
	case G_USER:
	case G_DETAIL:
		return EXT_SUBADDRESS;
	case G_COPY:
		return EXT_COPY;
	case G_CREATE:
		return EXT_MAILBOX;
	case G_FLAGS:
		return EXT_IMAP4FLAGS;
	case G_SECONDS:
		return cmd == C_VACATION ? EXT_VACATION_SECONDS : EXT_DUPLICATE;
	case G_INDEX:
	case G_LAST:
		if (cmd == C_ADDHEADER || cmd == C_DELETEHEADER)
			return EXT_EDITHEADER;
		return cmd == T_DUPLICATE ? EXT_DUPLICATE : EXT_INDEX;
	case G_ENCODEURL:
		return EXT_ENOTIFY;
	case G_MAILBOXID:
		return EXT_MAILBOXID;
	case G_SPECIALUSE:
		return EXT_SPECIAL_USE;
	case G_FCC:
		return EXT_FCC;
	case G_PERCENT:
		return EXT_SPAMTESTPLUS;
	case G_NOTIFY:
	case G_RET:
		return EXT_REDIRECT_DSN;
	case G_BYTIMERELATIVE:
	case G_BYTIMEABSOLUTE:
	case G_BYMODE:
	case G_BYTRACE:
		return EXT_REDIRECT_DELIVERBY;
	case G_MIME:
		return cmd == C_VACATION || cmd == C_REPLACE ? -1 : EXT_MIME;
	case G_ANYCHILD:
	case G_TYPE:
	case G_SUBTYPE:
	case G_CONTENTTYPE:
	case G_PARAM:
		return EXT_MIME;
	case G_NAME:
		return EXT_FOREVERYPART;
	default:
		return -1;
	}
}

#define T (uint8_t[])
#define MATCH G_IS, G_CONTAINS, G_MATCHES, G_REGEX, G_VALUE, G_COUNT, G_COMPARATOR
#define APART G_ALL, G_LOCALPART, G_DOMAIN, G_USER, G_DETAIL
#define MIMEOPT G_MIME, G_ANYCHILD, G_TYPE, G_SUBTYPE, G_CONTENTTYPE, G_PARAM
#define END G_COUNT_TAGS

static const struct sv_spec specs[] = {
	{ "require", C_REQUIRE, -1, 0, 0, 0, "L", T{ END } },
	{ "if", C_IF, -1, 0, 1, 1, "", T{ END } },
	{ "elsif", C_ELSIF, -1, 0, 1, 1, "", T{ END } },
	{ "else", C_ELSE, -1, 0, 0, 1, "", T{ END } },
	{ "stop", C_STOP, -1, 0, 0, 0, "", T{ END } },
	{ "keep", C_KEEP, -1, 0, 0, 0, "", T{ G_FLAGS, END } },
	{ "discard", C_DISCARD, -1, 0, 0, 0, "", T{ END } },
	{ "fileinto", C_FILEINTO, EXT_FILEINTO, 0, 0, 0, "S",
	  T{ G_FLAGS, G_COPY, G_CREATE, G_MAILBOXID, G_SPECIALUSE, END } },
	{ "redirect", C_REDIRECT, -1, 0, 0, 0, "S", T{ G_COPY, G_NOTIFY, G_RET, G_BYTIMERELATIVE,
	                                                     G_BYTIMEABSOLUTE, G_BYMODE, G_BYTRACE, END } },
	{ "reject", C_REJECT, EXT_REJECT, 0, 0, 0, "S", T{ END } },
	{ "ereject", C_EREJECT, EXT_EREJECT, 0, 0, 0, "S", T{ END } },
	{ "vacation", C_VACATION, EXT_VACATION, 0, 0, 0, "S",
	  T{ G_DAYS, G_SECONDS, G_SUBJECT, G_FROM, G_ADDRESSES, G_MIME, G_HANDLE, G_FCC,
	     G_FLAGS, G_CREATE, G_MAILBOXID, G_SPECIALUSE, END } },
	{ "set", C_SET, EXT_VARIABLES, 0, 0, 0, "SS",
	  T{ G_LOWER, G_UPPER, G_LOWERFIRST, G_UPPERFIRST, G_QUOTEWILDCARD, G_QUOTEREGEX,
	     G_LENGTH, G_ENCODEURL, END } },
	{ "addflag", C_ADDFLAG, EXT_IMAP4FLAGS, 0, 0, 0, "?SL", T{ END } },
	{ "setflag", C_SETFLAG, EXT_IMAP4FLAGS, 0, 0, 0, "?SL", T{ END } },
	{ "removeflag", C_REMOVEFLAG, EXT_IMAP4FLAGS, 0, 0, 0, "?SL", T{ END } },
	{ "include", C_INCLUDE, EXT_INCLUDE, 0, 0, 0, "S",
	  T{ G_PERSONAL, G_GLOBAL, G_ONCE, G_OPTIONAL, END } },
	{ "return", C_RETURN, EXT_INCLUDE, 0, 0, 0, "", T{ END } },
	{ "global", C_GLOBAL, EXT_INCLUDE, 0, 0, 0, "L", T{ END } },
	{ "addheader", C_ADDHEADER, EXT_EDITHEADER, 0, 0, 0, "SS", T{ G_LAST, END } },
	{ "deleteheader", C_DELETEHEADER, EXT_EDITHEADER, 0, 0, 0, "S?L",
	  T{ G_IS, G_CONTAINS, G_MATCHES, G_REGEX, G_VALUE, G_COUNT, G_COMPARATOR, G_INDEX,
	     G_LAST, END } },
	{ "notify", C_NOTIFY, EXT_ENOTIFY, 0, 0, 0, "S",
	  T{ G_FROM, G_IMPORTANCE, G_OPTIONS, G_MESSAGE, G_FCC, G_FLAGS, G_CREATE,
	     G_MAILBOXID, G_SPECIALUSE, END } },
	{ "error", C_ERROR, EXT_IHAVE, 0, 0, 0, "S", T{ END } },
	{ "foreverypart", C_FOREVERYPART, EXT_FOREVERYPART, 0, 0, 1, "", T{ G_NAME, END } },
	{ "break", C_BREAK, EXT_FOREVERYPART, 0, 0, 0, "", T{ G_NAME, END } },
	{ "extracttext", C_EXTRACTTEXT, EXT_EXTRACTTEXT, 0, 0, 0, "S",
	  T{ G_LOWER, G_UPPER, G_LOWERFIRST, G_UPPERFIRST, G_QUOTEWILDCARD, G_QUOTEREGEX,
	     G_LENGTH, G_ENCODEURL, G_FIRST, END } },
	{ "replace", C_REPLACE, EXT_REPLACE, 0, 0, 0, "S", T{ G_MIME, G_SUBJECT, G_FROM, END } },
	{ "enclose", C_ENCLOSE, EXT_ENCLOSE, 0, 0, 0, "S", T{ G_SUBJECT, G_HEADERS, END } },

	{ "address", T_ADDRESS, -1, 1, 0, 0, "LL",
	  T{ MATCH, APART, G_INDEX, G_LAST, G_MIME, G_ANYCHILD, END } },
	{ "allof", T_ALLOF, -1, 1, 2, 0, "", T{ END } },
	{ "anyof", T_ANYOF, -1, 1, 2, 0, "", T{ END } },
	{ "envelope", T_ENVELOPE, EXT_ENVELOPE, 1, 0, 0, "LL", T{ MATCH, APART, END } },
	{ "exists", T_EXISTS, -1, 1, 0, 0, "L", T{ G_MIME, G_ANYCHILD, END } },
	{ "false", T_FALSE, -1, 1, 0, 0, "", T{ END } },
	{ "header", T_HEADER, -1, 1, 0, 0, "LL", T{ MATCH, G_INDEX, G_LAST, MIMEOPT, END } },
	{ "not", T_NOT, -1, 1, 1, 0, "", T{ END } },
	{ "size", T_SIZE, -1, 1, 0, 0, "", T{ G_OVER, G_UNDER, END } },
	{ "true", T_TRUE, -1, 1, 0, 0, "", T{ END } },
	{ "body", T_BODY, EXT_BODY, 1, 0, 0, "L", T{ MATCH, G_RAW, G_CONTENT, G_TEXT, END } },
	{ "string", T_STRING, EXT_VARIABLES, 1, 0, 0, "LL", T{ MATCH, END } },
	{ "hasflag", T_HASFLAG, EXT_IMAP4FLAGS, 1, 0, 0, "?LL", T{ MATCH, END } },
	{ "mailboxexists", T_MAILBOXEXISTS, EXT_MAILBOX, 1, 0, 0, "L", T{ END } },
	{ "date", T_DATE, EXT_DATE, 1, 0, 0, "SSL",
	  T{ MATCH, G_ZONE, G_ORIGINALZONE, G_INDEX, G_LAST, END } },
	{ "currentdate", T_CURRENTDATE, EXT_DATE, 1, 0, 0, "SL", T{ MATCH, G_ZONE, END } },
	{ "ihave", T_IHAVE, EXT_IHAVE, 1, 0, 0, "L", T{ END } },
	{ "environment", T_ENVIRONMENT, EXT_ENVIRONMENT, 1, 0, 0, "SL", T{ MATCH, END } },
	{ "duplicate", T_DUPLICATE, EXT_DUPLICATE, 1, 0, 0, "",
	  T{ G_HANDLE, G_HEADER, G_UNIQUEID, G_SECONDS, G_LAST, END } },
	{ "valid_notify_method", T_VALID_NOTIFY_METHOD, EXT_ENOTIFY, 1, 0, 0, "L", T{ END } },
	{ "notify_method_capability", T_NOTIFY_METHOD_CAPABILITY, EXT_ENOTIFY, 1, 0, 0, "SSL",
	  T{ MATCH, END } },
	{ "specialuse_exists", T_SPECIALUSE_EXISTS, EXT_SPECIAL_USE, 1, 0, 0, "?SL", T{ END } },
	{ "mailboxidexists", T_MAILBOXIDEXISTS, EXT_MAILBOXID, 1, 0, 0, "L", T{ END } },
	{ "spamtest", T_SPAMTEST, EXT_SPAMTEST, 1, 0, 0, "S", T{ MATCH, G_PERCENT, END } },
	{ "virustest", T_VIRUSTEST, EXT_VIRUSTEST, 1, 0, 0, "S", T{ MATCH, END } },
	/* RFC 5490 §3.2-3.3, §4: METADATA entries (RFC 5464) of a mailbox
	 * and of the server */
	{ "metadata", T_METADATA, EXT_MBOXMETADATA, 1, 0, 0, "SSL", T{ MATCH, END } },
	{ "metadataexists", T_METADATAEXISTS, EXT_MBOXMETADATA, 1, 0, 0, "SL", T{ END } },
	{ "servermetadata", T_SERVERMETADATA, EXT_SERVERMETADATA, 1, 0, 0, "SL", T{ MATCH, END } },
	{ "servermetadataexists", T_SERVERMETADATAEXISTS, EXT_SERVERMETADATA, 1, 0, 0, "L",
	  T{ END } },
};

/* The header fields the address test reads (RFC 5228 §5.1: it "MUST
 * [be restricted] to headers that contain addresses", at least From, To,
 * Cc, Bcc, Sender, Resent-From and Resent-To, and "SHOULD work with any
 * other header that utilizes an address-list structured syntax"): RFC
 * 5322's address fields, and the fields delivery, lists and older mail
 * programs write an address or a path into. Subject, Message-ID or List-Id
 * are not addresses: testing them with address is a script's mistake,
 * refused when the name is constant and matching nothing when a variable
 * names one. */
static const char *const address_headers[] = {
	"from", "sender", "reply-to", "to", "cc", "bcc",
	"resent-from", "resent-sender", "resent-reply-to", "resent-to", "resent-cc", "resent-bcc",
	"return-path", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to",
	"x-envelope-from", "apparently-to", "errors-to", "return-receipt-to",
	"disposition-notification-to", "mail-followup-to", "mail-reply-to", "x-beenthere",
	"x-original-from", "x-original-sender", NULL,
};

int sv_address_header(struct str name)
{
	for (int i = 0; address_headers[i]; i++)
		if (str_eq_ci(name, str_c(address_headers[i])))
			return 1;
	return 0;
}

const struct sv_spec *sv_spec_find(struct str name, int is_test)
{
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		if (specs[i].is_test == is_test && str_eq_ci(name, str_c(specs[i].name)))
			return &specs[i];
#ifdef SIEVE_TESTSUITE
	for (size_t i = 0; sv_hook && i < sv_hook->nspecs; i++)
		if (sv_hook->specs[i].is_test == is_test &&
		    str_eq_ci(name, str_c(sv_hook->specs[i].name)))
			return &sv_hook->specs[i];
#endif
	return NULL;
}

const struct sv_spec *sv_spec_by_id(uint16_t id)
{
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		if (specs[i].id == id)
			return &specs[i];
#ifdef SIEVE_TESTSUITE
	for (size_t i = 0; sv_hook && i < sv_hook->nspecs; i++)
		if (sv_hook->specs[i].id == id)
			return &sv_hook->specs[i];
#endif
	return NULL;
}
