/*
 * jmap_methods.c — the one method table: name, the capability a request
 * must name in "using" to call it, and the function. One file per object
 * type implements its methods (jmap_mailbox.c, jmap_thread.c, ...); adding
 * a method is a line here and a function there.
 */
#include <string.h>

#include "jmap/jmap_private.h"

static const struct jmap_method methods[] = {
    {"Core/echo", JMAP_USING_CORE, jmap_core_echo},
    {"PushSubscription/get", JMAP_USING_CORE, jmap_pushsub_get},
    {"PushSubscription/set", JMAP_USING_CORE, jmap_pushsub_set},
    {"Mailbox/get", JMAP_USING_MAIL, jmap_mailbox_get},
    {"Mailbox/changes", JMAP_USING_MAIL, jmap_mailbox_changes},
    {"Mailbox/query", JMAP_USING_MAIL, jmap_mailbox_query},
    {"Mailbox/queryChanges", JMAP_USING_MAIL, jmap_mailbox_query_changes},
    {"Mailbox/set", JMAP_USING_MAIL, jmap_mailbox_set},
    {"Thread/get", JMAP_USING_MAIL, jmap_thread_get},
    {"Thread/changes", JMAP_USING_MAIL, jmap_thread_changes},
    {"Email/get", JMAP_USING_MAIL, jmap_email_get},
    {"Email/changes", JMAP_USING_MAIL, jmap_email_changes},
    {"Email/query", JMAP_USING_MAIL, jmap_email_query},
    {"Email/queryChanges", JMAP_USING_MAIL, jmap_email_query_changes},
    {"Email/set", JMAP_USING_MAIL, jmap_email_set},
    {"Email/import", JMAP_USING_MAIL, jmap_email_import},
    {"SearchSnippet/get", JMAP_USING_MAIL, jmap_snippet_get},
    {"Identity/get", JMAP_USING_SUBMISSION, jmap_identity_get},
    {"Identity/changes", JMAP_USING_SUBMISSION, jmap_identity_changes},
    {"Identity/set", JMAP_USING_SUBMISSION, jmap_identity_set},
    {"Quota/get", JMAP_USING_QUOTA, jmap_quota_get},
    {"Quota/changes", JMAP_USING_QUOTA, jmap_quota_changes},
    {"Quota/query", JMAP_USING_QUOTA, jmap_quota_query},
    {"Quota/queryChanges", JMAP_USING_QUOTA, jmap_quota_query_changes},
    {"VacationResponse/get", JMAP_USING_VACATION, jmap_vacation_get},
    {"VacationResponse/set", JMAP_USING_VACATION, jmap_vacation_set},
    {"Email/parse", JMAP_USING_MAIL, jmap_email_parse},
    {"Email/copy", JMAP_USING_MAIL, jmap_email_copy},
    {"Blob/copy", JMAP_USING_CORE, jmap_blob_copy},
    {"EmailSubmission/get", JMAP_USING_SUBMISSION, jmap_submission_get},
    {"EmailSubmission/changes", JMAP_USING_SUBMISSION, jmap_submission_changes},
    {"EmailSubmission/query", JMAP_USING_SUBMISSION, jmap_submission_query},
    {"EmailSubmission/queryChanges", JMAP_USING_SUBMISSION, jmap_submission_query_changes},
    {"EmailSubmission/set", JMAP_USING_SUBMISSION, jmap_submission_set},
    {"Blob/upload", JMAP_USING_BLOB, jmap_blob_upload},
    {"Blob/get", JMAP_USING_BLOB, jmap_blob_get},
    {"Blob/lookup", JMAP_USING_BLOB, jmap_blob_lookup},
    {"SieveScript/get", JMAP_USING_SIEVE, jmap_sieve_get},
    {"SieveScript/changes", JMAP_USING_SIEVE, jmap_sieve_changes},
    {"SieveScript/query", JMAP_USING_SIEVE, jmap_sieve_query},
    {"SieveScript/queryChanges", JMAP_USING_SIEVE, jmap_sieve_query_changes},
    {"SieveScript/set", JMAP_USING_SIEVE, jmap_sieve_set},
    {"SieveScript/validate", JMAP_USING_SIEVE, jmap_sieve_validate},
    {"MDN/send", JMAP_USING_MDN, jmap_mdn_send},
    {"MDN/parse", JMAP_USING_MDN, jmap_mdn_parse},
};

const struct jmap_method *jmap_method_find(const char *name)
{
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}
