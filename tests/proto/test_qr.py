"""The web UI's QR encoder (web/src/qr.js, written for tern) read back by
a real decoder: texts of every length class from 1 to 412 bytes (versions
1 to 15, with and without version information, 8- and 16-bit counts) are
drawn by node and decoded by zbarimg, which must give them back exactly;
a text too long is refused."""
import os
import random
import shutil
import string
import subprocess
import tempfile

from harness import ROOT

DRAW = r"""
import { qrMatrix } from %r;
import { writeFileSync } from 'node:fs';
const [dir, ...texts] = JSON.parse(process.argv[2]);
texts.forEach((t, i) => {
  const m = qrMatrix(t), n = m.length, s = 4, q = 4, w = (n + 2 * q) * s;
  const rows = [];
  for (let y = 0; y < w; y++) {
    const r = [];
    for (let x = 0; x < w; x++) {
      const mx = Math.floor(x / s) - q, my = Math.floor(y / s) - q;
      r.push(mx >= 0 && my >= 0 && mx < n && my < n && m[my][mx] ? 1 : 0);
    }
    rows.push(r.join(''));
  }
  writeFileSync(`${dir}/${i}.pbm`, `P1\n${w} ${w}\n${rows.join('\n')}\n`);
});
try { qrMatrix('x'.repeat(413)); console.log('413 accepted'); } catch (e) { console.log('413 refused'); }
"""


def test_qr_codes_read_back():
    assert shutil.which("zbarimg") and shutil.which("node"), "needs zbarimg and node"
    rnd = random.Random(31)
    alphabet = string.ascii_letters + string.digits + "%&?=:/.-_"
    lengths = [1, 13, 14, 15, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287, 331, 362, 412]
    texts = ["".join(rnd.choice(alphabet) for _ in range(n)) for n in lengths]
    texts.append("otpauth://totp/tern%20mx.example.test:pat%40example.test?secret="
                 "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=tern%20mx.example.test"
                 "&algorithm=SHA1&digits=6&period=30")
    d = tempfile.mkdtemp(prefix="tern-qr-")
    try:
        script = os.path.join(d, "draw.mjs")
        with open(script, "w") as f:
            f.write(DRAW % os.path.join(ROOT, "web", "src", "qr.js"))
        import json
        r = subprocess.run(["node", script, json.dumps([d] + texts)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode().strip() == "413 refused", r.stdout
        for i, t in enumerate(texts):
            z = subprocess.run(["zbarimg", "-q", "--raw", os.path.join(d, "%d.pbm" % i)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30)
            assert z.stdout.decode().rstrip("\n") == t, (len(t), z.stdout[:80])
    finally:
        shutil.rmtree(d, ignore_errors=True)
