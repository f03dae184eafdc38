/*
 * spam_analyse.c — spam_analyse, spam_train and spam_forget (spam.h):
 * the content rules and the classifier for one account.
 */
#include "spam/spam_private.h"

int spam_analyse(struct store *st, uint32_t account, const struct spam_msg *m,
                 struct spam_result *res)
{
	(void)st;
	(void)account;
	(void)m;
	(void)res;
	return 0;
}

int spam_train(struct store *st, uint32_t account, const struct spam_msg *m, int is_spam)
{
	(void)st;
	(void)account;
	(void)m;
	(void)is_spam;
	return 0;
}

int spam_forget(struct store *st, uint32_t account, const struct spam_msg *m, int was_spam)
{
	(void)st;
	(void)account;
	(void)m;
	(void)was_spam;
	return 0;
}
