/*
 * cidr.h — lists of networks ("127.0.0.0/8,::1/128,10.1.2.3") for access
 * rules such as TERN_METRICS_ALLOW. An address without a prefix length is
 * one host. IPv4-mapped IPv6 clients match IPv4 networks.
 */
#ifndef TERN_CORE_CIDR_H
#define TERN_CORE_CIDR_H

/* 1 when every comma-separated entry of list is a valid network ("" is an empty list). */
int cidr_list_valid(const char *list);
/* 1 when the literal address ip is inside one of the networks of list. */
int cidr_list_match(const char *list, const char *ip);

#endif
