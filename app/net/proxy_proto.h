/*
 * proxy_proto.h — the PROXY protocol header (HAProxy's spec, versions 1
 * and 2) a load balancer or nginx's stream module sends before a proxied
 * connection's first byte, saying who the client is.
 *
 * Design: a pure parser over the bytes received so far; it never looks
 * past the header, so the caller can read exactly the header off the
 * socket and leave the protocol's first bytes (a TLS ClientHello) where
 * they are. Whether a peer may send a header at all is the caller's
 * decision (TERN_TRUSTED_PROXIES, net/listener.c): from anyone else a
 * header would let a client pick its own address.
 *
 * Caveats: v1 lines are at most 107 bytes (the spec's limit); v2 headers
 * at most PROXY_V2_MAX bytes (addresses plus TLVs), larger ones are
 * refused. TLVs are skipped. Only TCP over IPv4/IPv6 yields an address;
 * "UNKNOWN" (v1), LOCAL (v2, a health check) and other families yield
 * none, and the connection keeps the proxy's own address.
 */
#ifndef TERN_NET_PROXY_PROTO_H
#define TERN_NET_PROXY_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROXY_V1_MAX 107
#define PROXY_V2_MAX 1024

struct proxy_hdr {
	int version;      /* 1 or 2 */
	int has_addr;     /* 1 when src/dst hold the client's and our addresses */
	struct sockaddr_storage src, dst;
	socklen_t src_len, dst_len;
};

/*
 * Parses the header at the start of p (n bytes received so far). Returns
 * the header's length (> 0) with *h filled; -2 when every byte so far
 * may belong to a header not yet complete (read more, all n bytes are the
 * header's); -1 when p does not start with a valid header.
 */
int proxy_parse(const uint8_t *p, size_t n, struct proxy_hdr *h);

#endif
