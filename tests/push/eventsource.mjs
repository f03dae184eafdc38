// eventsource.mjs — JMAP push (RFC 8620 §7.3) through the npm `eventsource`
// package, as a Node client would use it. Argument: JSON {session, user,
// pass, emailId}. Reads the session resource, opens its eventSourceUrl
// (types=*, closeafter=no, ping=1), and once open sets a keyword on
// emailId with Email/set; prints {ping, state, lastEventId, setState} as
// JSON when both a ping and the state event arrived (exit 0), exit 1 after
// 15 s without them.
import { EventSource } from "eventsource";

process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0"; // the test server's self-signed certificate
const cfg = JSON.parse(process.argv[2]);
const auth = "Basic " + Buffer.from(cfg.user + ":" + cfg.pass).toString("base64");
const authed = (input, init) =>
  fetch(input, { ...init, headers: { ...(init && init.headers), Authorization: auth } });

const session = await (await authed(cfg.session)).json();
const account = session.primaryAccounts["urn:ietf:params:jmap:mail"];
const url = session.eventSourceUrl
  .replace("{types}", "*").replace("{closeafter}", "no").replace("{ping}", "1");
const out = {};
const es = new EventSource(url, { fetch: authed });
const timer = setTimeout(() => { console.error("timeout", JSON.stringify(out)); process.exit(1); }, 15000);
const finish = () => {
  if (out.ping && out.state) {
    clearTimeout(timer);
    es.close();
    console.log(JSON.stringify(out));
    process.exit(0);
  }
};
es.addEventListener("ping", (e) => { out.ping = JSON.parse(e.data); finish(); });
es.addEventListener("state", (e) => {
  out.state = JSON.parse(e.data);
  out.lastEventId = e.lastEventId;
  finish();
});
es.addEventListener("error", (e) => console.error("error", e.message || e.code));
es.addEventListener("open", async () => {
  const r = await authed(session.apiUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      using: ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
      methodCalls: [["Email/set", { accountId: account,
        update: { [cfg.emailId]: { "keywords/$answered": true } } }, "0"]],
    }),
  });
  const j = await r.json();
  out.setState = j.methodResponses[0][1].newState;
});
