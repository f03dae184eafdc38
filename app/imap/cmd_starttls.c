/*
 * cmd_starttls.c — STARTTLS (RFC 9051 §6.2.1) on the plaintext port.
 *
 * The reply goes out in plaintext, then the conn switches to TLS and drops
 * whatever the client pipelined behind the command (it was sent before
 * the handshake and cannot be trusted). The client must ask CAPABILITY
 * again: the list changes (AUTH= appears, LOGINDISABLED goes).
 */
#include "imap/imap_session.h"
#include "net/conn.h"

void imap_cmd_starttls(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs) {
		imap_tagged(s, "BAD STARTTLS takes no arguments.");
		imap_session_error(s);
		return;
	}
	if (s->conn->tls) {
		imap_tagged(s, "BAD TLS is already active.");
		imap_session_error(s);
		return;
	}
	if (conn_starttls(s->conn) < 0) {
		imap_tagged(s, "NO [UNAVAILABLE] TLS is not available.");
		return;
	}
	imap_tagged(s, "OK Begin TLS negotiation now.");
	s->starttls_pending = 1;
}
