/*
 * autoconfig.c — mail client autoconfiguration: Thunderbird's autoconfig
 * XML (clientConfig v1.1), Outlook's POX autodiscover, and an Apple
 * configuration profile (.mobileconfig) per account.
 *
 * All three describe the same thing: IMAP and POP3 with implicit TLS
 * first, STARTTLS as the alternative, and submission, on the ports this
 * server listens on, with the full address as the user name. Only
 * listeners that are enabled are offered, and only for a domain this
 * server serves (asked_domain: others get 404, an address that is none
 * 400). The Apple profile is unsigned (iOS shows it as "Not Verified";
 * signing needs a code-signing key this server does not have). The
 * profile's EmailAccountName is the account's display name (the address
 * when it has none).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/hostname.h"
#include "http/http_internal.h"
#include "http/http_parse.h"
#include "store/store.h"

static uint16_t port(enum listen_kind k)
{
	return http_cfg->listen[k].port;
}

static void tb_server(struct buf *b, const char *kind, const char *type, uint16_t p,
		      const char *sock)
{
	buf_printf(b, "    <%s type=\"%s\">\n      <hostname>", kind, type);
	buf_append_xml(b, hostname_now());
	buf_printf(b, "</hostname>\n      <port>%u</port>\n      <socketType>%s</socketType>\n"
		      "      <authentication>password-cleartext</authentication>\n"
		      "      <username>%%EMAILADDRESS%%</username>\n    </%s>\n",
		   (unsigned)p, sock, kind);
}

/*
 * The domain a client asks settings for, into domain (lowercase): its
 * address's; with none given (email NULL), the one its Host names
 * (Thunderbird asks autoconfig.DOMAIN), else the primary domain. 0 when
 * this server serves it; else it answers: 400 for an address given that is
 * none (a quoted local part with a space, 300 octets: falling back to our
 * own domain would tell the client to bring that address's password
 * here), 404 for a domain not served (that would send a user's password
 * for another provider here); the accounts are never looked at, so
 * neither answer tells who has one.
 */
static int asked_domain(struct http_ctx *x, const char *email, char *domain, size_t size)
{
	const char *at = email ? strrchr(email, '@') : NULL;

	if (email && !at) {
		http_problem(x, 400, "bad_request", NULL, "not an email address");
		return -1;
	}
	if (at)
		snprintf(domain, size, "%s", at + 1);
	else if (strncmp(x->host, "autoconfig.", 11) == 0 || strncmp(x->host, "autodiscover.", 13) == 0)
		snprintf(domain, size, "%s", strchr(x->host, '.') + 1);
	else
		snprintf(domain, size, "%s", http_cfg->domain);
	for (char *c = domain; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	if (domain[0] && store_domain_served(http_store, domain) == 1)
		return 0;
	http_problem(x, 404, "not_found", NULL, "no mail domain served here");
	return -1;
}

void http_autoconfig(struct http_ctx *x)
{
	const char *q = http_query(x, "emailaddress");
	const char *email = q && q[0] ? http_safe_email(x->arena, q) : NULL;
	char domain[256];
	struct buf *b = &x->out;

	if (asked_domain(x, email, domain, sizeof domain) < 0)
		return;
	buf_reset(b);
	buf_append_c(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n"
			"  <emailProvider id=\"");
	buf_append_xml(b, domain);
	buf_append_c(b, "\">\n    <domain>");
	buf_append_xml(b, domain);
	buf_append_c(b, "</domain>\n    <displayName>");
	buf_append_xml(b, domain);
	buf_append_c(b, " mail</displayName>\n    <displayShortName>");
	buf_append_xml(b, domain);
	buf_append_c(b, "</displayShortName>\n");
	if (port(LISTEN_IMAPS))
		tb_server(b, "incomingServer", "imap", port(LISTEN_IMAPS), "SSL");
	if (port(LISTEN_IMAP))
		tb_server(b, "incomingServer", "imap", port(LISTEN_IMAP), "STARTTLS");
	if (port(LISTEN_POP3S))
		tb_server(b, "incomingServer", "pop3", port(LISTEN_POP3S), "SSL");
	if (port(LISTEN_POP3))
		tb_server(b, "incomingServer", "pop3", port(LISTEN_POP3), "STARTTLS");
	if (port(LISTEN_SUBMISSIONS))
		tb_server(b, "outgoingServer", "smtp", port(LISTEN_SUBMISSIONS), "SSL");
	if (port(LISTEN_SUBMISSION))
		tb_server(b, "outgoingServer", "smtp", port(LISTEN_SUBMISSION), "STARTTLS");
	buf_append_c(b, "  </emailProvider>\n</clientConfig>\n");
	x->status = 200;
	x->type = "application/xml; charset=utf-8";
}

static void pox_protocol(struct buf *b, const char *type, uint16_t p, const char *user, int ssl,
			 const char *encryption)
{
	buf_printf(b, "      <Protocol>\n        <Type>%s</Type>\n        <Server>", type);
	buf_append_xml(b, hostname_now());
	buf_printf(b, "</Server>\n        <Port>%u</Port>\n", (unsigned)p);
	/* No address asked (a GET): no login name rather than an empty one. */
	if (user) {
		buf_append_c(b, "        <LoginName>");
		buf_append_xml(b, user);
		buf_append_c(b, "</LoginName>\n");
	}
	buf_printf(b, "        <DomainRequired>off</DomainRequired>\n"
		      "        <SPA>off</SPA>\n        <SSL>%s</SSL>\n",
		   ssl ? "on" : "off");
	if (encryption)
		buf_printf(b, "        <Encryption>%s</Encryption>\n", encryption);
	buf_append_c(b, "        <AuthRequired>on</AuthRequired>\n      </Protocol>\n");
}

void http_autodiscover(struct http_ctx *x)
{
	const char *email = http_pox_email(x->arena, x->body);
	char domain[256];
	struct buf *b = &x->out;

	if (asked_domain(x, email, domain, sizeof domain) < 0)
		return;
	buf_reset(b);
	if (!http_pox_schema_ok(x->body)) {
		/* An ActiveSync client (mobilesync schema) would misread
		 * Outlook's settings: it is told, as Exchange tells it, that no
		 * provider serves that schema (601), and the user can then
		 * choose IMAP. */
		buf_append_c(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
				"<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n"
				"  <Response>\n    <Error>\n      <ErrorCode>601</ErrorCode>\n"
				"      <Message>Provider is not available</Message>\n      <DebugData />\n"
				"    </Error>\n  </Response>\n</Autodiscover>\n");
		x->status = 200;
		x->type = "application/xml; charset=utf-8";
		return;
	}
	buf_append_c(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
			"<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n"
			"  <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n"
			"    <Account>\n      <AccountType>email</AccountType>\n      <Action>settings</Action>\n");
	if (port(LISTEN_IMAPS))
		pox_protocol(b, "IMAP", port(LISTEN_IMAPS), email, 1, "SSL");
	else if (port(LISTEN_IMAP))
		pox_protocol(b, "IMAP", port(LISTEN_IMAP), email, 1, "TLS");
	if (port(LISTEN_POP3S))
		pox_protocol(b, "POP3", port(LISTEN_POP3S), email, 1, "SSL");
	else if (port(LISTEN_POP3))
		pox_protocol(b, "POP3", port(LISTEN_POP3), email, 1, "TLS");
	if (port(LISTEN_SUBMISSIONS))
		pox_protocol(b, "SMTP", port(LISTEN_SUBMISSIONS), email, 1, "SSL");
	else if (port(LISTEN_SUBMISSION))
		pox_protocol(b, "SMTP", port(LISTEN_SUBMISSION), email, 1, "TLS");
	buf_append_c(b, "    </Account>\n  </Response>\n</Autodiscover>\n");
	x->status = 200;
	x->type = "application/xml; charset=utf-8";
}

/*
 * Outlook's "Autodiscover v2" (not specified by Microsoft; as Exchange and
 * the servers that mimic it answer): Protocol=AutodiscoverV1 asks where
 * the POX document is, and gets a JSON object with its URL; Outlook then
 * POSTs there. Other protocols (ActiveSync, EWS) are not offered: 400.
 */
void http_autodiscover_json(struct http_ctx *x)
{
	const char *q = http_query(x, "Email"), *proto = http_query(x, "Protocol");
	const char *email = q && q[0] ? http_safe_email(x->arena, q) : NULL;
	uint16_t https = port(LISTEN_HTTPS);
	char domain[256], url[320];
	struct jw w;

	if (!proto || strcasecmp(proto, "AutodiscoverV1") != 0) {
		http_problem(x, 400, "bad_request", "Protocol",
			     "only Protocol=AutodiscoverV1 is offered here");
		return;
	}
	if (asked_domain(x, email, domain, sizeof domain) < 0)
		return;
	if (!https) {
		http_problem(x, 404, "not_found", NULL, "no HTTPS listener");
		return;
	}
	if (https == 443)
		snprintf(url, sizeof url, "https://%s/autodiscover/autodiscover.xml", hostname_now());
	else
		snprintf(url, sizeof url, "https://%s:%u/autodiscover/autodiscover.xml", hostname_now(),
			 (unsigned)https);
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kstr(&w, "Protocol", "AutodiscoverV1");
	jw_kstr(&w, "Url", url);
	jw_obj_end(&w);
}

/*
 * A PayloadUUID that is the same at every download of one account's
 * profile: iOS and macOS replace an installed profile whose identifiers
 * match and install a second account beside it when they do not. Named
 * by host, address and payload (BLAKE2b, RFC 9562 version 8: a UUID of
 * our own making); nothing secret goes in, none can be read out.
 */
static void uuid(char out[37], const char *email, const char *payload)
{
	uint8_t r[16];
	crypto_generichash_state h;

	crypto_generichash_init(&h, NULL, 0, sizeof r);
	crypto_generichash_update(&h, (const uint8_t *)hostname_now(), strlen(hostname_now()) + 1);
	crypto_generichash_update(&h, (const uint8_t *)email, strlen(email) + 1);
	crypto_generichash_update(&h, (const uint8_t *)payload, strlen(payload));
	crypto_generichash_final(&h, r, sizeof r);
	r[6] = (uint8_t)((r[6] & 0x0f) | 0x80);
	r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
		 r[13], r[14], r[15]);
}

static void plist_str(struct buf *b, const char *key, const char *v)
{
	buf_printf(b, "      <key>%s</key>\n      <string>", key);
	buf_append_xml(b, v);
	buf_append_c(b, "</string>\n");
}

void api_account_mobileconfig(struct http_ctx *x)
{
	char email[320], u1[37], u2[37];
	uint32_t id;
	struct buf *b = &x->out;

	if (str_lower_into(str_c(x->param[0]), email, sizeof(email)) != 0 ||
	    store_account_id(http_store, email, &id) != STORE_OK) {
		http_problem(x, 404, "not_found", NULL, "no account %.100s", x->param[0]);
		return;
	}
	/* IMAP, else POP3 (Mail takes either); implicit TLS first. */
	int imap = port(LISTEN_IMAPS) || port(LISTEN_IMAP);
	enum listen_kind tls = imap ? LISTEN_IMAPS : LISTEN_POP3S, plain = imap ? LISTEN_IMAP : LISTEN_POP3;
	int ssl = port(tls) != 0, smtps = port(LISTEN_SUBMISSIONS) != 0;
	uint16_t in = ssl ? port(tls) : port(plain);
	uint16_t out = smtps ? port(LISTEN_SUBMISSIONS) : port(LISTEN_SUBMISSION);
	if (!in || !out) {
		/* A profile with port 0 installs an account that never works. */
		http_problem(x, 409, "not_configured", NULL,
			     "no %s listener: a mail profile needs one (TERN_LISTEN_*)",
			     in ? "submission" : "IMAP or POP3");
		return;
	}
	uuid(u1, email, "mail");
	uuid(u2, email, "profile");
	buf_reset(b);
	buf_append_c(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			"<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
			"\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
			"<plist version=\"1.0\">\n<dict>\n  <key>PayloadContent</key>\n  <array>\n"
			"    <dict>\n");
	plist_str(b, "EmailAccountDescription", email);
	/* The name Mail puts before the address; the address when the
	 * account has none. Only here: the Thunderbird and Outlook documents
	 * answer anyone who asks, and would tell a stranger the name. */
	char name[STORE_DISPLAY_NAME_MAX + 1];
	int named = store_account_name(http_store, id, name, sizeof name) == STORE_OK && name[0];
	plist_str(b, "EmailAccountName", named ? name : email);
	plist_str(b, "EmailAccountType", imap ? "EmailTypeIMAP" : "EmailTypePOP");
	plist_str(b, "EmailAddress", email);
	plist_str(b, "IncomingMailServerAuthentication", "EmailAuthPassword");
	plist_str(b, "IncomingMailServerHostName", hostname_now());
	buf_printf(b, "      <key>IncomingMailServerPortNumber</key>\n      <integer>%u</integer>\n"
		      "      <key>IncomingMailServerUseSSL</key>\n      <%s/>\n",
		   (unsigned)in, ssl ? "true" : "false");
	plist_str(b, "IncomingMailServerUsername", email);
	plist_str(b, "OutgoingMailServerAuthentication", "EmailAuthPassword");
	plist_str(b, "OutgoingMailServerHostName", hostname_now());
	buf_printf(b, "      <key>OutgoingMailServerPortNumber</key>\n      <integer>%u</integer>\n"
		      "      <key>OutgoingMailServerUseSSL</key>\n      <%s/>\n"
		      "      <key>OutgoingPasswordSameAsIncomingPassword</key>\n      <true/>\n",
		   (unsigned)out, smtps ? "true" : "false");
	plist_str(b, "OutgoingMailServerUsername", email);
	plist_str(b, "PayloadDescription", "Mail account");
	plist_str(b, "PayloadDisplayName", email);
	buf_append_c(b, "      <key>PayloadIdentifier</key>\n      <string>");
	buf_append_xml(b, hostname_now());
	buf_append_c(b, ".mail.");
	buf_append_xml(b, u1);
	buf_append_c(b, "</string>\n");
	plist_str(b, "PayloadType", "com.apple.mail.managed");
	plist_str(b, "PayloadUUID", u1);
	buf_append_c(b, "      <key>PayloadVersion</key>\n      <integer>1</integer>\n    </dict>\n"
			"  </array>\n");
	buf_append_c(b, "  <key>PayloadDisplayName</key>\n  <string>");
	buf_append_xml(b, email);
	buf_append_c(b, "</string>\n  <key>PayloadIdentifier</key>\n  <string>");
	buf_append_xml(b, hostname_now());
	buf_append_c(b, ".profile.");
	buf_append_xml(b, u2);
	buf_printf(b, "</string>\n  <key>PayloadRemovalDisallowed</key>\n  <false/>\n"
		      "  <key>PayloadType</key>\n  <string>Configuration</string>\n"
		      "  <key>PayloadUUID</key>\n  <string>%s</string>\n"
		      "  <key>PayloadVersion</key>\n  <integer>1</integer>\n</dict>\n</plist>\n",
		   u2);
	x->status = 200;
	x->type = "application/x-apple-aspen-config";
	http_header(x, "Content-Disposition",
		    arena_printf(x->arena, "attachment; filename=\"%s.mobileconfig\"", email));
	http_header(x, "Cache-Control", "no-store");
}
