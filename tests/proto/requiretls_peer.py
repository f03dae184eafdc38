#!/usr/bin/python3
"""A receiving MTA for the REQUIRETLS tests, scripted on Debian's
python3-aiosmtpd (Postfix 3.7 has no REQUIRETLS).

    requiretls_peer.py IP PORT CERT KEY ADVERTISE OUT.jsonl

Offers STARTTLS with CERT/KEY; after it, when ADVERTISE is 1, offers
REQUIRETLS (RFC 8689 §4: only over TLS) and takes the REQUIRETLS MAIL
parameter. Each accepted message is appended to OUT.jsonl as
{"from", "rcpts", "requiretls", "tls", "data"}. Prints "ready"."""
import json
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

IP, PORT, CERT, KEY, ADVERTISE, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], \
    sys.argv[5] == "1", sys.argv[6]
lock = threading.Lock()


class RequireTlsSMTP(SMTP):
    def _getparams(self, params):
        # aiosmtpd refuses MAIL parameters it does not know: take ours
        # first (RCPT's parameters come here too; the envelope is per
        # transaction).
        rest = []
        for p in params:
            if p.upper() == "REQUIRETLS" and ADVERTISE and self.session.ssl is not None:
                self.envelope.requiretls = True
            else:
                rest.append(p)
        return super()._getparams(rest)


class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if ADVERTISE and session.ssl is not None:
            responses.insert(len(responses) - 1, "250-REQUIRETLS")
        return responses

    async def handle_DATA(self, server, session, envelope):
        rec = {"from": envelope.mail_from, "rcpts": list(envelope.rcpt_tos),
               "requiretls": bool(getattr(envelope, "requiretls", False)),
               "tls": session.ssl is not None,
               "data": envelope.original_content.decode("utf-8", "replace")}
        with lock, open(OUT, "a") as f:
            f.write(json.dumps(rec) + "\n")
        return "250 2.0.0 accepted"


class C(Controller):
    def factory(self):
        return RequireTlsSMTP(self.handler, tls_context=ctx, require_starttls=False,
                              **self.SMTP_kwargs)


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
c = C(Handler(), hostname=IP, port=PORT)
c.start()
print("ready", flush=True)
threading.Event().wait()
