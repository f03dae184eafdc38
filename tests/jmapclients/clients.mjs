// clients.mjs — tern driven by two JMAP client libraries from npm, as a
// Node program would use them. Argument: JSON {session, user, pass, token,
// rcpt}. jmap-jam (bearer token) and jmap-client-ts (Basic, through its
// httpHeaders) each read the mailboxes, query and fetch the INBOX, set a
// keyword, move an email, create a draft and submit it to rcpt. Prints
// what each saw as one JSON object (exit 0); any error exits 1.
import { JamClient } from "jmap-jam";
import jct from "jmap-client-ts";
import ft from "jmap-client-ts/lib/utils/fetch-transport.js";

process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0"; // the test server's self-signed certificate
const cfg = JSON.parse(process.argv[2]);
const out = {};
const roles = (list) => Object.fromEntries(list.filter((m) => m.role).map((m) => [m.role, m.id]));
const draft = (who, subject, drafts) => ({
  mailboxIds: { [drafts]: true },
  keywords: { $draft: true },
  from: [{ name: null, email: cfg.user }],
  to: [{ name: null, email: cfg.rcpt }],
  subject,
  textBody: [{ partId: "1", type: "text/plain" }],
  bodyValues: { "1": { value: `Sent by ${who}.` } },
});

try {
  // ---- jmap-jam ----
  const jam = new JamClient({ sessionUrl: cfg.session, bearerToken: cfg.token });
  const accountId = await jam.getPrimaryAccount();
  const [mbs] = await jam.api.Mailbox.get({ accountId });
  const r = roles(mbs.list);
  const [q] = await jam.api.Email.query({
    accountId, filter: { inMailbox: r.inbox }, sort: [{ property: "receivedAt", isAscending: true }],
  });
  const [g] = await jam.api.Email.get({ accountId, ids: q.ids, properties: ["subject", "keywords"] });
  const first = q.ids[0];
  const [k] = await jam.api.Email.set({ accountId, update: { [first]: { "keywords/$flagged": true } } });
  const [mv] = await jam.api.Email.set({ accountId, update: { [first]: { mailboxIds: { [r.archive]: true } } } });
  const [ids] = await jam.api.Identity.get({ accountId });
  const [cr] = await jam.api.Email.set({ accountId, create: { d: draft("jmap-jam", "from jam", r.drafts) } });
  const [sub] = await jam.api.EmailSubmission.set({
    accountId,
    create: { s: { identityId: ids.list[0].id, emailId: cr.created.d.id } },
    onSuccessDestroyEmail: ["#s"],
  });
  out.jam = {
    account: accountId, mailboxes: mbs.list.map((m) => m.name).sort(), subjects: g.list.map((e) => e.subject),
    flagged: Object.keys(k.updated), moved: Object.keys(mv.updated), first,
    submission: sub.created.s, notCreated: sub.notCreated,
  };

  // ---- jmap-client-ts ----
  const basic = "Basic " + Buffer.from(cfg.user + ":" + cfg.pass).toString("base64");
  const client = new jct.Client({
    sessionUrl: cfg.session, accessToken: "", transport: new ft.FetchTransport(fetch),
    httpHeaders: { Authorization: basic, "Content-Type": "application/json" },
  });
  await client.fetchSession();
  const acc = client.getFirstAccountId();
  const mb2 = await client.mailbox_get({ accountId: acc, ids: null });
  const r2 = roles(mb2.list);
  const q2 = await client.email_query({ accountId: acc, filter: { inMailbox: r2.archive } });
  const g2 = await client.email_get({ accountId: acc, ids: q2.ids, properties: ["subject", "keywords", "mailboxIds"] });
  const s2 = await client.email_set({ accountId: acc, update: { [q2.ids[0]]: { "keywords/$seen": true, mailboxIds: { [r2.inbox]: true } } } });
  const c2 = await client.email_set({ accountId: acc, create: { d: draft("jmap-client-ts", "from client-ts", r2.drafts) } });
  const sub2 = await client.emailSubmission_set({
    accountId: acc, create: { s: { identityId: ids.list[0].id, emailId: c2.created.d.id } },
  });
  const after = await client.email_get({ accountId: acc, ids: [q2.ids[0]], properties: ["keywords", "mailboxIds"] });
  out.ts = {
    account: acc, archive: g2.list, updated: Object.keys(s2.updated || {}),
    submission: sub2.created && sub2.created.s, notCreated: sub2.notCreated, after: after.list[0],
  };
  console.log(JSON.stringify(out));
} catch (e) {
  console.error("failed", e && (e.stack || JSON.stringify(e)), JSON.stringify(out));
  process.exit(1);
}
