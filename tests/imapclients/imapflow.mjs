// imapflow.mjs — tern driven by imapflow (npm), the IMAP library of
// Nodemailer and EmailEngine, as a Node program uses it. Argument: JSON
// {port, user, pass, attachment (base64)}. One session over IMAPS with
// QRESYNC: what it negotiated by itself (ID, COMPRESS=DEFLATE, ENABLE of
// CONDSTORE/QRESYNC/UTF8=ACCEPT/IMAP4rev2), the special-use mailboxes,
// an APPEND (APPENDUID), the attachment downloaded back (BINARY), a keyword
// set and found by CHANGEDSINCE, a mailbox with a non-ASCII name, a MOVE
// (COPYUID), and a second session's APPEND seen while the first idles
// (IDLE). Prints what it saw as one JSON object (exit 0); any error exits 1.
import { ImapFlow } from "imapflow";

const cfg = JSON.parse(process.argv[2]);
const opts = (name) => ({
  host: "127.0.0.1", port: cfg.port, secure: true,
  tls: { rejectUnauthorized: false }, // the test server's self-signed certificate
  auth: { user: cfg.user, pass: cfg.pass }, logger: false, qresync: true,
  clientInfo: { name, version: "1" }, maxIdleTime: 60000,
});
const attachment = Buffer.from(cfg.attachment, "base64");
const raw = Buffer.from([
  "From: Ann <ann@remote.test>", `To: ${cfg.user}`, "Subject: imapflow test",
  "Message-ID: <imapflow-1@remote.test>", "MIME-Version: 1.0",
  'Content-Type: multipart/mixed; boundary="b"', "", "--b",
  "Content-Type: text/plain; charset=utf-8", "", "Hello from imapflow.", "--b",
  "Content-Type: application/octet-stream; name=data.bin", "Content-Transfer-Encoding: base64", "",
  attachment.toString("base64").replace(/.{76}/g, "$&\r\n"), "--b--", "",
].join("\r\n"));
const streamBytes = async (s) => { const parts = []; for await (const c of s) parts.push(c); return Buffer.concat(parts); };
// (unref: a pending timer must not keep node running once all is done)
const timeout = (ms, what) => new Promise((_, no) => setTimeout(() => no(new Error(`timeout: ${what}`)), ms).unref());

const out = {};
const c = new ImapFlow(opts("tern-test-a"));
try {
  await c.connect();
  out.compressed = !!c._deflate;
  out.enabled = [...c.enabled].sort();
  out.serverId = c.serverInfo && c.serverInfo.name ? "yes" : "no";
  const list = await c.list();
  out.specialUse = Object.fromEntries(list.filter((m) => m.specialUse).map((m) => [m.specialUse, m.path]));
  let lock = await c.getMailboxLock("INBOX");
  try {
    const before = c.mailbox.highestModseq;
    out.modseqBigInt = typeof before === "bigint";
    const app = await c.append("INBOX", raw, ["\\Seen"]);
    out.append = { uid: app.uid, uidValidity: String(app.uidValidity) === String(c.mailbox.uidValidity) };
    const msg = await c.fetchOne(String(app.uid), { uid: true, envelope: true, bodyStructure: true, flags: true }, { uid: true });
    out.subject = msg.envelope.subject;
    out.flags = [...msg.flags].sort();
    out.parts = msg.bodyStructure.childNodes.map((p) => p.type);
    const dl = await c.download(String(app.uid), "2", { uid: true });
    out.binary = (await streamBytes(dl.content)).equals(attachment);
    const seen = (await c.fetchOne(String(app.uid), { uid: true, modseq: true }, { uid: true })).modseq;
    await c.messageFlagsAdd(String(app.uid), ["$Forwarded"], { uid: true });
    const changed = [];
    for await (const m of c.fetch("1:*", { uid: true, flags: true }, { uid: true, changedSince: seen })) {
      changed.push({ uid: m.uid, flags: [...m.flags].sort() });
    }
    out.changedSince = changed;
    out.search = await c.search({ keyword: "$Forwarded" }, { uid: true });
    await c.mailboxCreate("Reisen/Zürich");
    const moved = await c.messageMove(String(app.uid), "Reisen/Zürich", { uid: true });
    out.moved = moved && moved.uidMap ? [...moved.uidMap.entries()].map(([a, b]) => [a, b]) : null;
    const st = await c.status("Reisen/Zürich", { messages: true, uidNext: true });
    out.movedStatus = { path: st.path, messages: st.messages };
  } finally {
    lock.release();
  }
  // IDLE: the first session waits in INBOX, a second one APPENDs there.
  lock = await c.getMailboxLock("INBOX");
  try {
    const known = c.mailbox.exists;
    const arrived = new Promise((yes) => c.on("exists", (e) => yes(e)));
    const idle = c.idle();
    const d = new ImapFlow(opts("tern-test-b"));
    await d.connect();
    await d.append("INBOX", Buffer.from("Subject: during idle\r\n\r\nx\r\n"));
    await d.logout();
    const e = await Promise.race([arrived, timeout(15000, "EXISTS during IDLE")]);
    out.idle = { before: known, count: e.count, prevCount: e.prevCount };
    void idle;
  } finally {
    lock.release();
  }
  await c.logout();
  process.stdout.write(JSON.stringify(out));
} catch (err) {
  process.stderr.write(String(err && err.stack || err) + "\n" + JSON.stringify(out) + "\n");
  process.exit(1);
}
