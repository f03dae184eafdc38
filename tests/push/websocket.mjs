// websocket.mjs — JMAP over WebSocket (RFC 8887) through the npm `ws`
// package. Argument: JSON {session, user, pass, emailId}. Reads the
// session resource, connects to its websocket capability's url with the
// "jmap" subprotocol and Basic credentials, enables push, then sets a
// keyword on emailId with a Request over the socket; prints {protocol,
// response, stateChange} as JSON once both arrived (exit 0), exit 1
// after 15 s without them.
import WebSocket from "ws";

const cfg = JSON.parse(process.argv[2]);
const auth = "Basic " + Buffer.from(cfg.user + ":" + cfg.pass).toString("base64");
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0"; // the test server's self-signed certificate
const session = await (await fetch(cfg.session, { headers: { Authorization: auth } })).json();
const account = session.primaryAccounts["urn:ietf:params:jmap:mail"];
const cap = session.capabilities["urn:ietf:params:jmap:websocket"];
const out = {};
const ws = new WebSocket(cap.url, "jmap", { headers: { Authorization: auth }, rejectUnauthorized: false });
const timer = setTimeout(() => { console.error("timeout", JSON.stringify(out)); process.exit(1); }, 15000);
ws.on("error", (e) => { console.error("error", e.message); process.exit(1); });
ws.on("open", () => {
  out.protocol = ws.protocol;
  ws.send(JSON.stringify({ "@type": "WebSocketPushEnable", dataTypes: ["Email"] }));
  ws.send(JSON.stringify({
    "@type": "Request", id: "set1",
    using: ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
    methodCalls: [["Email/set", { accountId: account,
      update: { [cfg.emailId]: { "keywords/$answered": true } } }, "0"]],
  }));
});
ws.on("message", (data) => {
  const m = JSON.parse(data.toString());
  if (m["@type"] === "Response") out.response = m;
  if (m["@type"] === "StateChange") out.stateChange = m;
  if (out.response && out.stateChange) {
    clearTimeout(timer);
    ws.close(1000);
    ws.on("close", (code) => {
      out.closeCode = code;
      console.log(JSON.stringify(out));
      process.exit(0);
    });
  }
});
