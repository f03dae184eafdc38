/*
 * sievesuite.c — runs Pigeonhole's Sieve test suite against tern's Sieve
 * engine (app/sieve/).
 *
 * The suite (the .svtest files of pigeonhole/tests/ in Debian's dovecot source, which
 * scripts/install-test-deps unpacks into build/testdata/pigeonhole/tests/) is
 * written as Sieve scripts using Pigeonhole's vnd.dovecot.testsuite
 * extension: `test "name" { ... }` blocks that call `test_fail` when the
 * engine answers wrong, `test_set` to change the message or envelope
 * between them. This program implements that part of the extension
 * through sv_hook (sieve_private.h), which exists only in the copy of the
 * engine the Makefile compiles for it with SIEVE_TESTSUITE: the product
 * never learns a vendor extension.
 *
 * Usage: sievesuite [-F] FILE.svtest... — prints each test's outcome and a
 * summary line per file; exits 1 when any test failed, a file did not
 * compile (an unimplemented testsuite command among them) or its run
 * stopped with an error. -F (Pigeonhole's testsuite option of that name)
 * turns it around: every test is expected to fail. tests/sievesuite/run.sh runs it over the list of
 * files that pass (passing.txt).
 *
 * Caveats: test_set "message" stores the message with CRLF line ends, as
 * tern's delivery does; the envelope follows the new message as in
 * Pigeonhole (Envelope-To or To; Return-Path, Sender or From).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "mime/mime_field.h"
#include "sieve/sieve_mailto.h"
#include "sieve/sieve_run.h"
#include "sieve/sieve_vacation.h"

enum {
	H_TEST = C_HOOK0, H_TEST_FAIL, H_TEST_SET, H_TEST_RESULT_RESET, H_TEST_MAILBOX_CREATE,
	H_TEST_MESSAGE_CMD, H_TEST_CONFIG_SET, H_TEST_CONFIG_UNSET, H_TEST_CONFIG_RELOAD,
	H_TEST_BINARY_SAVE, H_TEST_BINARY_LOAD, H_TEST_IMAP_METADATA_SET, H_DEBUG_LOG,
	H_TEST_SCRIPT_COMPILE = T_HOOK0, H_TEST_SCRIPT_RUN, H_TEST_ERROR, H_TEST_RESULT_ACTION,
	H_TEST_RESULT_EXECUTE, H_TEST_MESSAGE
};
enum { G_FOLDER = G_HOOK0, G_SMTP, G_EXTENSION, G_MAILBOX };
static const char *const hook_tags[] = { "folder", "smtp", "extension", "mailbox" };
static const uint8_t hook_tag_args[] = { A_STR, A_NONE, A_STR, A_STR };
static const uint8_t metadata_tags[] = { G_MAILBOX, G_COUNT_TAGS };
static const uint8_t message_tags[] = { G_FOLDER, G_SMTP, G_COUNT_TAGS };
static const uint8_t reload_tags[] = { G_EXTENSION, G_COUNT_TAGS };

static const uint8_t no_tags[] = { G_COUNT_TAGS };
static const uint8_t match_tags[] = { G_IS, G_CONTAINS, G_MATCHES, G_REGEX, G_VALUE, G_COUNT,
	                              G_COMPARATOR, G_INDEX, G_COUNT_TAGS };

static const struct sv_spec hook_specs[] = {
	{ "test", H_TEST, EXT_HOOK, 0, 0, 1, "S", no_tags },
	{ "test_fail", H_TEST_FAIL, EXT_HOOK, 0, 0, 0, "S", no_tags },
	{ "test_set", H_TEST_SET, EXT_HOOK, 0, 0, 0, "SS", no_tags },
	{ "test_result_reset", H_TEST_RESULT_RESET, EXT_HOOK, 0, 0, 0, "", no_tags },
	{ "test_mailbox_create", H_TEST_MAILBOX_CREATE, EXT_HOOK, 0, 0, 0, "S", no_tags },
	{ "test_script_compile", H_TEST_SCRIPT_COMPILE, EXT_HOOK, 1, 0, 0, "S", no_tags },
	{ "test_script_run", H_TEST_SCRIPT_RUN, EXT_HOOK, 1, 0, 0, "", no_tags },
	{ "test_error", H_TEST_ERROR, EXT_HOOK, 1, 0, 0, "L", match_tags },
	{ "test_result_action", H_TEST_RESULT_ACTION, EXT_HOOK, 1, 0, 0, "L", match_tags },
	{ "test_result_execute", H_TEST_RESULT_EXECUTE, EXT_HOOK, 1, 0, 0, "", no_tags },
	{ "test_message", H_TEST_MESSAGE, EXT_HOOK, 1, 0, 0, "N", message_tags },
	{ "test_message", H_TEST_MESSAGE_CMD, EXT_HOOK, 0, 0, 0, "N", message_tags },
	{ "test_config_set", H_TEST_CONFIG_SET, EXT_HOOK, 0, 0, 0, "SS", no_tags },
	{ "test_config_unset", H_TEST_CONFIG_UNSET, EXT_HOOK, 0, 0, 0, "S", no_tags },
	{ "test_config_reload", H_TEST_CONFIG_RELOAD, EXT_HOOK, 0, 0, 0, "", reload_tags },
	{ "test_binary_save", H_TEST_BINARY_SAVE, EXT_HOOK, 0, 0, 0, "S", no_tags },
	{ "test_binary_load", H_TEST_BINARY_LOAD, EXT_HOOK, 0, 0, 0, "S", no_tags },
	{ "test_imap_metadata_set", H_TEST_IMAP_METADATA_SET, EXT_HOOK, 0, 0, 0, "SS", metadata_tags },
	/* vnd.dovecot.debug's one command: the file's own note, printed */
	{ "debug_log", H_DEBUG_LOG, EXT_HOOK, 0, 0, 0, "S", no_tags },
};

/* The file being run: one at a time, so plain statics. */
static const char *cur_file;
static int in_test, test_failed, ntests, nfailed;
static struct str test_name;

static struct sieve_script *sub;
static struct arena *sub_arena;
static struct sieve_result sub_res;
static int have_sub_res;
/* what test_error sees: the compile errors of the last
 * test_script_compile, or the one error of test_script_run's run */
static struct sieve_errors sub_errs;
/* sub's text: tern's compiled form is made from it (sieve_cache.c
 * compiles the text again after a miss), so it is what
 * test_binary_save keeps under a name and test_binary_load compiles */
static char *sub_text;
static size_t sub_len;
#define BINARIES_MAX 16
static struct binary {
	char *name, *text;
	size_t len;
} binaries[BINARIES_MAX];
static int nbinaries;
static int sub_compiled; /* sub_errs are test_script_compile's */
static char cur_dir[4096];

#define MAILBOXES_MAX 32
static char *mailboxes[MAILBOXES_MAX];
static int nmailboxes;

static char *read_file(const char *path, size_t *len_r);

/* What test_result_execute delivered: the messages stored, each with its
 * folder, and those sent (redirect), in order; test_message reads them. */
#define OUTBOX_MAX 64
static struct outmsg {
	char *folder; /* NULL: sent */
	char *text;
	size_t len;
	char *from, *to; /* sent: its envelope */
	char *flags;     /* stored: its IMAP flags */
} outbox[OUTBOX_MAX];
static int noutbox;

static int test_message(struct run *r, const struct sv_node *t);

static void outbox_push(const char *folder, struct str text, struct str from, struct str to,
                        struct str flags)
{
	if (noutbox >= OUTBOX_MAX)
		return;
	struct outmsg *o = &outbox[noutbox++];
	o->folder = folder ? strdup(folder) : NULL;
	o->from = strndup(from.p ? from.p : "", from.len);
	o->to = strndup(to.p ? to.p : "", to.len);
	o->flags = strndup(flags.p ? flags.p : "", flags.len);
	o->len = text.len;
	o->text = malloc(text.len + 1);
	memcpy(o->text, text.p, text.len);
}
static int mailbox_exists(void *ctx, struct str name);

/* INBOX is one name in any case, also as the first level of others
 * ("Inbox.Junk" is INBOX.Junk, as Dovecot's namespaces have it). */
static int same_mailbox(struct str a, struct str b)
{
	if (a.len != b.len)
		return 0;
	if (a.len >= 5 && str_has_prefix_ci(a, "INBOX") && str_has_prefix_ci(b, "INBOX") &&
	    (a.len == 5 || a.p[5] == '.' || a.p[5] == '/'))
		return str_eq(str_sub(a, 5, a.len), str_sub(b, 5, b.len));
	return str_eq(a, b);
}

static void outbox_free(struct outmsg *o)
{
	free(o->folder);
	free(o->text);
	free(o->from);
	free(o->to);
	free(o->flags);
}

/* test_result_reset: the messages sent go with the result; the mail
 * store keeps what was stored (as Pigeonhole's testsuite) */
static void outbox_clear_sent(void)
{
	int k = 0;
	for (int i = 0; i < noutbox; i++) {
		if (outbox[i].folder)
			outbox[k++] = outbox[i];
		else
			outbox_free(&outbox[i]);
	}
	noutbox = k;
}

static void outbox_clear(void)
{
	while (noutbox)
		outbox_free(&outbox[--noutbox]);
}

static void report_fail(struct str reason)
{
	if (in_test)
		printf("FAIL %s: test '%.*s': %.*s\n", cur_file, (int)test_name.len, test_name.p,
		       (int)reason.len, reason.p);
	else
		printf("FAIL %s: %.*s\n", cur_file, (int)reason.len, reason.p);
	nfailed++;
}

/* Fails the test: Pigeonhole jumps to the end of the test block, or
 * outside one to the end of the script. */
static void fail_test(struct run *r, struct str reason)
{
	report_fail(reason);
	test_failed = in_test;
	if (in_test)
		r->returned = 1;
	else
		r->stopped = 1;
}

/* The first complete address of the first field named name, or STR_NULL. */
static struct str header_address(struct run *r, const char *name)
{
	msg_headers(r);
	for (uint32_t i = 0; i < r->nhf; i++) {
		if (!str_eq_ci(r->hf[i].name, str_c(name)))
			continue;
		struct mime_address *list;
		uint32_t n;
		mime_field_addresses(r->a, msg_header_value(r, i, 0), &list, &n, 16);
		for (uint32_t k = 0; k < n; k++)
			if (mime_address_complete(&list[k]))
				return str_c(mime_address_email(r->a, &list[k]));
		return STR_NULL;
	}
	return STR_NULL;
}

/* As Pigeonhole's testsuite does for each new message: the envelope
 * comes from its header, or the defaults. */
static void envelope_from_header(struct run *r)
{
	struct str to = header_address(r, "Envelope-To");
	if (!to.p)
		to = header_address(r, "To");
	struct str from = header_address(r, "Return-Path");
	if (!from.p)
		from = header_address(r, "Sender");
	if (!from.p)
		from = header_address(r, "From");
	r->menv.env_to = to.p ? to : STR_LIT("recipient@example.com");
	r->menv.env_from = from.p ? from : STR_LIT("sender@example.com");
	r->menv.dsn_orcpt = STR_NULL;
	r->menv.auth = STR_NULL;
}

static void set_message(struct run *r, struct str text)
{
	struct buf b;
	buf_init(&b, 2 * text.len + 3);
	(void)buf_append_crlf(&b, text.p, text.len);
	msg_set(r, str_make(arena_strndup(r->a, buf_data(&b), buf_len(&b)), buf_len(&b)));
	buf_free(&b);
	r->body_seen = 0;
	r->part_hdr_seen = 0;
	envelope_from_header(r);
	/* imap4flags' internal variable is the message's flags, as
	 * Pigeonhole's testsuite has it: a new message has none */
	buf_reset(&r->flags);
}

/* The envelope's paths go to the engine as given: it reads them as SMTP
 * paths (brackets, source route) itself (sieve_test.c, env_path). */
static struct str keep_value(struct arena *a, struct str v)
{
	return str_make(arena_strndup(a, v.p, v.len), v.len);
}

static void cmd_test_set(struct run *r, const struct sv_node *n)
{
	struct str obj = arg_str(r, &n->pos[0], 0), v = arg_str(r, &n->pos[1], 0);
	if (str_eq(obj, STR_LIT("message")))
		set_message(r, v);
	else if (str_eq(obj, STR_LIT("envelope.from")))
		r->menv.env_from = keep_value(r->a, v);
	else if (str_eq(obj, STR_LIT("envelope.to")))
		r->menv.env_to = keep_value(r->a, v);
	else if (str_eq(obj, STR_LIT("envelope.orig_to")))
		r->menv.dsn_orcpt = str_c(arena_printf(r->a, "rfc822;%s", str_dup(r->a, keep_value(r->a, v))));
	else if (str_eq(obj, STR_LIT("envelope.auth")))
		r->menv.auth = keep_value(r->a, v);
	else
		run_fail(r, n, "sievesuite: test_set \"%.*s\" is not implemented", (int)obj.len, obj.p);
}

/*
 * test_config_set/unset: Pigeonhole's settings. tern's engine has no
 * settings of its own: its limits are constants (sieve.h). A key that
 * changes nothing a file then looks at is accepted without effect, and
 * said so here; any other fails the run with its name, so the file stays
 * in skipped.txt with the reason.
 */
static const char *const inert_keys[] = {
	/* Allows :seconds under a day in Pigeonhole; tern raises any period
	 * to SIEVE_VACATION_MIN_SECONDS, a day (RFC 5230 §4.1 leaves the
	 * minimum to the site). vacation/execute.svtest, which sets it,
	 * checks the action, not its period. */
	"sieve_vacation_min_period",
	/* Pigeonhole's bound on a run's CPU time. tern bounds a run's work
	 * instead, by constants whatever the setting (SIEVE_STEPS_MAX, and
	 * sieve_match.c refuses a run-time :regex key that is too costly);
	 * the file that sets it, errors-cpu-limit.svtest, checks only that
	 * its costly run fails, and tern's does: its key built in variables
	 * is refused as too complex. */
	"sieve_max_cpu_time",
	NULL,
};

/* sieve_user_email: the user's own address, as Pigeonhole names it. In
 * tern that is the account's address, which delivery's vacation counts
 * as the user's through smtp_submit_owned (deliver_sieve.c owned_addr);
 * the harness has no account, so this setting stands for it. */
static char user_email[SIEVE_VACATION_ADDR_MAX];

/* sieve and sieve_global: where Pigeonhole looks for the personal and
 * the global scripts include names. Of its locations the harness reads
 * "dict:file:PATH" (include/execute.svtest): a file of lines in pairs,
 * a key and its value, where "priv/sieve/name/NAME" gives the id of the
 * script NAME and "priv/sieve/data/ID" its text (one line). Unset, a
 * script is a file beside the test (include_text). [1] is the global. */
static char script_dict[2][8192];

static void set_script_dict(struct run *r, const struct sv_node *n, int global)
{
	char *d = script_dict[global];
	d[0] = '\0';
	if (n->id != H_TEST_CONFIG_SET)
		return;
	/* "${tst.path}", the test's directory, taken from the value as
	 * written: the engine expands the tst namespace to nothing */
	struct str v = n->pos[1].v[0].s, tag = STR_LIT("${tst.path}");
	if (v.len < 10 || memcmp(v.p, "dict:file:", 10) != 0) {
		run_fail(r, n, "sievesuite: test_config \"%s\": only dict:file: locations",
		         global ? "sieve_global" : "sieve");
		return;
	}
	/* the directory without its last "/"; "." for a test in this one */
	struct str dir = str_c(cur_dir);
	if (dir.len && dir.p[dir.len - 1] == '/')
		dir.len--;
	if (dir.len == 0)
		dir = STR_LIT(".");
	size_t o = 0;
	/* cur_dir (4096) fits beside what is written so far */
	for (size_t i = 10; i < v.len && o + sizeof cur_dir < sizeof script_dict[0];) {
		if (v.len - i >= tag.len && memcmp(v.p + i, tag.p, tag.len) == 0) {
			memcpy(d + o, dir.p, dir.len);
			o += dir.len;
			i += tag.len;
		} else
			d[o++] = v.p[i++];
	}
	d[o] = '\0';
}

/* The line after the line key in the dict text t, or STR_NULL. */
static struct str dict_get(struct str t, struct str key)
{
	size_t i = 0;
	while (i < t.len) {
		size_t e = i;
		while (e < t.len && t.p[e] != '\n')
			e++;
		size_t ve = e + 1;
		while (ve < t.len && t.p[ve] != '\n')
			ve++;
		if (e < t.len && str_eq(str_make(t.p + i, e - i), key))
			return str_make(t.p + e + 1, (ve > t.len ? t.len : ve) - e - 1);
		i = ve + 1; /* the next pair */
	}
	return STR_NULL;
}

static void cmd_test_config(struct run *r, const struct sv_node *n)
{
	struct str key = arg_str(r, &n->pos[0], 0);
	if (str_eq(key, STR_LIT("sieve")) || str_eq(key, STR_LIT("sieve_global"))) {
		set_script_dict(r, n, key.len > 5);
		return;
	}
	if (str_eq(key, STR_LIT("sieve_user_email"))) {
		struct str v = n->id == H_TEST_CONFIG_SET ? arg_str(r, &n->pos[1], 0) : STR_LIT("");
		if (v.len >= sizeof user_email)
			v.len = 0;
		memcpy(user_email, v.p, v.len);
		user_email[v.len] = '\0';
		return;
	}
	/* Where a variable's value is cut: tern's is SIEVE_VAR_VALUE_MAX,
	 * and the engine's buffers are that size, so a smaller one can be
	 * set (sv_var_value_cut) and a larger one is refused. */
	if (str_eq(key, STR_LIT("sieve_variables_max_variable_size"))) {
		uint64_t v = SIEVE_VAR_VALUE_MAX;
		if (n->id == H_TEST_CONFIG_SET &&
		    (str_to_u64(arg_str(r, &n->pos[1], 0), SIEVE_VAR_VALUE_MAX, &v) < 0 || v == 0)) {
			run_fail(r, n, "sievesuite: sieve_variables_max_variable_size above tern's %d",
			         SIEVE_VAR_VALUE_MAX);
			return;
		}
		sv_var_value_cut = (size_t)v;
		return;
	}
	for (int i = 0; inert_keys[i]; i++)
		if (str_eq(key, str_c(inert_keys[i])))
			return;
	run_fail(r, n, "sievesuite: test_config \"%.*s\": no such tern setting",
	         (int)(key.len > 100 ? 100 : key.len), key.p);
}

/*
 * test_binary_save NAME keeps the compiled script (test_script_compile's)
 * under NAME; test_binary_load NAME makes it the compiled script again,
 * as Pigeonhole saves and loads its .svbin. tern has no binary form: a
 * script is compiled from its text wherever it is loaded (the cache
 * compiles it again after a miss), so the text is kept and compiled
 * again, which is what loading means in tern.
 */
static void binary(struct run *r, const struct sv_node *n)
{
	struct str name = arg_str(r, &n->pos[0], 0);
	int i = 0;
	while (i < nbinaries && !str_eq(str_c(binaries[i].name), name))
		i++;
	if (n->id == H_TEST_BINARY_SAVE) {
		if (!sub) {
			run_fail(r, n, "sievesuite: test_binary_save without a compiled script");
			return;
		}
		if (i == nbinaries) {
			if (nbinaries == BINARIES_MAX) {
				run_fail(r, n, "sievesuite: more than %d saved binaries", BINARIES_MAX);
				return;
			}
			binaries[nbinaries++].name = strndup(name.p, name.len);
		}
		free(binaries[i].text);
		binaries[i].text = malloc(sub_len + 1);
		memcpy(binaries[i].text, sub_text, sub_len);
		binaries[i].len = sub_len;
		return;
	}
	if (i == nbinaries) {
		run_fail(r, n, "sievesuite: test_binary_load: no binary saved as \"%.*s\"",
		         (int)name.len, name.p);
		return;
	}
	sieve_script_free(&sub);
	sub_errs.n = 0;
	sub_compiled = 1;
	sub = sieve_compile_errors(binaries[i].text, binaries[i].len, &sub_errs);
	if (!sub)
		run_fail(r, n, "sievesuite: test_binary_load \"%.*s\" does not compile", (int)name.len,
		         name.p);
}

/*
 * test_imap_metadata_set [:mailbox NAME] ENTRY VALUE: an IMAP METADATA
 * entry (RFC 5464) of the mailbox, or of the server without :mailbox,
 * as an IMAP client's SETMETADATA leaves it; the engine reads it through
 * sieve_env.metadata (entry names in any case, as RFC 5464 §3.2 has
 * them). One value an entry: setting it again replaces it.
 */
#define METADATA_MAX 32
static struct meta {
	char *mailbox; /* NULL: the server's */
	char *name, *value;
} metas[METADATA_MAX];
static int nmetas;

static struct meta *meta_find(struct str mailbox, struct str name)
{
	for (int i = 0; i < nmetas; i++)
		if ((mailbox.p ? metas[i].mailbox && same_mailbox(str_c(metas[i].mailbox), mailbox) :
		                 !metas[i].mailbox) &&
		    str_eq_ci(str_c(metas[i].name), name))
			return &metas[i];
	return NULL;
}

static void metadata_set(struct run *r, const struct sv_node *n)
{
	const struct sv_arg *mbox = node_tag(n, G_MAILBOX);
	struct str mailbox = mbox ? arg_str(r, mbox, 0) : STR_NULL;
	struct str name = arg_str(r, &n->pos[0], 0), value = arg_str(r, &n->pos[1], 0);
	struct meta *m = meta_find(mailbox, name);
	if (!m) {
		if (nmetas == METADATA_MAX) {
			run_fail(r, n, "sievesuite: more than %d metadata entries", METADATA_MAX);
			return;
		}
		m = &metas[nmetas++];
		m->mailbox = mailbox.p ? strndup(mailbox.p, mailbox.len) : NULL;
		m->name = strndup(name.p, name.len);
	}
	free(m->value);
	m->value = strndup(value.p, value.len);
}

static int metadata(void *ctx, struct str mailbox, struct str name, struct arena *a,
                    struct str *value_r)
{
	(void)ctx;
	struct meta *m = meta_find(mailbox, name);
	if (!m)
		return 0;
	*value_r = str_c(arena_strdup(a, m->value));
	return 1;
}

static void hook_command(struct run *r, const struct sv_node *n)
{
	switch (n->id) {
	case H_TEST:
		if (in_test) {
			run_fail(r, n, "sievesuite: tests cannot be nested");
			return;
		}
		in_test = 1;
		test_failed = 0;
		ntests++;
		test_name = arg_str(r, &n->pos[0], 0);
		test_name = str_make(arena_strndup(r->a, test_name.p, test_name.len), test_name.len);
		sv_run_block(r, n->block);
		if (test_failed)
			r->returned = 0; /* test_fail ended this test, not the script */
		else if (!r->failed)
			printf("pass %s: test '%.*s'\n", cur_file, (int)test_name.len, test_name.p);
		in_test = 0;
		break;
	case H_TEST_FAIL:
		fail_test(r, arg_str(r, &n->pos[0], 0));
		break;
	case H_TEST_SET:
		cmd_test_set(r, n);
		break;
	case H_TEST_CONFIG_SET:
	case H_TEST_CONFIG_UNSET:
		cmd_test_config(r, n);
		break;
	case H_TEST_CONFIG_RELOAD: /* the settings above take no reload */
		break;
	case H_TEST_MESSAGE_CMD:
		/* as a command, a message it cannot find fails the test */
		if (!test_message(r, n))
			fail_test(r, STR_LIT("test_message: no such message"));
		break;
	case H_TEST_RESULT_RESET:
		/* a new result, as Pigeonhole makes: its limits start over */
		have_sub_res = 0;
		r->res->nactions = 0;
		r->res->implicit_keep = 1;
		r->redirects = r->vacations = 0;
		outbox_clear_sent();
		break;
	case H_TEST_BINARY_SAVE:
	case H_TEST_BINARY_LOAD:
		binary(r, n);
		break;
	case H_TEST_IMAP_METADATA_SET:
		metadata_set(r, n);
		break;
	case H_DEBUG_LOG: {
		struct str m = arg_str(r, &n->pos[0], 0);
		printf("debug %s: %.*s\n", cur_file, (int)(m.len > 200 ? 200 : m.len), m.p);
		break;
	}
	case H_TEST_MAILBOX_CREATE: {
		struct str name = arg_str(r, &n->pos[0], 0);
		if (nmailboxes < MAILBOXES_MAX)
			mailboxes[nmailboxes++] = strndup(name.p, name.len);
		break;
	}
	default:
		run_fail(r, n, "sievesuite: no such command");
	}
}

/*
 * test_script_compile and test_script_run: a script beside the file,
 * compiled and run on the current message and envelope. Its compile
 * errors (all of them, SIEVE_ERRORS_MAX with their text), or its run's
 * error, are what test_error sees; its result is what
 * test_result_action sees until test_result_reset, which goes back to
 * the suite's own (the actions its test blocks took).
 */

static void sub_clear(void)
{
	sieve_script_free(&sub);
	if (sub_arena)
		arena_free(&sub_arena);
	have_sub_res = 0;
	sub_errs.n = 0;
	while (nmailboxes)
		free(mailboxes[--nmailboxes]);
	outbox_clear();
}

static int test_script_compile(struct run *r, const struct sv_node *t)
{
	struct str name = arg_str(r, &t->pos[0], 0);
	char path[8192];
	size_t len;
	sieve_script_free(&sub);
	sub_errs.n = 0;
	sub_compiled = 0;
	snprintf(path, sizeof path, "%s%.*s", cur_dir, (int)name.len, name.p);
	char *text = read_file(path, &len);
	if (!text) {
		sub_errs.n = 1;
		snprintf(sub_errs.text[0], sizeof sub_errs.text[0], "cannot read %.200s", path);
		return 0;
	}
	sub = sieve_compile_errors(text, len, &sub_errs);
	sub_compiled = 1;
	free(sub_text);
	sub_text = text;
	sub_len = len;
	if (!sub) { /* many tests expect it: a note to read when the file fails */
		char all[SIEVE_ERRORS_TEXT_MAX];
		printf("note %s: %.*s: %u errors: %s\n", cur_file, (int)name.len, name.p, sub_errs.n,
		       sieve_errors_format(&sub_errs, " | ", all, sizeof all));
	}
	return sub != NULL;
}

static int test_script_run(struct run *r, const struct sv_node *t)
{
	if (!sub) {
		run_fail(r, t, "sievesuite: test_script_run without a compiled script");
		return -1;
	}
	if (sub_arena)
		arena_free(&sub_arena);
	sub_arena = arena_new(1 << 16);
	sub_errs.n = 0;
	sub_compiled = 0;
	have_sub_res = 1;
	int rc = sieve_run(sub, r->env, sub_arena, &sub_res);
	if (rc < 0) {
		sub_errs.n = 1;
		snprintf(sub_errs.text[0], sizeof sub_errs.text[0], "%s", sub_res.error);
	}
	return rc == 0;
}

/* The message as action a (of res, or of the run r when res is r's)
 * takes it: its header as edited up to the action's point (RFC 5293 §5),
 * then the body. */
static void outbox_add(struct run *r, const struct sieve_result *res, const struct sieve_action *a,
                       const char *folder)
{
	if (noutbox >= OUTBOX_MAX)
		return;
	const char *msg = r->env->msg;
	size_t len = r->env->len;
	struct buf b;
	buf_init(&b, 2 * len + 64 * 1024);
	struct sieve_result view = *res;
	if (res == r->res && r->edits) {
		/* the run is not over: its fields are r's, as export_fields
		 * would give them */
		msg_headers(r);
		view.fields = arena_alloc(r->a, (r->nhf + 1) * sizeof *view.fields);
		view.nfields = 0;
		for (uint32_t i = 0; i < r->nhf; i++)
			view.fields[view.nfields++] = (struct sieve_field){ r->hf[i].name, r->hf[i].value,
			                                                    r->hf[i].added, r->hf[i].deleted };
		view.edits = r->edits;
	}
	ptrdiff_t body = sieve_body_offset(msg, len);
	if (view.fields && body >= 0) {
		(void)sieve_header_write_at(&view, a ? a->edits : SIEVE_EDITS_LAST, &b);
		(void)buf_append(&b, msg + body, len - (size_t)body);
	} else {
		(void)buf_append(&b, msg, len);
	}
	/* a redirect goes from the message's sender to its target */
	struct str flags = a ? a->flags : res->keep_flags;
	outbox_push(folder, buf_str(&b), r->env->env_from, a && !folder ? a->target : STR_LIT(""), flags);
	buf_free(&b);
}

/* An SMTP path without its angle brackets ("<>" is ""). */
static struct str bare_path(struct str v)
{
	v = str_trim(v);
	if (v.len >= 2 && v.p[0] == '<' && v.p[v.len - 1] == '>')
		v = str_make(v.p + 1, v.len - 2);
	return v;
}

/* sieve_vacation_skip's question, as delivery's owned_addr asks the
 * store: is addr the account's (here sieve_user_email's)? */
static int user_owned(void *arg, struct str addr)
{
	(void)arg;
	return user_email[0] && str_eq_ci_c(addr, user_email);
}

/* A vacation action's reply, made as the delivery stage makes it
 * (sieve_vacation.c): none to a sender RFC 5230 §4.5-4.6 says not to
 * answer. It goes from the null path to the sender. */
static void outbox_vacation(struct run *r, const struct sieve_action *a)
{
	struct str sender = bare_path(r->env->env_from), ours[1 + 16];
	uint32_t nours = 0;
	ours[nours++] = bare_path(r->env->env_to);
	for (uint32_t i = 0; i < a->naddresses && nours < 1 + 16; i++)
		ours[nours++] = a->addresses[i];
	char sent_to[SIEVE_VACATION_ADDR_MAX];
	if (noutbox >= OUTBOX_MAX ||
	    sieve_vacation_skip(r->env->msg, r->env->len, sender, ours, nours, user_owned, NULL,
	                        sent_to))
		return;
	struct buf b;
	buf_init(&b, r->env->len + 256 * 1024);
	if (sieve_vacation_reply(a, r->env->msg, r->env->len, sender,
	                         sent_to[0] ? str_c(sent_to) : ours[0],
	                         "Sun, 29 Nov 2026 10:00:00 +0000", "vacation.1@sievesuite.example",
	                         &b) == 0)
		outbox_push(NULL, buf_str(&b), STR_LIT(""), sender, STR_LIT(""));
	buf_free(&b);
}

/* A notify action's message, made as the delivery stage makes it
 * (deliver_sieve.c notify: sieve_vacation.c's writer, the envelope
 * recipient the default From): none about an automatic message or for a
 * URI that does not parse. It goes from the null path to each of the
 * URI's recipients, one outbox entry each, as the queue sends one copy
 * to each RCPT TO. */
static void outbox_notify(struct run *r, const struct sieve_action *a)
{
	struct sieve_mailto m;
	if (sieve_notify_skip(r->env->msg, r->env->len) || sieve_mailto_parse(a->target, r->a, &m) < 0)
		return;
	struct buf b;
	buf_init(&b, r->env->len + 256 * 1024);
	if (sieve_notify_message(a, &m, r->env->msg, r->env->len, bare_path(r->env->env_to),
	                         "Sun, 29 Nov 2026 10:00:00 +0000", "notify.1@sievesuite.example", &b) == 0)
		for (uint32_t i = 0; i < m.nrcpts; i++)
			outbox_push(NULL, buf_str(&b), STR_LIT(""), m.rcpts[i], STR_LIT(""));
	buf_free(&b);
}

/* test_result_execute: what delivery would do with the result, as far as
 * the later test_message needs it (keep and fileinto store the message,
 * redirect sends it, vacation sends its reply, notify its notification;
 * tern rejects in the SMTP reply, so no rejection message is made). */
static int result_execute(struct run *r)
{
	const struct sieve_result *res = have_sub_res ? &sub_res : r->res;
	if (have_sub_res && sub_errs.n)
		return 0;
	for (uint32_t i = 0; i < res->nactions; i++) {
		const struct sieve_action *a = &res->actions[i];
		if (a->kind == SIEVE_ACT_KEEP)
			outbox_add(r, res, a, "INBOX");
		else if (a->kind == SIEVE_ACT_FILEINTO) {
			/* fileinto :create makes a missing mailbox; else, as
			 * delivery does (store's mbox_for_delivery, RFC 5228
			 * §4.1's choice), the copy goes to the INBOX instead.
			 * The harness knows no name rules: a name the store
			 * would refuse is made all the same. */
			if (!mailbox_exists(NULL, a->target) && a->create && nmailboxes < MAILBOXES_MAX)
				mailboxes[nmailboxes++] = strndup(a->target.p, a->target.len);
			outbox_add(r, res, a,
			           mailbox_exists(NULL, a->target) ? str_dup(r->a, a->target) : "INBOX");
		}
		else if (a->kind == SIEVE_ACT_REDIRECT)
			outbox_add(r, res, a, NULL);
		else if (a->kind == SIEVE_ACT_VACATION)
			outbox_vacation(r, a);
		else if (a->kind == SIEVE_ACT_NOTIFY)
			outbox_notify(r, a);
	}
	if (res->implicit_keep)
		outbox_add(r, res, NULL, "INBOX");
	return 1;
}

/* test_message :folder NAME N / :smtp N: the Nth (from 0) message
 * stored in NAME or sent becomes the one the tests see. */
static int test_message(struct run *r, const struct sv_node *t)
{
	const struct sv_arg *folder = node_tag(t, G_FOLDER);
	struct str name = folder ? arg_str(r, folder, 0) : STR_NULL;
	uint64_t want = t->pos[0].num, seen = 0;
	for (int i = 0; i < noutbox; i++) {
		struct outmsg *o = &outbox[i];
		if (folder ? !o->folder || !same_mailbox(name, str_c(o->folder)) : o->folder != NULL)
			continue;
		if (seen++ == want) {
			set_message(r, str_make(o->text, o->len));
			r->edits = 0;
			/* hasflag reads the stored message's flags */
			buf_reset(&r->flags);
			flags_add(&r->flags, str_c(o->flags));
			if (!o->folder) { /* the envelope it was sent with */
				r->menv.env_from = str_c(arena_strdup(r->a, o->from));
				r->menv.env_to = str_c(arena_strdup(r->a, o->to));
			}
			return 1;
		}
	}
	return 0;
}

/* Pigeonhole's names of the actions a result holds. */
static const char *action_name(enum sieve_action_kind k)
{
	switch (k) {
	case SIEVE_ACT_KEEP: return "keep";
	case SIEVE_ACT_FILEINTO: return "store";
	case SIEVE_ACT_REDIRECT: return "redirect";
	case SIEVE_ACT_DISCARD: return "discard";
	case SIEVE_ACT_REJECT: return "reject";
	case SIEVE_ACT_EREJECT: return "ereject";
	case SIEVE_ACT_VACATION: return "vacation";
	case SIEVE_ACT_NOTIFY: return "notify";
	default: return NULL; /* edits, duplicate: no actions in Pigeonhole's result */
	}
}

/* t's match (its MATCH-TYPE, COMPARATOR and :index) over values. */
static int match_values(struct run *r, const struct sv_node *t, const struct str *vals, uint32_t n)
{
	const struct sv_arg *keys = &t->pos[t->npos - 1];
	const struct sv_arg *index = node_tag(t, G_INDEX);
	struct sv_matcher m = { .match = t->match, .cmp = t->cmp, .rel = t->rel, .steps = &r->steps };
	if (index) {
		if (index->num < 1 || index->num > n)
			return 0;
		vals += index->num - 1;
		n = 1;
	}
	for (uint32_t k = 0; k < keys->n; k++) {
		struct str key = arg_str(r, keys, k);
		if (t->match == M_COUNT) {
			char num[24];
			snprintf(num, sizeof num, "%u", n);
			if (sv_rel_holds(t->rel, sv_cmp_order(t->cmp, str_c(num), key)))
				return 1;
			continue;
		}
		for (uint32_t i = 0; i < n; i++) {
			int rc = sv_match_one(&m, vals[i], key, r->err);
			if (rc != 0) {
				if (rc < 0)
					r->failed = 1;
				return rc;
			}
		}
	}
	return 0;
}

static int hook_test(struct run *r, const struct sv_node *t)
{
	switch (t->id) {
	case H_TEST_SCRIPT_COMPILE:
		return test_script_compile(r, t);
	case H_TEST_SCRIPT_RUN:
		return test_script_run(r, t);
	case H_TEST_ERROR: {
		/* those only counted (past SIEVE_ERRORS_MAX) have no text.
		 * Pigeonhole closes a failed compile's errors with one more,
		 * "parse failed" or "validation failed", which its files count
		 * ("Total errors: 8 (+1 = 9)"): one more here too. */
		uint32_t n = sub_errs.n + (sub == NULL && sub_compiled);
		struct str *e = arena_alloc(r->a, (n + 1) * sizeof *e);
		for (uint32_t i = 0; i < n; i++)
			e[i] = i < SIEVE_ERRORS_MAX && i < sub_errs.n ? str_c(sub_errs.text[i]) :
			       i == sub_errs.n ? STR_LIT("compile failed") : STR_LIT("");
		return match_values(r, t, e, n);
	}
	case H_TEST_RESULT_ACTION: {
		const struct sieve_result *res = have_sub_res ? &sub_res : r->res;
		struct str *names = arena_alloc(r->a, (res->nactions + 1) * sizeof *names);
		uint32_t n = 0;
		for (uint32_t i = 0; i < res->nactions; i++) {
			const char *name = action_name(res->actions[i].kind);
			if (name)
				names[n++] = str_c(name);
		}
		return match_values(r, t, names, n);
	}
	case H_TEST_RESULT_EXECUTE:
		return result_execute(r);
	case H_TEST_MESSAGE:
		return test_message(r, t);
	default:
		run_fail(r, t, "sievesuite: no such test");
		return -1;
	}
}

static int mailbox_exists(void *ctx, struct str name)
{
	if (str_eq_ci(name, STR_LIT("INBOX")))
		return 1;
	for (int i = 0; i < nmailboxes; i++)
		if (same_mailbox(name, str_c(mailboxes[i])))
			return 1;
	return 0;
}

static const struct sv_hook hook = {
	.ext = "vnd.dovecot.testsuite",
	.ext_also = "vnd.dovecot.debug",
	.ns = "tst", /* "${tst.path}": the suite's directory, expanded to nothing here */
	.specs = hook_specs,
	.nspecs = sizeof hook_specs / sizeof hook_specs[0],
	.tags = hook_tags,
	.tag_args = hook_tag_args,
	.ntags = sizeof hook_tags / sizeof hook_tags[0],
	.command = hook_command,
	.test = hook_test,
};

/* Pigeonhole's testsuite starts with this message. */
static const char default_message[] = "From: sender@example.com\r\n"
                                      "To: recipient@example.org\r\n"
                                      "Subject: Frop!\r\n"
                                      "\r\n"
                                      "Friep!\r\n";

static char *read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *p = malloc(cap);
	for (size_t got; p && (got = fread(p + len, 1, cap - len, f)) > 0;) {
		len += got;
		if (len == cap && !(p = realloc(p, cap *= 2)))
			break;
	}
	fclose(f);
	*len_r = len;
	return p;
}

/* include: as Pigeonhole's testsuite, a personal script is
 * included/NAME.sieve beside the file, a global one
 * included-global/NAME.sieve. The texts live until the file's run ends. */
#define INCLUDED_MAX 64
static char *included[INCLUDED_MAX];
static int nincluded;

static int include_text(void *ctx, struct str name, int global, struct str *text_r)
{
	char path[8192];
	size_t len;
	if (nincluded >= INCLUDED_MAX || memchr(name.p, '/', name.len))
		return -1;
	if (script_dict[global ? 1 : 0][0]) {
		char *dict = read_file(script_dict[global ? 1 : 0], &len);
		if (!dict)
			return -1;
		char k[512];
		snprintf(k, sizeof k, "priv/sieve/name/%.*s", (int)(name.len > 400 ? 400 : name.len), name.p);
		struct str id = dict_get(str_make(dict, len), str_c(k)), text = STR_NULL;
		if (id.p) {
			snprintf(k, sizeof k, "priv/sieve/data/%.*s", (int)(id.len > 400 ? 400 : id.len), id.p);
			text = dict_get(str_make(dict, len), str_c(k));
		}
		if (!text.p) {
			free(dict);
			return -1;
		}
		memmove(dict, text.p, text.len);
		included[nincluded++] = dict;
		*text_r = str_make(dict, text.len);
		return 0;
	}
	snprintf(path, sizeof path, "%s%s/%.*s.sieve", cur_dir, global ? "included-global" : "included",
	         (int)name.len, name.p);
	char *text = read_file(path, &len);
	if (!text)
		return -1;
	included[nincluded++] = text;
	*text_r = str_make(text, len);
	return 0;
}

/* 0 when every test of the file passed; with expect_failure (-F, which
 * Pigeonhole's Makefile gives the files of tests/failures/, regressions
 * of crashes in its own harness), 0 when every test failed and something
 * did: the run ending without a crash is what those files check. */
static int run_file(const char *path, int expect_failure)
{
	size_t len;
	char *text = read_file(path, &len);
	char err[SIEVE_ERROR_MAX];
	cur_file = path;
	ntests = nfailed = in_test = 0;
	user_email[0] = '\0'; /* each file starts with Pigeonhole's defaults */
	script_dict[0][0] = script_dict[1][0] = '\0';
	sv_var_value_cut = SIEVE_VAR_VALUE_MAX;
	if (!text) {
		printf("FAIL %s: cannot read it\n", path);
		return 1;
	}
	struct sieve_script *s = sieve_compile(text, len, err);
	if (!s) {
		printf("FAIL %s: does not compile: %s\n", path, err);
		free(text);
		return !expect_failure;
	}
	const char *slash = strrchr(path, '/');
	snprintf(cur_dir, sizeof cur_dir, "%.*s", slash ? (int)(slash - path + 1) : 0, path);
	struct sieve_env env = { .msg = default_message, .len = sizeof default_message - 1 };
	env.include_text = include_text;
	env.mailbox_exists = mailbox_exists;
	env.metadata = metadata;
	env.env_from = STR_LIT("sender@example.com");
	env.env_to = STR_LIT("recipient@example.org");
	env.now = 1262304000; /* 2010-01-01 */
	sieve_env_host(&env, "mx.example.com");
	struct arena *a = arena_new(1 << 20);
	struct sieve_result res;
	int rc = sieve_run(s, &env, a, &res);
	if (rc < 0) {
		printf("FAIL %s: run error: %s\n", path, res.error);
		nfailed++;
	}
	int bad = expect_failure ? nfailed == 0 || nfailed < ntests : nfailed != 0;
	printf("%s %s: %d tests, %d failed%s\n", bad ? "FAIL" : "PASS", path, ntests, nfailed,
	       expect_failure ? " (all expected to fail)" : "");
	arena_free(&a);
	sieve_script_free(&s);
	free(text);
	while (nincluded)
		free(included[--nincluded]);
	sub_clear();
	free(sub_text);
	sub_text = NULL;
	while (nmetas) {
		nmetas--;
		free(metas[nmetas].mailbox);
		free(metas[nmetas].name);
		free(metas[nmetas].value);
		metas[nmetas].value = NULL;
	}
	while (nbinaries) {
		nbinaries--;
		free(binaries[nbinaries].name);
		free(binaries[nbinaries].text);
		binaries[nbinaries].text = NULL;
	}
	return bad;
}

int main(int argc, char **argv)
{
	int bad = 0, expect_failure = 0, i = 1;
	sv_hook = &hook;
	if (i < argc && strcmp(argv[i], "-F") == 0) {
		expect_failure = 1;
		i++;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: %s [-F] FILE.svtest...\n", argv[0]);
		return 2;
	}
	for (; i < argc; i++)
		bad |= run_file(argv[i], expect_failure);
	return bad;
}
