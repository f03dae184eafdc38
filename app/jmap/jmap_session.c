/*
 * jmap_session.c — the session resource (RFC 8620 §2): capabilities with
 * the limits jmap.h enforces, the accounts (the user's own, and each
 * other user's that shares a mailbox with it: jmap_share.c) and the
 * URLs of the API, download, upload and event source endpoints and of
 * the WebSocket (RFC 8887).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme_jws.h"
#include "core/base64.h"
#include "jmap/jmap_blob.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_private.h"
#include "sieve/sieve.h"
#include "store/store.h"

static void core_capability(struct jw *w)
{
	jw_obj_begin(w);
	jw_kint(w, "maxSizeUpload", (int64_t)jmap_max_size_upload());
	jw_kint(w, "maxConcurrentUpload", JMAP_MAX_CONCURRENT_UPLOAD);
	jw_kint(w, "maxSizeRequest", JMAP_MAX_SIZE_REQUEST);
	jw_kint(w, "maxConcurrentRequests", JMAP_MAX_CONCURRENT_REQUESTS);
	jw_kint(w, "maxCallsInRequest", JMAP_MAX_CALLS_IN_REQUEST);
	jw_kint(w, "maxObjectsInGet", JMAP_MAX_OBJECTS_IN_GET);
	jw_kint(w, "maxObjectsInSet", JMAP_MAX_OBJECTS_IN_SET);
	jw_key(w, "collationAlgorithms");
	jw_arr_begin(w);
	for (int i = 0; jmap_collations[i]; i++)
		jw_str(w, jmap_collations[i]);
	jw_arr_end(w);
	jw_obj_end(w);
}

/* RFC 8621 §1.3.1, per account; top: mayCreateTopLevelMailbox. */
static void mail_account_capability(struct jw *w, int top)
{
	jw_obj_begin(w);
	/* Email/set and Email/import keep to it (jmap_email.h). */
	jw_kint(w, "maxMailboxesPerEmail", JMAP_TARGETS_MAX);
	jw_key(w, "maxMailboxDepth");
	jw_null(w);
	jw_kint(w, "maxSizeMailboxName", 255);
	jw_kint(w, "maxSizeAttachmentsPerEmail", (int64_t)jmap_max_size_attachments());
	jw_key(w, "emailQuerySortOptions");
	jw_arr_begin(w);
	jw_str(w, "receivedAt");
	jw_str(w, "sentAt");
	jw_str(w, "size");
	jw_str(w, "from");
	jw_str(w, "to");
	jw_str(w, "subject");
	jw_str(w, "hasKeyword");
	jw_str(w, "allInThreadHaveKeyword");
	jw_str(w, "someInThreadHaveKeyword");
	jw_arr_end(w);
	jw_kbool(w, "mayCreateTopLevelMailbox", top);
	jw_obj_end(w);
}

/* RFC 9404 §3, per account: the same in a shared one, where the
 * methods keep to the user's rights (jmap_blob_methods.c). */
static void blob_account_capability(struct jw *w)
{
	jw_key(w, JMAP_CAP_BLOB);
	jw_obj_begin(w);
	jw_kint(w, "maxSizeBlobSet", (int64_t)jmap_max_size_upload());
	jw_kint(w, "maxDataSources", JMAP_BLOB_MAX_SOURCES);
	jw_key(w, "supportedTypeNames");
	jw_arr_begin(w);
	jw_str(w, "Mailbox");
	jw_str(w, "Thread");
	jw_str(w, "Email");
	jw_arr_end(w);
	jw_key(w, "supportedDigestAlgorithms");
	jw_arr_begin(w);
	jw_str(w, "sha");
	jw_str(w, "sha-256");
	jw_arr_end(w);
	jw_obj_end(w);
}

/* RFC 9661 §1.3.2: the limits store_sieve.c and the interpreter keep. */
static void sieve_account_capability(struct jw *w)
{
	char ext[1024];
	const char *p = sieve_extensions();

	jw_obj_begin(w);
	jw_kuint(w, "maxSizeScriptName", STORE_SIEVE_NAME_MAX);
	jw_kuint(w, "maxSizeScript", STORE_SIEVE_BYTES_MAX);
	jw_kuint(w, "maxNumberScripts", STORE_SIEVE_SCRIPTS_MAX);
	jw_kuint(w, "maxNumberRedirects", SIEVE_REDIRECTS_MAX);
	jw_key(w, "sieveExtensions");
	jw_arr_begin(w);
	while (*p) {
		size_t n = strcspn(p, " ");
		if (n && n < sizeof ext) {
			memcpy(ext, p, n);
			ext[n] = '\0';
			jw_str(w, ext);
		}
		p += n;
		p += *p == ' ';
	}
	jw_arr_end(w);
	jw_key(w, "notificationMethods");
	jw_arr_begin(w);
	jw_str(w, "mailto");
	jw_arr_end(w);
	jw_key(w, "externalLists");
	jw_null(w);
	jw_kstr(w, "implementation", "tern");
	jw_obj_end(w);
}

/* RFC 9670 §2.1: whose account it is, a Principal of the user's own
 * account (where Principal/get answers). */
static void principals_owner_capability(struct jw *w, uint32_t user, uint32_t owner)
{
	char id[16];

	snprintf(id, sizeof id, "A%08x", user);
	jw_key(w, JMAP_CAP_PRINCIPALS_OWNER);
	jw_obj_begin(w);
	jw_kstr(w, "accountIdForPrincipal", id);
	jw_key(w, "principalId");
	jmap_w_principal_id(w, owner);
	jw_obj_end(w);
}

void jmap_w_account_object(struct jw *w, uint32_t user, uint32_t id, const char *name,
			   uint32_t rights)
{
	jw_obj_begin(w);
	jw_kstr(w, "name", name);
	jw_kbool(w, "isPersonal", id == user);
	jw_kbool(w, "isReadOnly", id != user && jmap_shared_read_only(rights));
	jw_key(w, "accountCapabilities");
	jw_obj_begin(w);
	jw_key(w, JMAP_CAP_CORE);
	jw_obj_begin(w);
	jw_obj_end(w);
	jw_key(w, JMAP_CAP_MAIL);
	mail_account_capability(w, id == user || (rights & JMAP_SHARE_TOP_CREATE));
	if (id != user) {
		/* Another user's: the mail and blob capabilities alone (the
		 * methods that work there: jmap_methods.c's JMAP_M_SHARED). */
		blob_account_capability(w);
		principals_owner_capability(w, user, id);
		jw_obj_end(w);
		jw_obj_end(w);
		return;
	}
	/* RFC 8621 §1.3.2: no delayed sending (the queue holds nothing
	 * back); the SMTP extensions whose parameters EmailSubmission's
	 * envelope may carry to the queue (jmap_submission.c). */
	jw_key(w, JMAP_CAP_SUBMISSION);
	jw_obj_begin(w);
	jw_kint(w, "maxDelayedSend", 0);
	jw_key(w, "submissionExtensions");
	jw_obj_begin(w);
	/* Each with its EHLO arguments (smtp_session.c's EHLO reply). */
	static const struct {
		const char *name, *arg;
	} exts[] = {{"8BITMIME", NULL}, {"DSN", NULL},        {"MT-PRIORITY", "MIXER"},
		    {"REQUIRETLS", NULL}, {"SMTPUTF8", NULL}};
	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
		jw_key(w, exts[i].name);
		jw_arr_begin(w);
		if (exts[i].arg)
			jw_str(w, exts[i].arg);
		jw_arr_end(w);
	}
	jw_obj_end(w);
	jw_obj_end(w);
	jw_key(w, JMAP_CAP_VACATION);
	jw_obj_begin(w);
	jw_obj_end(w);
	jw_key(w, JMAP_CAP_QUOTA);
	jw_obj_begin(w);
	jw_obj_end(w);
	blob_account_capability(w);
	jw_key(w, JMAP_CAP_SIEVE);
	sieve_account_capability(w);
	/* RFC 9007 §2: an empty object in both places. */
	jw_key(w, JMAP_CAP_MDN);
	jw_obj_begin(w);
	jw_obj_end(w);
	/* RFC 9670 §2: the user's Principal is in this account. */
	jw_key(w, JMAP_CAP_PRINCIPALS);
	jw_obj_begin(w);
	jw_key(w, "currentUserPrincipalId");
	jmap_w_principal_id(w, user);
	jw_obj_end(w);
	principals_owner_capability(w, user, id);
	jw_obj_end(w);
	jw_obj_end(w);
}

/*
 * The accounts other users share with the user (RFC 8620 §1.6.2): each
 * named by its owner's address, with the mail and blob capabilities
 * alone (the methods that work there: jmap_methods.c's JMAP_M_SHARED). An owner
 * whose address cannot be read (removed meanwhile) is left out.
 */
static int shared_accounts_write(struct jw *w, struct store *st, uint32_t account,
				 char state[24])
{
	struct jmap_shared_account *v;
	size_t n;

	if (jmap_shared_accounts(st, account, &v, &n) < 0)
		return -1;
	jmap_session_state_of(v, n, state);
	for (size_t i = 0; i < n; i++) {
		char id[16], owner[320];
		if (store_account_email(st, v[i].owner, owner, sizeof owner) != STORE_OK)
			continue;
		snprintf(id, sizeof id, "A%08x", v[i].owner);
		jw_key(w, id);
		jmap_w_account_object(w, account, v[i].owner, owner, v[i].rights);
	}
	free(v);
	return 0;
}

int jmap_session_write(struct store *st, uint32_t account, const char *email, const char *base,
		       struct buf *out)
{
	struct jw w;
	char acc[16], url[600], state[24];
	uint64_t ms;

	if (store_account_modseq(st, account, &ms) != STORE_OK)
		return -1;
	snprintf(acc, sizeof acc, "A%08x", account);
	jw_init(&w, out);
	jw_obj_begin(&w);
	jw_key(&w, "capabilities");
	jw_obj_begin(&w);
	jw_key(&w, JMAP_CAP_CORE);
	core_capability(&w);
	static const char *const empty[] = {JMAP_CAP_MAIL,  JMAP_CAP_SUBMISSION, JMAP_CAP_VACATION,
					    JMAP_CAP_QUOTA, JMAP_CAP_BLOB,       JMAP_CAP_MDN};
	for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
		jw_key(&w, empty[i]);
		jw_obj_begin(&w);
		jw_obj_end(&w);
	}
	/* RFC 8887 §4.1: the same host and port, scheme wss (base is
	 * https://... on the only listener that serves it). */
	jw_key(&w, JMAP_CAP_WEBSOCKET);
	jw_obj_begin(&w);
	snprintf(url, sizeof url, "wss%s/jmap/ws/", strncmp(base, "https", 5) ? base + 4 : base + 5);
	jw_kstr(&w, "url", url);
	jw_kbool(&w, "supportsPush", 1);
	jw_obj_end(&w);
	if (jmap_vapid_ready) {
		/* The key push services check our VAPID signatures with
		 * (RFC 8292); a browser subscribes with it. */
		char k[100];
		base64_encode(jmap_vapid_pub, sizeof jmap_vapid_pub, BASE64_URL | BASE64_NOPAD, k,
		              sizeof k);
		jw_key(&w, JMAP_CAP_WEBPUSH_VAPID);
		jw_obj_begin(&w);
		jw_kstr(&w, "applicationServerKey", k);
		jw_obj_end(&w);
	}
	jw_key(&w, JMAP_CAP_SIEVE);
	jw_obj_begin(&w);
	jw_obj_end(&w);
	/* RFC 9670 §2: an empty object. */
	jw_key(&w, JMAP_CAP_PRINCIPALS);
	jw_obj_begin(&w);
	jw_obj_end(&w);
	jw_obj_end(&w);

	jw_key(&w, "accounts");
	jw_obj_begin(&w);
	jw_key(&w, acc);
	jmap_w_account_object(&w, account, account, email, STORE_ACL_ALL);
	if (shared_accounts_write(&w, st, account, state) < 0)
		return -1;
	jw_obj_end(&w);

	jw_key(&w, "primaryAccounts");
	jw_obj_begin(&w);
	jw_kstr(&w, JMAP_CAP_CORE, acc);
	jw_kstr(&w, JMAP_CAP_MAIL, acc);
	jw_kstr(&w, JMAP_CAP_SUBMISSION, acc);
	jw_kstr(&w, JMAP_CAP_VACATION, acc);
	jw_kstr(&w, JMAP_CAP_QUOTA, acc);
	jw_kstr(&w, JMAP_CAP_BLOB, acc);
	jw_kstr(&w, JMAP_CAP_SIEVE, acc);
	jw_kstr(&w, JMAP_CAP_MDN, acc);
	jw_kstr(&w, JMAP_CAP_PRINCIPALS, acc);
	jw_obj_end(&w);
	jw_kstr(&w, "username", email);
	snprintf(url, sizeof url, "%s/jmap/api/", base);
	jw_kstr(&w, "apiUrl", url);
	snprintf(url, sizeof url, "%s/jmap/download/{accountId}/{blobId}/{name}?accept={type}", base);
	jw_kstr(&w, "downloadUrl", url);
	snprintf(url, sizeof url, "%s/jmap/upload/{accountId}/", base);
	jw_kstr(&w, "uploadUrl", url);
	snprintf(url, sizeof url, "%s/jmap/eventsource/?types={types}&closeafter={closeafter}&ping={ping}",
		 base);
	jw_kstr(&w, "eventSourceUrl", url);
	/* Only the shared accounts change while the account exists. */
	jw_kstr(&w, "state", state);
	jw_obj_end(&w);
	return jw_failed(&w) ? -1 : 0;
}
