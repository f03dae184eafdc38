"""imapflow (npm; the IMAP library of Nodemailer and EmailEngine) against
tern over IMAPS, driven by tests/imapclients/imapflow.mjs: the extensions
it turns on by itself (ID, COMPRESS=DEFLATE, ENABLE CONDSTORE, QRESYNC,
UTF8=ACCEPT and IMAP4rev2), SPECIAL-USE mailboxes from LIST, APPEND with
APPENDUID, an attachment downloaded back octet for octet (BINARY), a
keyword found by FETCH CHANGEDSINCE and SEARCH, a mailbox with a non-ASCII
name (UTF-8 under UTF8=ACCEPT), MOVE with COPYUID, and a second session's
APPEND arriving while the first idles (IDLE)."""
import base64
import json
import os
import shutil
import subprocess
import time

from harness import npm_ci
from test_imap import BOB, BOB_PW, srv

CLIENTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "imapclients")


def test_imap_imapflow():
    assert shutil.which("node") and shutil.which("npm"), "needs node and npm (scripts/install-test-deps)"
    npm_ci(CLIENTS_DIR)
    attachment = bytes(range(256)) * 40 + b"\r\n\x00end"
    with srv() as s:
        cfg = {"port": s.imaps_port, "user": BOB, "pass": BOB_PW,
               "attachment": base64.b64encode(attachment).decode()}
        t0 = time.time()
        r = subprocess.run(["node", os.path.join(CLIENTS_DIR, "imapflow.mjs"), json.dumps(cfg)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=90)
        assert r.returncode == 0, (r.stdout, r.stderr)
        out = json.loads(r.stdout)
        print("imapflow saw (%.1f s): %s" % (time.time() - t0, r.stdout.decode()))
        assert out["compressed"] is True, out
        # (imapflow keeps the names it was answered upper-cased)
        assert out["enabled"] == ["CONDSTORE", "IMAP4REV2", "QRESYNC", "UTF8=ACCEPT"], out
        assert out["serverId"] == "yes", out
        assert out["specialUse"] == {"\\Inbox": "INBOX", "\\Archive": "Archive", "\\Drafts": "Drafts",
                                     "\\Junk": "Junk", "\\Sent": "Sent", "\\Trash": "Trash"}, out
        assert out["append"] == {"uid": 1, "uidValidity": True}, out
        assert out["subject"] == "imapflow test" and out["flags"] == ["\\Seen"], out
        assert out["parts"] == ["text/plain", "application/octet-stream"], out
        assert out["binary"] is True, out
        assert out["changedSince"] == [{"uid": 1, "flags": ["$Forwarded", "\\Seen"]}], out
        assert out["search"] == [1], out
        assert out["moved"] == [[1, 1]], out
        assert out["movedStatus"] == {"path": "Reisen/Zürich", "messages": 1}, out
        assert out["idle"] == {"before": 0, "count": 1, "prevCount": 0}, out
        # The server's view: the moved message is in the UTF-8 named mailbox.
        assert len(s.messages(BOB, mailbox="Reisen/Zürich")) == 1
