#!/usr/bin/env python3
"""gen-openapi.py — writes app/http/openapi.c, the OpenAPI 3 document served
at /api/v1/openapi.json. Edit the API here and in app/http/API.md together,
then run: python3 scripts/gen-openapi.py"""
import json, os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def ref(n): return {"$ref": "#/components/schemas/" + n}
def obj(props, required=()):
    o = {"type": "object", "additionalProperties": False, "properties": props}
    if required: o["required"] = list(required)
    return o
S = {"type": "string"}; I = {"type": "integer", "minimum": 0}; B = {"type": "boolean"}
def arr(x): return {"type": "array", "items": x}

DKIM_KEY = {"selector": S, "algorithm": {"enum": ["rsa-sha256", "ed25519-sha256"]}, "created": I,
            "record_name": S, "record_value": S}

# The stable, machine-readable problem codes (API.md "Conventions"): a
# script branches on these, so a new one is added here and there.
PROBLEM_CODES = ["bad_json", "bad_request", "invalid_field", "unknown_field", "missing_field", "too_large",
                 "unauthorized", "csrf", "setup_code", "forbidden", "wrong_password", "wrong_code",
                 "totp_required", "not_found", "method", "exists", "in_use", "locked", "limit", "busy",
                 "active", "invalid_script", "setup_done", "not_configured", "not_started", "not_stored",
                 "not_mbox", "rate_limited", "temporary", "storage_full", "not_implemented"]

schemas = {
    "Problem": {"type": "object", "properties": {"type": S, "title": S, "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": S, "code": {"enum": PROBLEM_CODES}, "field": S},
                "required": ["type", "title", "status", "detail", "code"]},
    "SessionInfo": {"type": "object", "properties": {"csrf": S, "expires": I, "via": {"enum": ["session", "token"]}}},
    "SignedIn": {"type": "object", "properties": {"max": I, "sessions": arr({"type": "object", "properties": {
        "handle": S, "created": I, "last_used": I, "ip": S, "user_agent": S, "current": B}})}},
    "SetupState": {"type": "object", "properties": {
        "completed": B, "admin_exists": B, "code_required": B, "restart_required": B,
        "admin": {"type": "object", "properties": {"done": B, "locked": B, "weak": B}},
        "hostname": {"type": "object", "properties": {"value": S, "locked": B, "fqdn": B, "restart_required": B}},
        "domain": {"type": "object", "properties": {"value": S, "locked": B, "done": B}},
        "account": {"type": "object", "properties": {"done": B, "count": I}},
        "relay": {"type": "object", "properties": {"host": S, "user": S, "password_set": B, "locked": B}},
        "certificate": {"type": "object", "properties": {"acme_email": S, "locked": B}}}},
    "Domain": {"type": "object", "properties": {"name": S, "primary": B, "accounts": I, "aliases": I, "dkim": arr(S)}},
    "DnsRecord": {"type": "object", "properties": {"type": {"enum": ["MX", "TXT", "SRV", "CNAME"]}, "name": S, "value": S, "purpose": S,
                  "check": {"type": "object", "properties": {"status": {"enum": ["found", "missing", "different", "error"]}, "found": arr(S)}}}},
    "Dns": {"type": "object", "properties": {"domain": S, "hostname": S, "records": arr(ref("DnsRecord")), "notes": arr(S)}},
    "DkimKey": {"type": "object", "properties": DKIM_KEY},
    "DkimKeys": {"type": "object", "properties": {"keys": arr(ref("DkimKey"))}},
    "DkimImported": {"type": "object", "properties": dict(DKIM_KEY, warning=S)},
    "DmarcReports": {"type": "object", "properties": {"domain": S, "days": I,
        "reports": arr({"type": "object", "properties": {"org_name": S, "email": S, "report_id": S, "begin": I, "end": I, "received": I,
            "policy_domain": S, "policy": {"type": "object", "properties": {"p": S, "sp": S, "np": S, "adkim": S, "aspf": S, "testing": S, "pct": I}},
            "messages": I, "pass": I, "fail": I, "rows": I, "truncated": B}}),
        "totals": {"type": "object", "properties": {"reports": I, "messages": I, "pass": I, "fail": I}},
        "sources": arr({"type": "object", "properties": {"source_ip": S, "header_from": S, "messages": I, "pass": I, "fail": I,
            "dkim_pass": I, "spf_pass": I, "quarantined": I, "rejected": I}}),
        "other_messages": I,
        "by_day": arr({"type": "object", "properties": {"day": I, "pass": I, "fail": I}})}},
    "TlsrptReports": {"type": "object", "properties": {"domain": S, "days": I,
        "reports": arr({"type": "object", "properties": {"organization": S, "contact": S, "report_id": S, "start": I, "end": I,
            "received": I, "successful": I, "failed": I,
            "dkim": {"enum": ["pass", "fail", "none", "unchecked", "unknown"]}, "dkim_domain": S,
            "policies": arr({"type": "object", "properties": {"type": {"enum": ["sts", "tlsa", "no-policy-found"]}, "domain": S,
                "successful": I, "failed": I,
                "failures": arr({"type": "object", "properties": {"result": S, "mx": S, "ip": S, "sending_ip": S, "sessions": I, "info": S}})}})}}),
        "totals": {"type": "object", "properties": {"reports": I, "successful": I, "failed": I}}}},
    "Account": {"type": "object", "properties": {"email": S, "quota": I, "used": I, "emails": I, "disabled": B, "state": {"enum": ["active", "cannot_sign_in", "inactive"]}, "display_name": S, "aliases": arr(S)}},
    "Alias": {"type": "object", "properties": {"alias": S, "targets": arr(S), "catch_all": B}},
    "Stats": {"type": "object", "properties": {"accounts": I, "domains": I,
        "queue": {"type": "object", "properties": {"size": I, "available": B}},
        "storage": {"type": "object", "properties": {"used": I, "map": I}}, "uptime": I, "version": S,
        "hours": arr({"type": "object", "properties": {"start": I, "received": I, "sent": I, "rejected": I}})}},
    "Logs": {"type": "object", "properties": {"lines": arr({"type": "object", "properties": {
        "seq": I, "time": {"type": "number"}, "level": {"enum": ["debug", "info", "warn", "error"]}, "module": S, "text": S}}), "more": B}},
    "Spam": {"type": "object", "properties": {
        "enabled": B, "junk": {"type": "number"}, "reject": {"type": "number"}, "discard": {"type": "number"},
        "dnsbl": S, "uribl": S, "hashbl": S, "greylist": B, "greylist_delay": I, "greylist_good": arr(S),
        "traps": arr(S), "allow": arr(S), "block": arr(S), "reputation": B,
        "phish_url": S, "phish": ref("SpamFeed"), "hashes_url": S, "hashes": ref("SpamFeed"),
        "classifier": {"type": "object", "properties": {"spam": I, "ham": I, "tokens": I, "bytes": I, "usable": B, "min_learned": I,
                                                        "grams_spam": I, "grams_ham": I, "grams_min": I, "grams_fitted": B}}}},
    "SpamFeed": {"type": "object", "properties": {"entries": I, "loaded_at": I, "source": S}},
    "SpamFeedLoaded": {"type": "object", "properties": {"entries": I, "bad": I, "dropped": I,
                       "phish_url": S, "phish": ref("SpamFeed"), "hashes_url": S, "hashes": ref("SpamFeed")}},
    "SpamLists": {"type": "object", "properties": {"scope": S, "allow": arr(S), "block": arr(S)}},
    "SpamDecisions": {"type": "object", "properties": {"decisions": arr({"type": "object", "properties": {
        "seq": I, "at": I, "ip": S, "mail_from": S, "rcpt": S, "score": {"type": "number"},
        "action": {"enum": ["ham", "spam", "reject", "discard", "greylist"]}, "trainable": B, "rules": arr(S)}})}},
    "Settings": {"type": "object", "properties": {
        "hostname": {"type": "object", "properties": {"value": S, "stored": S, "running": S, "locked": B}},
        "hostname_status": {"type": "object", "properties": {"fqdn": B, "certificate_name": S, "restart_required": B}},
        "domain": {"type": "object", "properties": {"value": S, "locked": B}},
        "relay": {"type": "object", "properties": {"host": S, "user": S, "password_set": B, "locked": B}},
        "dmarc_reports": {"type": "object", "properties": {"from": S, "effective": S, "locked": B, "failure_reports": B}},
        "mta_sts": {"type": "object", "properties": {"mode": S, "locked": B}},
        "limits": {"type": "object", "additionalProperties": I, "properties": {
            "queue_ip_strategy": {"enum": ["ipv4_then_ipv6", "ipv6_then_ipv4", "ipv4_only", "ipv6_only"]}}},
        "listeners": {"type": "object", "additionalProperties": I},
        "tls": {"type": "object", "nullable": True, "properties": {"subject": S, "key": S, "source": S, "chain": I, "not_before": I, "not_after": I, "days_left": {"type": "integer"}, "issuer": S, "names": S, "self_signed": {"type": "boolean"}}},
        "acme": {"type": "object", "properties": {"enabled": {"type": "boolean"}, "state": S, "directory": S, "challenge": S, "last_error": S, "last_success": I, "next_run": I}},
        "auth": {"type": "object", "properties": {"dmarc_tolerated": arr(S), "arc_trusted": arr(S), "postmaster": S}},
        "restart_required": B}},
    "TotpState": {"type": "object", "properties": {"enabled": B}},
    "TotpEnrolment": {"type": "object", "properties": {"uri": S, "secret": S}},
    "TotpRecovery": {"type": "object", "properties": {"recovery_codes": arr(S)}},
    "Me": {"type": "object", "properties": {"email": S, "display_name": S, "quota": I, "used": I, "totp": B, "csrf": S,
           "servers": {"type": "object", "properties": {"hostname": S, "imaps": I, "imap": I, "pop3s": I, "pop3": I,
                                                        "submissions": I, "submission": I, "sieve": I}}}},
    "AppPassword": {"type": "object", "properties": {"name": S, "created_at": I, "last_used": I, "scope": {"enum": ["mail", "jmap"]}}},
    "Forwarding": {"type": "object", "properties": {"addresses": arr(S), "keep": B}},
    "AclGrant": {"type": "object", "properties": {"mailbox": S, "identifier": S, "rights": S}},
    "SharedMailbox": {"type": "object", "properties": {"owner": S, "mailbox": S, "name": S, "rights": S}},
    "Encryption": {"type": "object", "properties": {
        "method": {"enum": ["none", "openpgp", "smime"]}, "cipher": {"enum": ["aes128", "aes256"]},
        "encrypt_on_append": B, "set_at": I, "usable": B, "problem": S, "fingerprint": S, "primary_fingerprint": S,
        "algorithm": S, "user_id": S, "email": S, "expires": {"type": "integer", "nullable": True}}},
    "SieveScript": {"type": "object", "properties": {"name": S, "active": B, "script": S}},
    "Token": {"type": "object", "properties": {"id": S, "name": S, "created": I,
                                               "scope": {"enum": ["admin", "read"]}, "expires": I,
                                               "token": S}},
    "Backups": {"type": "object", "properties": {"configured": B, "locked": B, "dir": S, "time": S, "keep": I, "next": I, "last_good": I, "failures": I,
                "running": {"type": "object", "nullable": True, "properties": {"since": I, "done_bytes": I, "total_bytes": I}},
                "backups": arr({"type": "object", "properties": {"name": S, "started": I, "duration_ms": I, "bytes": I, "emails": I, "reused": I,
                                                                 "result": {"enum": ["ok", "failed"]}, "error": S}})}},
    "Job": {"type": "object", "properties": {"id": I, "kind": {"enum": ["migrate", "import"]}, "account": S, "source": S,
            "state": {"enum": ["running", "done", "failed"]}, "started": I, "ended": I, "done": I, "total": I,
            "bytes": I, "total_bytes": I, "rate_bytes_per_s": I, "left_s": I, "result": S, "error": S}},
    "QueueMessage": {"type": "object", "properties": {"id": I, "from": S, "to": arr(S), "size": I, "attempts": I, "next_attempt": I, "held": B, "last_error": S, "created": I,
                     "priority": {"type": "integer", "minimum": -9, "maximum": 9},
                     "recipients": arr({"type": "object", "properties": {"address": S, "state": {"enum": ["pending", "sent", "failed"]}, "status": S, "remote": S}})}},
}

def resp(code, desc, schema=None, ctype="application/json"):
    r = {"description": desc}
    if schema is not None: r["content"] = {ctype: {"schema": schema}}
    return {str(code): r}

def problem(*codes):
    out = {}
    for c in codes: out.update(resp(c, "error", ref("Problem"), "application/problem+json"))
    return out

def op(summary, responses, body=None, auth=True, params=(), setup=False, portal=False,
       body_type="application/json", body_required=True):
    o = {"summary": summary, "responses": {}}
    for r in responses: o["responses"].update(r)
    if body is not None:
        o["requestBody"] = {"required": body_required, "content": {body_type: {"schema": body}}}
    if setup:
        o["security"] = [{"setupCode": []}, {"session": [], "csrf": []}, {"bearer": []}]
    elif portal:
        o["security"] = [{"account": [], "csrf": []}]
    elif not auth:
        o["security"] = []
    if params: o["parameters"] = list(params)
    return o

def pp(name): return {"name": name, "in": "path", "required": True, "schema": S}
def qp(name, schema=S): return {"name": name, "in": "query", "required": False, "schema": schema}


# Pages of a listing (API.md "Pages"): limit (default and most 1000) and
# after (the next of the page before); total and next (null: the last).
PAGE_PARAMS = [qp("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1000}),
               qp("after", {"type": "string", "minLength": 1, "maxLength": 320})]


def page(key, item):
    return obj({key: arr(item), "total": I, "next": {"type": "string", "nullable": True}},
               [key, "total", "next"])

ERR = problem(400, 401, 403)
DAYS = {"type": "integer", "minimum": 1, "maximum": 366, "default": 30}
paths = {
    "/setup": {"get": op("Wizard state", [resp(200, "state", ref("SetupState"))], auth=False)},
    "/setup/code": {"post": op("Check the setup code", [resp(204, "right code"), problem(400, 403, 409, 429)], obj({"code": S}, ["code"]), auth=False)},
    "/setup/admin": {"post": op("Create the admin (logs in)", [resp(201, "session", ref("SessionInfo")), problem(400, 403, 409)], obj({"password": S}, ["password"]), setup=True)},
    "/setup/hostname": {"put": op("Store the host name", [resp(200, "state", ref("SetupState")), problem(400, 403, 409)], obj({"hostname": S}, ["hostname"]), setup=True)},
    "/setup/domain": {"put": op("Create and store the primary domain", [resp(200, "state", ref("SetupState")), problem(400, 403, 409)], obj({"domain": S}, ["domain"]), setup=True)},
    "/setup/account": {"post": op("Create the first account (once an admin exists, with a session, the admin password in current)", [resp(201, "account", ref("Account")), problem(400, 403, 404, 409, 429)], obj({"email": S, "password": S, "quota": I, "display_name": S, "current": S}, ["email", "password"]), setup=True)},
    "/setup/certificate": {"put": op("Get a certificate from Let's Encrypt (ACME e-mail; empty turns it off)", [resp(200, "state", ref("SetupState")), problem(400, 403, 409)], obj({"acme_email": S}, ["acme_email"]), setup=True)},
    "/setup/relay": {"put": op("Store the relay host (a new one, once an admin exists, with a session, takes the admin password in current)", [resp(200, "state", ref("SetupState")), problem(400, 403, 409, 429)], obj({"host": S, "user": S, "password": S, "current": S}, ["host"]), setup=True)},
    "/setup/dns": {"get": op("DNS records of the primary domain, checked", [resp(200, "records", ref("Dns")), problem(403, 404)], setup=True)},
    "/setup/complete": {"post": op("Finish the wizard", [resp(200, "state", ref("SetupState")), ERR], obj({}))},
    "/password/strength": {"post": op("The password rule's verdict on a password (the live strength meter; nothing kept)", [resp(200, "verdict", {"type": "object", "properties": {"acceptable": B, "score": I, "min_score": I, "log10_guesses": {"type": "number"}, "weakness": S, "message": S}}), problem(400)], obj({"password": S}, ["password"]), auth=False)},
    "/session": {"post": op("Log in (code: the TOTP or recovery code once the admin has 2FA; 401 totp_required without it)", [resp(200, "session (cookie set)", ref("SessionInfo")), problem(400, 401, 429, 503)], obj({"password": S, "code": S}, ["password"]), auth=False),
                 "get": op("Current session", [resp(200, "session", ref("SessionInfo")), ERR]),
                 "delete": op("Log out", [resp(204, "logged out"), ERR])},
    "/sessions": {"get": op("The admin's signed-in sessions (by handle, never the id; current marks this one)", [resp(200, "sessions", ref("SignedIn")), ERR]),
                  "delete": op("End every admin session but this one (with a token: all of them)", [resp(204, "ended"), problem(503), ERR])},
    "/sessions/{handle}": {"delete": op("End one admin session (this one: signed out, cookie cleared)", [resp(204, "ended"), problem(404, 503), ERR], params=[pp("handle")])},
    "/stats": {"get": op("Dashboard figures", [resp(200, "stats", ref("Stats")), ERR])},
    "/domains": {"get": op("List domains: a page in name order (API.md \"Pages\")", [resp(200, "domains", page("domains", ref("Domain"))), problem(400), ERR], params=PAGE_PARAMS),
                 "post": op("Add a domain (with DKIM keys)", [resp(201, "domain", ref("Domain")), problem(400, 401, 403, 409)], obj({"name": S}, ["name"]))},
    "/domains/{name}": {"get": op("One domain", [resp(200, "domain", ref("Domain")), problem(404)], params=[pp("name")]),
                        "delete": op("Remove a domain", [resp(204, "removed"), problem(404, 409)], params=[pp("name")])},
    "/domains/{name}/dns": {"get": op("Records to publish", [resp(200, "records", ref("Dns")), problem(404)], params=[pp("name")])},
    "/domains/{name}/dns/check": {"get": op("Records to publish, checked live", [resp(200, "records", ref("Dns")), problem(404)], params=[pp("name")])},
    "/domains/{name}/dkim": {"get": op("DKIM keys", [resp(200, "keys", ref("DkimKeys")), problem(404)], params=[pp("name")])},
    "/domains/{name}/dkim/import": {"post": op("Import a DKIM private key made elsewhere (replaces the key of its algorithm)", [resp(200, "the imported key", ref("DkimImported")), problem(400, 404)], obj({"selector": S, "key": S}, ["selector", "key"]), params=[pp("name")])},
    "/domains/{name}/dmarc-reports": {"get": op("DMARC aggregate reports received (RFC 9990)", [resp(200, "reports, sources and messages per day", ref("DmarcReports")), problem(400, 404)], params=[pp("name"), qp("days", DAYS)])},
    "/domains/{name}/tlsrpt-reports": {"get": op("TLS-RPT reports received (RFC 8460)", [resp(200, "reports with their policies and failures, and totals", ref("TlsrptReports")), problem(400, 404)], params=[pp("name"), qp("days", DAYS)])},
    "/accounts": {"get": op("List accounts: a page in the order they were added (API.md \"Pages\"); q: only those whose address or display name holds it, any case", [resp(200, "accounts", page("accounts", ref("Account"))), problem(400), ERR], params=PAGE_PARAMS + [qp("q", {"type": "string", "maxLength": 320})]),
                  "post": op("Add an account (with a session, the admin password in current)", [resp(201, "account", ref("Account")), problem(400, 404, 409, 429)], obj({"email": S, "password": S, "quota": I, "display_name": S, "current": S}, ["email", "password"]))},
    "/accounts/{email}": {"get": op("One account", [resp(200, "account", ref("Account")), problem(404)], params=[pp("email")]),
                          "patch": op("Change quota, state or display name", [resp(200, "account", ref("Account")), problem(400, 404)], obj({"quota": I, "disabled": B, "state": {"enum": ["active", "cannot_sign_in", "inactive"]}, "display_name": S}), params=[pp("email")]),
                          "delete": op("Delete the account and its mail (with a session, the admin password in password; a token sends no body)", [resp(204, "deleted"), problem(400, 404, 429)], obj({"password": S}), params=[pp("email")], body_required=False)},
    "/accounts/{email}/password": {"post": op("Reset the password (with a session, the admin password in current)", [resp(204, "changed"), problem(400, 404, 429)], obj({"password": S, "current": S}, ["password"]), params=[pp("email")])},
    "/accounts/{email}/mobileconfig": {"get": op("Apple configuration profile (unsigned; 409 when no IMAP/POP3 or no submission listener is on)", [resp(200, "profile", S, "application/x-apple-aspen-config"), problem(404, 409)], params=[pp("email")])},
    "/admin/totp": {"get": op("Whether the admin sign-in asks for a TOTP code", [resp(200, "state", ref("TotpState")), ERR]),
                    "post": op("Start TOTP enrolment: the otpauth URI (draw it as a QR code) and its secret", [resp(200, "enrolment", ref("TotpEnrolment")), problem(409)])},
    "/admin/totp/confirm": {"post": op("Turn TOTP on with a first code and the admin password: the recovery codes are in this answer only", [resp(200, "on", ref("TotpRecovery")), problem(400, 409, 429)], obj({"code": S, "password": S}, ["code", "password"]))},
    "/admin/totp/disable": {"post": op("Turn TOTP off (a code or a recovery code, and the admin password)", [resp(204, "off"), problem(400, 429)], obj({"code": S, "password": S}, ["code", "password"]))},
    "/accounts/{email}/totp": {"delete": op("Remove an account's two-factor sign-in (a lost phone)", [resp(204, "removed"), problem(404)], params=[pp("email")])},
    "/me/session": {"post": op("Portal: an account signs in (cookie __Host-tern_account); code when its 2FA is on", [resp(200, "session", ref("SessionInfo")), problem(400, 401, 429, 503)], obj({"email": S, "password": S, "code": S}, ["email", "password"]), auth=False),
                    "delete": op("Portal: sign out", [resp(204, "signed out"), problem(401)], portal=True)},
    "/me/sessions": {"get": op("Portal: where the account is signed in (by handle, never the id; current marks this one)", [resp(200, "sessions", ref("SignedIn")), problem(401)], portal=True),
                     "delete": op("Portal: sign out everywhere else", [resp(204, "ended"), problem(401, 503)], portal=True)},
    "/me/sessions/{handle}": {"delete": op("Portal: end one of the account's sessions (this one: signed out, cookie cleared)", [resp(204, "ended"), problem(401, 404, 503)], params=[pp("handle")], portal=True)},
    "/me": {"get": op("Portal: the signed-in account", [resp(200, "account", ref("Me")), problem(401)], portal=True),
            "patch": op("Portal: change the display name", [resp(200, "account", ref("Me")), problem(400, 401, 403)], obj({"display_name": S}), portal=True)},
    "/me/password": {"put": op("Portal: change the password (the current one is checked like a sign-in)", [resp(204, "changed"), problem(400, 401, 403, 429)], obj({"current": S, "password": S}, ["current", "password"]), portal=True)},
    "/me/app-passwords": {"get": op("Portal: app passwords", [resp(200, "app passwords", {"type": "object", "properties": {"app_passwords": arr(ref("AppPassword"))}}), problem(401)], portal=True),
                          "post": op("Portal: create an app password (shown once) with the account password", [resp(201, "created", {"type": "object", "properties": {"name": S, "password": S}}), problem(400, 401, 409, 429)], obj({"name": S, "password": S}, ["name", "password"]), portal=True)},
    "/me/app-passwords/{name}": {"delete": op("Portal: revoke an app password (its sessions end)", [resp(204, "revoked"), problem(401, 404)], params=[pp("name")], portal=True)},
    "/accounts/{email}/jmap-tokens": {"get": op("An account's JMAP bearer tokens (never the tokens)", [resp(200, "tokens", {"type": "object", "properties": {"tokens": arr(ref("AppPassword"))}}), problem(404)], params=[pp("email")]),
                                     "post": op("Make a JMAP bearer token for the account: the token is in this answer only; with a session, the admin password too", [resp(201, "the token", {"type": "object", "properties": {"name": S, "token": S}}), problem(400, 404, 409, 429)], obj({"name": S, "password": S}, ["name"]), params=[pp("email")])},
    "/accounts/{email}/jmap-tokens/{name}": {"delete": op("Revoke one of the account's JMAP bearer tokens", [resp(204, "revoked"), problem(404)], params=[pp("email"), pp("name")])},
    "/me/jmap-tokens": {"get": op("Portal: JMAP bearer tokens (never the tokens)", [resp(200, "tokens", {"type": "object", "properties": {"tokens": arr(ref("AppPassword"))}}), problem(401)], portal=True),
                        "post": op("Portal: make a JMAP bearer token (shown once) with the account password", [resp(201, "created", {"type": "object", "properties": {"name": S, "token": S}}), problem(400, 401, 409, 429)], obj({"name": S, "password": S}, ["name", "password"]), portal=True)},
    "/me/jmap-tokens/{name}": {"delete": op("Portal: revoke a JMAP bearer token", [resp(204, "revoked"), problem(401, 404)], params=[pp("name")], portal=True)},
    "/me/totp": {"get": op("Portal: 2FA state", [resp(200, "state", ref("TotpState")), problem(401)], portal=True),
                 "post": op("Portal: start TOTP enrolment", [resp(200, "enrolment", ref("TotpEnrolment")), problem(401, 409)], portal=True)},
    "/me/totp/confirm": {"post": op("Portal: turn TOTP on with a first code and the account password (recovery codes shown once)", [resp(200, "on", ref("TotpRecovery")), problem(400, 401, 409, 429)], obj({"code": S, "password": S}, ["code", "password"]), portal=True)},
    "/me/totp/disable": {"post": op("Portal: turn TOTP off with a code and the account password", [resp(204, "off"), problem(400, 401, 429)], obj({"code": S, "password": S}, ["code", "password"]), portal=True)},
    "/me/mobileconfig": {"get": op("Portal: the Apple configuration profile (409 when no IMAP/POP3 or no submission listener is on)", [resp(200, "profile", S, "application/x-apple-aspen-config"), problem(401, 409)], portal=True)},
    "/me/forwarding": {"get": op("Portal: forwarding to outside addresses", [resp(200, "forwarding", ref("Forwarding")), problem(401)], portal=True),
                       "put": op("Portal: set forwarding with the account password (an empty list turns it off and needs none)", [resp(200, "forwarding", ref("Forwarding")), problem(400, 401, 403, 429)], obj({"addresses": arr(S), "keep": B, "password": S}, ["addresses"]), portal=True)},
    "/me/encryption": {"get": op("Portal: encryption at rest (the key's fingerprint or certificate, never its text)", [resp(200, "state", ref("Encryption")), problem(401)], portal=True),
                       "put": op("Portal: store mail encrypted to an OpenPGP key or S/MIME certificate with the account password (400 with the reason when the key cannot encrypt; method none needs no password)", [resp(200, "state", ref("Encryption")), problem(400, 401, 403, 429)], obj({"method": {"enum": ["none", "openpgp", "smime"]}, "cipher": {"enum": ["aes128", "aes256"]}, "key": S, "encrypt_on_append": B, "password": S}, ["method"]), portal=True),
                       "delete": op("Portal: store mail as it comes again", [resp(204, "off"), problem(401)], portal=True)},
    "/me/spam-lists": {"get": op("Portal: the account's own allow and block lists (the admin's /spam/lists/{email})", [resp(200, "lists", ref("SpamLists")), problem(401)], portal=True),
                       "put": op("Portal: replace the account's allow and/or block list (the admin's checks)", [resp(200, "lists", ref("SpamLists")), problem(400, 401, 403)], obj({"allow": arr(S), "block": arr(S)}), portal=True)},
    "/me/sieve": {"get": op("Portal: Sieve scripts", [resp(200, "scripts", {"type": "object"}), problem(401)], portal=True)},
    "/me/sieve/{name}": {"get": op("Portal: one Sieve script", [resp(200, "script", ref("SieveScript")), problem(401, 404)], params=[pp("name")], portal=True),
                         "put": op("Portal: store, activate or deactivate a Sieve script (400 invalid_script with the compiler's error; a script that redirects or notifies needs the account password)", [resp(200, "script", ref("SieveScript")), resp(201, "created", ref("SieveScript")), problem(400, 401, 409, 429)], obj({"script": S, "active": B, "password": S}), params=[pp("name")], portal=True),
                         "delete": op("Portal: delete a Sieve script", [resp(204, "deleted"), problem(401, 404, 409)], params=[pp("name")], portal=True)},
    "/admin/password": {"put": op("Change the admin password (the current one is checked like a sign-in; other admin sessions end; 409 locked while TERN_ADMIN_PASSWORD is set)", [resp(204, "changed"), problem(400, 409, 429)], obj({"current": S, "password": S}, ["current", "password"]))},
    "/accounts/{email}/app-passwords": {
        "get": op("The account's app passwords (never their secrets)", [resp(200, "app passwords", {"type": "object", "properties": {"app_passwords": arr(ref("AppPassword"))}}), problem(404)], params=[pp("email")]),
        "post": op("Create an app password: the secret is in this answer only; with a session, the admin password too", [resp(201, "created", {"type": "object", "properties": {"name": S, "password": S}}), problem(400, 404, 409, 429)],
                   obj({"name": S, "password": S}, ["name"]), params=[pp("email")])},
    "/accounts/{email}/app-passwords/{name}": {
        "delete": op("Revoke an app password", [resp(204, "revoked"), problem(404)], params=[pp("email"), pp("name")])},
    "/accounts/{email}/acl": {
        "get": op("The grants (RFC 4314) on the account's mailboxes, or on the one named by mailbox", [resp(200, "grants", {"type": "object", "properties": {"grants": arr(ref("AclGrant"))}}), problem(404)], params=[pp("email"), qp("mailbox")]),
        "put": op("Give an account (or anyone) rights on one of the account's mailboxes: letters replace the grant, +letters add, -letters take away, as SETACL; with a session, a change that gives a right takes the admin password too", [resp(200, "the grant now", ref("AclGrant")), problem(400, 404, 429)],
                  obj({"mailbox": S, "identifier": S, "rights": S, "password": S}, ["mailbox", "identifier", "rights"]), params=[pp("email")]),
        "delete": op("Remove a grant", [resp(204, "removed"), problem(400, 404)], params=[pp("email"), dict(qp("mailbox"), required=True), dict(qp("identifier"), required=True)])},
    "/accounts/{email}/shared": {
        "get": op("The other accounts' mailboxes shared with the account, with its rights", [resp(200, "mailboxes", {"type": "object", "properties": {"mailboxes": arr(ref("SharedMailbox"))}}), problem(404)], params=[pp("email")])},
    "/accounts/{email}/forwarding": {
        "get": op("The account's forwarding to outside addresses", [resp(200, "forwarding", ref("Forwarding")), problem(404)], params=[pp("email")]),
        "put": op("Set the account's forwarding: up to 4 addresses outside our domains, keep a copy or not (an empty list turns it off); with a session and addresses, the admin password too", [resp(200, "forwarding", ref("Forwarding")), problem(400, 404, 429)],
                  obj({"addresses": arr(S), "keep": B, "password": S}, ["addresses"]), params=[pp("email")])},
    "/accounts/{email}/encryption": {
        "get": op("The account's encryption at rest", [resp(200, "state", ref("Encryption")), problem(404)], params=[pp("email")]),
        "put": op("Store the account's mail encrypted to an OpenPGP key or S/MIME certificate (with a session, a key takes the admin password)", [resp(200, "state", ref("Encryption")), problem(400, 404, 429)], obj({"method": {"enum": ["none", "openpgp", "smime"]}, "cipher": {"enum": ["aes128", "aes256"]}, "key": S, "encrypt_on_append": B, "password": S}, ["method"]), params=[pp("email")]),
        "delete": op("Store the account's mail as it comes again", [resp(204, "off"), problem(404)], params=[pp("email")])},
    "/accounts/{email}/sieve": {"get": op("The account's Sieve scripts", [resp(200, "scripts", {"type": "object", "properties": {"scripts": arr({"type": "object", "properties": {"name": S, "active": B, "size": I}})}}), problem(404)], params=[pp("email")])},
    "/accounts/{email}/sieve/{name}": {
        "get": op("One Sieve script", [resp(200, "script", ref("SieveScript")), problem(404)], params=[pp("email"), pp("name")]),
        "put": op("Store, activate or deactivate a Sieve script (with a session, one that redirects or notifies needs the admin password)", [resp(200, "script", ref("SieveScript")), resp(201, "script created", ref("SieveScript")), problem(400, 404, 409, 429)],
                  obj({"script": S, "active": B, "password": S}), params=[pp("email"), pp("name")]),
        "delete": op("Delete a Sieve script (not the active one)", [resp(204, "deleted"), problem(404, 409)], params=[pp("email"), pp("name")])},
    "/sieve/global": {"get": op("The administrator's global Sieve scripts (the active one runs before every account's)", [resp(200, "scripts", {"type": "object", "properties": {"scripts": arr({"type": "object", "properties": {"name": S, "active": B, "size": I}})}})])},
    "/sieve/global/{name}": {
        "get": op("One global Sieve script", [resp(200, "script", ref("SieveScript")), problem(404)], params=[pp("name")]),
        "put": op("Store, activate or deactivate a global Sieve script (with a session, one that redirects or notifies needs the admin password)", [resp(200, "script", ref("SieveScript")), resp(201, "script created", ref("SieveScript")), problem(400, 409, 429)],
                  obj({"script": S, "active": B, "password": S}), params=[pp("name")]),
        "delete": op("Delete a global Sieve script (not the active one)", [resp(204, "deleted"), problem(404, 409)], params=[pp("name")])},
    "/aliases": {"get": op("List aliases: a page in alias order (API.md \"Pages\")", [resp(200, "aliases", page("aliases", ref("Alias"))), problem(400), ERR], params=PAGE_PARAMS),
                 "post": op("Add an alias target (\"@domain\" is a catch-all; a target outside our domains is forwarded with SRS, and with a session needs the admin password; one of our domains must reach an account, alias or catch-all, else 400 naming target)", [resp(201, "alias", ref("Alias")), problem(400, 404, 409, 429)], obj({"alias": S, "target": S, "password": S}, ["alias", "target"]))},
    "/aliases/{alias}": {"delete": op("Remove an alias (or one target)", [resp(204, "removed"), problem(404)], params=[pp("alias"), qp("target")])},
    "/queue": {"get": op("Outbound queue (a page with limit, after or domain)",
                         [resp(200, "messages; total, held and next only when paged",
                               obj({"messages": arr(ref("QueueMessage")), "total": I, "held": I, "next": {"type": "string", "nullable": True}})),
                          ERR, problem(503)],
                         params=[qp("limit", {"type": "integer", "minimum": 1, "maximum": 1000}), qp("after", {"type": "string", "pattern": "^[0-9]+$"}),
                                 qp("domain")])},
    "/queue/{id}/retry": {"post": op("Retry now", [resp(204, "scheduled"), problem(404)], params=[pp("id")])},
    "/queue/{id}": {"delete": op("Delete from the queue (no notice)", [resp(204, "deleted"), problem(404)], params=[pp("id")])},
    "/accounts/{email}/migrate": {"post": op("Copy an account's mail (and with sieve its Sieve scripts) from another IMAP server, as tern migrate does, in the background; with a session and sieve, the admin password in current",
                                             [resp(202, "started", ref("Job")), problem(400, 404, 409, 429)],
                                             obj({"from": S, "password": S, "sieve": B, "current": S}, ["from", "password"]), params=[pp("email")])},
    "/accounts/{email}/import": {"post": op("Import an mbox file (the request body, streamed to disk; credentials are checked before it is read) into a folder of the account, as tern import does, in the background",
                                            [resp(202, "started", ref("Job")), problem(400, 404, 409, 413, 415, 503, 507)],
                                            {"type": "string", "format": "binary"}, body_type="application/mbox",
                                            params=[pp("email"), qp("mailbox"), qp("name")])},
    "/jobs": {"get": op("Background jobs (migrations, imports) with their progress, newest first", [resp(200, "jobs", obj({"jobs": arr(ref("Job"))})), ERR])},
    "/jobs/{id}": {"get": op("One background job", [resp(200, "job", ref("Job")), problem(404)], params=[pp("id")])},
    "/backups": {"get": op("Scheduled backups: the schedule, the one running, the last ones and failures", [resp(200, "backups", ref("Backups")), ERR]),
                 "post": op("Start a backup now", [resp(202, "started", obj({"started": B})), problem(409)])},
    "/backups/schedule": {"put": op("Set the backup schedule (dir \"\" turns it off), applied at once and stored; with a session, a new directory or fewer kept (older ones deleted) takes the admin password",
                                    [resp(200, "backups", ref("Backups")), problem(400, 409, 429)],
                                    obj({"dir": S, "time": S, "keep": I, "password": S}, ["dir"]))},
    "/logs": {"get": op("Recent log lines", [resp(200, "lines", ref("Logs")), ERR],
                        params=[qp("q"), qp("level", {"enum": ["debug", "info", "warn", "error"]}), qp("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                                qp("order", {"enum": ["oldest", "newest"]}), qp("before", {"type": "integer", "minimum": 1})])},
    "/settings": {"get": op("Settings", [resp(200, "settings", ref("Settings")), ERR]),
                  "put": op("Change stored settings (the host name at once, the relay at the next start; with a session, a new relay host needs the admin password)", [resp(200, "settings", ref("Settings")), problem(400, 409, 429)],
                            obj({"hostname": S, "relay_host": S, "relay_user": S, "relay_password": S, "dmarc_report_from": S, "dmarc_failure_reports": B, "mta_sts_mode": S,
                                 "dmarc_tolerated": arr(S), "arc_trusted": arr(S), "postmaster": S, "password": S}))},
    "/spam": {"get": op("Spam filter settings", [resp(200, "settings", ref("Spam")), ERR]),
              "put": op("Change spam filter settings (apply to the next message)", [resp(200, "settings", ref("Spam")), problem(400)],
                        obj({"enabled": B, "junk": {"type": "number"}, "reject": {"type": "number"}, "discard": {"type": "number"},
                             "dnsbl": S, "uribl": S, "hashbl": S, "greylist": B, "greylist_delay": I, "greylist_good": arr(S),
                             "traps": arr(S), "allow": arr(S), "block": arr(S), "reputation": B,
                             "phish_url": S, "hashes_url": S}))},
    "/spam/phish": {"put": op("Replace the phishing URL list with a feed file (the request body, streamed: a URL a line, or PhishTank's CSV)",
                              [resp(200, "loaded", ref("SpamFeedLoaded")), problem(400, 413, 503)],
                              {"type": "string", "format": "binary"}, body_type="text/plain", params=[qp("name")])},
    "/spam/hashes": {"put": op("Replace the malware attachment list with a file of SHA-256 digests (the request body, streamed: hex, one a line)",
                               [resp(200, "loaded", ref("SpamFeedLoaded")), problem(400, 413, 503)],
                               {"type": "string", "format": "binary"}, body_type="text/plain", params=[qp("name")])},
    "/spam/recent": {"get": op("The filter's last decisions with their rules", [resp(200, "decisions", ref("SpamDecisions")), ERR])},
    "/spam/recent/{seq}/train": {"post": op("Train the first recipient's model with a decision's stored message (the Spam page's spam / not spam buttons)",
                                            [resp(200, "learned", obj({"learned": {"enum": ["spam", "ham"]}, "what": S})), problem(400, 404, 409, 503)],
                                            obj({"spam": B}, ["spam"]), params=[pp("seq")])},
    "/spam/lists/{scope}": {"get": op("Allow and block lists of global, a served domain or an account", [resp(200, "lists", ref("SpamLists")), problem(404)], params=[pp("scope")]),
                            "put": op("Replace allow and/or block list", [resp(200, "lists", ref("SpamLists")), problem(400, 404)],
                                      obj({"allow": arr(S), "block": arr(S)}), params=[pp("scope")])},
    "/tokens": {"get": op("List API tokens: a page in id order (API.md \"Pages\")", [resp(200, "tokens", page("tokens", ref("Token"))), problem(400), ERR], params=PAGE_PARAMS),
                "post": op("Create a token (secret shown once); with a session, the admin password too", [resp(201, "token", ref("Token")), problem(400, 429)], obj({"name": S, "scope": {"enum": ["admin", "read"]}, "expires": I, "password": S}, ["name"]))},
    "/tokens/{id}": {"delete": op("Revoke a token", [resp(204, "revoked"), problem(404)], params=[pp("id")])},
    "/openapi.json": {"get": op("This document", [resp(200, "OpenAPI 3", {"type": "object"})], auth=False)},
}

# Every DELETE but signing out destroys or revokes something: with a
# session it takes the session owner's current password (the admin's, or
# on /me the account's) in "password", checked by the router (R_REAUTH);
# a bearer token sends no body.
for path, item in paths.items():
    o = item.get("delete")
    if o is None or path.endswith("/session"):
        continue
    o["requestBody"] = {"required": False, "content": {"application/json": {"schema": obj({"password": S})}}}
    o["responses"].update(problem(400, 429))
    o["responses"] = dict(sorted(o["responses"].items()))
    if "password" not in o["summary"]:
        o["summary"] += (" (with the account's password in password)" if path.startswith("/me/")
                         else " (with a session, the admin password in password; a token sends no body)")

# Every write that stores something answers 507 storage_full when the
# disk is full (http_store_problem, RFC 4918 §11.5); these write nothing
# to the store (a check, a sign-in or out: sessions live in memory; a
# job started; a lesson) or say 503 for their own reasons.
NO_STORE_WRITE = {("/setup/code", "post"), ("/password/strength", "post"), ("/session", "post"),
                  ("/session", "delete"), ("/me/session", "post"), ("/me/session", "delete"),
                  ("/sessions", "delete"), ("/sessions/{handle}", "delete"),
                  ("/me/sessions", "delete"), ("/me/sessions/{handle}", "delete"),
                  ("/backups", "post"), ("/accounts/{email}/migrate", "post"),
                  ("/spam/recent/{seq}/train", "post")}
for path, item in paths.items():
    for method, o in item.items():
        if method == "get" or (path, method) in NO_STORE_WRITE:
            continue
        o["responses"].update(problem(507))
        o["responses"] = dict(sorted(o["responses"].items()))

# What any operation may answer besides its own statuses, documented on
# each so that a client (or a validator) meets no status its operation
# does not list: with credentials to give, 401 without them (or wrong),
# 403 for a session's missing CSRF token or the wrong kind of session,
# 429 once an address sent too many wrong ones; with a JSON body, 400
# for one that does not parse or fit, 413 past 64 KiB, 415 for another
# Content-Type (API.md "Conventions"); and with a store write, 503 when
# the store failed for a moment (http_store_problem).
for path, item in paths.items():
    for method, o in item.items():
        extra = []
        if o.get("security", ["auth"]) != []:
            extra += [401, 403, 429]
        if "application/json" in o.get("requestBody", {}).get("content", {}):
            extra += [400, 413, 415]
        if "507" in o["responses"]:
            extra.append(503)
        o["responses"].update(problem(*[c for c in extra if str(c) not in o["responses"]]))
        o["responses"] = dict(sorted(o["responses"].items()))

doc = {
    "openapi": "3.0.3",
    "info": {"title": "tern admin API", "version": "1",
             "description": "Errors are RFC 9457 problem+json. Sessions need X-CSRF-Token on writes. See app/http/API.md."},
    "servers": [{"url": "/api/v1"}],
    "security": [{"session": [], "csrf": []}, {"bearer": []}],
    "components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"},
        "session": {"type": "apiKey", "in": "cookie", "name": "__Host-tern_session"},
        "account": {"type": "apiKey", "in": "cookie", "name": "__Host-tern_account"},
        "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
        "setupCode": {"type": "apiKey", "in": "header", "name": "X-Setup-Code"}},
        "schemas": schemas},
    "paths": paths,
}

text = json.dumps(doc, separators=(",", ":"), sort_keys=False)
lines = [text[i:i + 100] for i in range(0, len(text), 100)]
out = ['/*', ' * openapi.c — the OpenAPI 3 document of the REST API, served at',
       ' * /api/v1/openapi.json. GENERATED by scripts/gen-openapi.py: edit that',
       ' * script (and app/http/API.md) and run it again.', ' */',
       '#include "http/http_internal.h"', '', 'static const char openapi_json[] =']
for l in lines:
    out.append('\t"' + l.replace('\\', '\\\\').replace('"', '\\"') + '"')
out[-1] += ';'
out += ['', 'void api_openapi(struct http_ctx *x)', '{',
        '\tx->status = 200;', '\tx->type = "application/json";',
        '\tx->static_body = openapi_json;', '\tx->static_len = sizeof(openapi_json) - 1;', '}', '']
open(os.path.join(ROOT, "app/http/openapi.c"), "w").write("\n".join(out))
