/*
 * smtp_rate.c — submission's per-account limit on core/rate.h's windows.
 */
#include "smtp/smtp_rate.h"

#include "core/rate.h"

static struct rate_table table;

void smtp_rate_free(void)
{
	rate_table_free(&table);
}

void smtp_rate_init(unsigned per_hour)
{
	rate_table_init(&table, per_hour);
}

int smtp_rate_allowed(uint32_t account, uint64_t now_ms)
{
	return rate_table_allowed(&table, account, now_ms);
}

void smtp_rate_record(uint32_t account, uint64_t now_ms)
{
	rate_table_record(&table, account, now_ms);
}
