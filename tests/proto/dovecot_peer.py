"""A private Debian Dovecot (dovecot-imapd) on loopback for differential
tests: its own config, passwd-file, Maildir and runtime folders in a temp
dir, plain IMAP on a free port, stopped (with the children this master
started) when the test ends. Needs root (Dovecot's privilege separation),
as scripts/bench-imap does.

Options for the migration tests: cert=(crt, key) turns TLS on (STARTTLS
on the IMAP port, and on ManageSieve); courier=True gives the Courier
style of names (a personal namespace "INBOX." with "." as separator) plus
a public namespace "Public." holding a folder of its own; sieve=True runs
ManageSieve (dovecot-managesieved) on self.sieve_port, scripts kept under
each user's home; pop3=True runs POP3 (dovecot-pop3d) on self.pop3_port,
and with cert POP3S on self.pop3s_port too."""
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from harness import free_port

DOVECOT = "/usr/sbin/dovecot"

CONF = """\
# Private instance for tern's differential tests; Dovecot's defaults otherwise.
protocols = {protocols}
listen = {listen}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
{extra}"""

COURIER = """\
namespace inbox {{
  inbox = yes
  prefix = INBOX.
  separator = .
}}
namespace public {{
  type = public
  prefix = Public.
  separator = .
  location = maildir:{d}/public
  list = yes
  subscriptions = no
}}
"""

POP3 = """\
service pop3-login {{
  inet_listener pop3 {{
    port = {pport}
  }}
  inet_listener pop3s {{
    port = {psport}
  }}
}}
"""

SIEVE = """\
service managesieve-login {{
  inet_listener sieve {{
    port = {sport}
  }}
}}
plugin {{
  sieve = file:~/sieve;active=~/.dovecot.sieve
}}
"""


def available():
    return os.path.exists(DOVECOT) and os.path.exists("/usr/lib/dovecot/imap") and os.geteuid() == 0


def _children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], stdout=subprocess.PIPE,
                         text=True).stdout.split()
    kids = [int(p) for p in out]
    for k in list(kids):
        kids += _children(k)
    return kids


class DovecotPeer:
    def __init__(self, users, cert=None, courier=False, sieve=False, pop3=False, extra="",
                 listen="127.0.0.1"):
        """users: [(name, password)]; each gets an empty Maildir INBOX.
        extra: more configuration lines (settings of one test); listen:
        its one address (127.0.0.1 or ::1)."""
        self.host = listen
        self.tmp = tempfile.mkdtemp(prefix="tern-dovecot-")
        os.chmod(self.tmp, 0o755)
        self.port = free_port((listen,))
        nobody = pwd.getpwnam("nobody")
        nogroup = grp.getgrgid(nobody.pw_gid)
        self.sieve_port = free_port() if sieve else 0
        self.pop3_port = free_port() if pop3 else 0
        self.pop3s_port = free_port() if pop3 and cert else 0
        for sub in ("run", "state", "home", "mail", "public"):
            os.makedirs(os.path.join(self.tmp, sub))
        ssl = "ssl = no"
        if cert:
            ssl = "ssl = yes\nssl_cert = <%s\nssl_key = <%s" % cert
        extra = (COURIER.format(d=self.tmp) if courier else "") + \
            (SIEVE.format(sport=self.sieve_port) if sieve else "") + \
            (POP3.format(pport=self.pop3_port, psport=self.pop3s_port) if pop3 else "") + extra
        with open(os.path.join(self.tmp, "dovecot.conf"), "w") as f:
            f.write(CONF.format(d=self.tmp, listen=listen, uid=nobody.pw_name, gid=nogroup.gr_name,
                                port=self.port, ssl=ssl, extra=extra,
                                protocols="imap" + (" sieve" if sieve else "") +
                                (" pop3" if pop3 else "")))
        pw = os.path.join(self.tmp, "passwd")
        with open(pw, "w") as f:
            for u, p in users:
                f.write("%s:%s\n" % (u, p))
        # Dovecot's auth process runs as user dovecot and must read it.
        os.chown(pw, 0, grp.getgrnam("dovecot").gr_gid)
        os.chmod(pw, 0o640)
        for sub in ("home", "mail", "public"):
            os.chown(os.path.join(self.tmp, sub), nobody.pw_uid, nobody.pw_gid)
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", os.path.join(self.tmp, "dovecot.conf")],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dovecot exited: " + self.log())
            try:
                socket.create_connection((listen, self.port), 0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("dovecot did not listen: " + self.log())

    def log(self, tail=3000):
        try:
            with open(os.path.join(self.tmp, "dovecot.log"), errors="replace") as f:
                return f.read()[-tail:] if tail else f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            kids = _children(self.proc.pid)
            self.proc.send_signal(signal.SIGTERM)  # the master stops its children
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            for k in kids:  # only processes this master started
                try:
                    os.kill(k, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False
