/*
 * jmap_methods.c — the one method table: name, the capability a request
 * must name in "using" to call it, the function, and JMAP_M_SHARED for
 * the methods that also work in an account another user shares
 * (jmap_share.c). One file per object type implements its methods
 * (jmap_mailbox.c, jmap_thread.c, ...); adding a method is a line here
 * and a function there.
 */
#include <string.h>

#include "jmap/jmap_private.h"

static const struct jmap_method methods[] = {
    {"Core/echo", JMAP_USING_CORE, jmap_core_echo, 0},
    {"PushSubscription/get", JMAP_USING_CORE, jmap_pushsub_get, 0},
    {"PushSubscription/set", JMAP_USING_CORE, jmap_pushsub_set, 0},
    {"Mailbox/get", JMAP_USING_MAIL, jmap_mailbox_get, JMAP_M_SHARED},
    {"Mailbox/changes", JMAP_USING_MAIL, jmap_mailbox_changes, JMAP_M_SHARED},
    {"Mailbox/query", JMAP_USING_MAIL, jmap_mailbox_query, JMAP_M_SHARED},
    {"Mailbox/queryChanges", JMAP_USING_MAIL, jmap_mailbox_query_changes, JMAP_M_SHARED},
    {"Mailbox/set", JMAP_USING_MAIL, jmap_mailbox_set, JMAP_M_SHARED},
    {"Thread/get", JMAP_USING_MAIL, jmap_thread_get, JMAP_M_SHARED},
    {"Thread/changes", JMAP_USING_MAIL, jmap_thread_changes, JMAP_M_SHARED},
    {"Email/get", JMAP_USING_MAIL, jmap_email_get, JMAP_M_SHARED},
    {"Email/changes", JMAP_USING_MAIL, jmap_email_changes, JMAP_M_SHARED},
    {"Email/query", JMAP_USING_MAIL, jmap_email_query, JMAP_M_SHARED},
    {"Email/queryChanges", JMAP_USING_MAIL, jmap_email_query_changes, JMAP_M_SHARED},
    {"Email/set", JMAP_USING_MAIL, jmap_email_set, JMAP_M_SHARED},
    {"Email/import", JMAP_USING_MAIL, jmap_email_import, JMAP_M_SHARED},
    {"SearchSnippet/get", JMAP_USING_MAIL, jmap_snippet_get, JMAP_M_SHARED},
    {"Identity/get", JMAP_USING_SUBMISSION, jmap_identity_get, 0},
    {"Identity/changes", JMAP_USING_SUBMISSION, jmap_identity_changes, 0},
    {"Identity/set", JMAP_USING_SUBMISSION, jmap_identity_set, 0},
    {"Quota/get", JMAP_USING_QUOTA, jmap_quota_get, 0},
    {"Quota/changes", JMAP_USING_QUOTA, jmap_quota_changes, 0},
    {"Quota/query", JMAP_USING_QUOTA, jmap_quota_query, 0},
    {"Quota/queryChanges", JMAP_USING_QUOTA, jmap_quota_query_changes, 0},
    {"VacationResponse/get", JMAP_USING_VACATION, jmap_vacation_get, 0},
    {"VacationResponse/set", JMAP_USING_VACATION, jmap_vacation_set, 0},
    {"Email/parse", JMAP_USING_MAIL, jmap_email_parse, 0},
    {"Email/copy", JMAP_USING_MAIL, jmap_email_copy, JMAP_M_SHARED},
    {"Blob/copy", JMAP_USING_CORE, jmap_blob_copy, JMAP_M_SHARED},
    {"EmailSubmission/get", JMAP_USING_SUBMISSION, jmap_submission_get, 0},
    {"EmailSubmission/changes", JMAP_USING_SUBMISSION, jmap_submission_changes, 0},
    {"EmailSubmission/query", JMAP_USING_SUBMISSION, jmap_submission_query, 0},
    {"EmailSubmission/queryChanges", JMAP_USING_SUBMISSION, jmap_submission_query_changes, 0},
    {"EmailSubmission/set", JMAP_USING_SUBMISSION, jmap_submission_set, 0},
    {"Blob/upload", JMAP_USING_BLOB, jmap_blob_upload, JMAP_M_SHARED},
    {"Blob/get", JMAP_USING_BLOB, jmap_blob_get, JMAP_M_SHARED},
    {"Blob/lookup", JMAP_USING_BLOB, jmap_blob_lookup, JMAP_M_SHARED},
    {"SieveScript/get", JMAP_USING_SIEVE, jmap_sieve_get, 0},
    {"SieveScript/changes", JMAP_USING_SIEVE, jmap_sieve_changes, 0},
    {"SieveScript/query", JMAP_USING_SIEVE, jmap_sieve_query, 0},
    {"SieveScript/queryChanges", JMAP_USING_SIEVE, jmap_sieve_query_changes, 0},
    {"SieveScript/set", JMAP_USING_SIEVE, jmap_sieve_set, 0},
    {"SieveScript/validate", JMAP_USING_SIEVE, jmap_sieve_validate, 0},
    {"MDN/send", JMAP_USING_MDN, jmap_mdn_send, 0},
    {"MDN/parse", JMAP_USING_MDN, jmap_mdn_parse, 0},
    {"Principal/get", JMAP_USING_PRINCIPALS, jmap_principal_get, 0},
    {"Principal/changes", JMAP_USING_PRINCIPALS, jmap_principal_changes, 0},
    {"Principal/query", JMAP_USING_PRINCIPALS, jmap_principal_query, 0},
    {"Principal/queryChanges", JMAP_USING_PRINCIPALS, jmap_principal_query_changes, 0},
    {"Principal/set", JMAP_USING_PRINCIPALS, jmap_principal_set, 0},
    {"ShareNotification/get", JMAP_USING_PRINCIPALS, jmap_sharenote_get, 0},
    {"ShareNotification/changes", JMAP_USING_PRINCIPALS, jmap_sharenote_changes, 0},
    {"ShareNotification/query", JMAP_USING_PRINCIPALS, jmap_sharenote_query, 0},
    {"ShareNotification/queryChanges", JMAP_USING_PRINCIPALS, jmap_sharenote_query_changes, 0},
    {"ShareNotification/set", JMAP_USING_PRINCIPALS, jmap_sharenote_set, 0},
};

const struct jmap_method *jmap_method_find(const char *name)
{
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}
