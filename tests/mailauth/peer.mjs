// peer.mjs - mailauth (npm, by Postal Systems) as a second DKIM/ARC
// implementation beside dkimpy, driven by tests/proto/test_check_mailauth.py.
//
//     node peer.mjs JOBS.json OUT.json
//
// JOBS.json: {"dns": "127.0.0.1:PORT", "jobs": [...]}; every key lookup goes
// to that loopback DNS server (dns_server.py) through Node's resolver, as
// mailauth's `resolver` option allows. Messages travel as base64 (8-bit
// bodies, bare CRs). One job each:
//   {"op": "sign", "msg", "sigs": [{"domain", "selector", "key" (a PEM
//    file), "algorithm", "canonicalization", "maxBodyLength"?}],
//    "signTime"?, "expires"? (unix seconds), "headerList"? ("A:B:C")}
//       -> {"msg": the signed message}; mailauth's signer writes one
//          DKIM-Signature per entry, in the order given, on top.
//   {"op": "verify", "msg"}
//       -> {"dkim": [{"result", "comment", "d", "s"}, ...] top to bottom,
//           "arc": {"result", "comment", "i"}}
//   {"op": "seal", "msg", "domain", "selector", "key", "srv", "cv"?,
//    "headerList"? (the AMS's h=), "more"? (results after arc=, folded as given)}
//       -> {"msg", "cv"}: the ARC verdict mailauth finds on msg (or the cv
//          given, to make a hop that seals whatever it is told), recorded
//          as "srv; arc=CV" and sealed as the next ARC set.
// The results go to OUT.json, not stdout: mailauth's verifier prints a
// debugging line of its own when l= differs from the body hashed.
import { createRequire } from 'node:module';
import { Resolver } from 'node:dns/promises';
import fs from 'node:fs';

const require = createRequire(import.meta.url);
const { dkimSign } = require('mailauth/lib/dkim/sign');
const { dkimVerify } = require('mailauth/lib/dkim/verify');
const { arc, sealMessage } = require('mailauth/lib/arc');

const [jobsFile, outFile] = process.argv.slice(2);
const { dns, jobs } = JSON.parse(fs.readFileSync(jobsFile, 'utf8'));
const res = new Resolver({ timeout: 2000, tries: 2 });
res.setServers([dns]);
const resolver = (name, type) => res.resolve(name, type);

const b64 = s => Buffer.from(s, 'base64');

async function verify(msg) {
    const d = await dkimVerify(msg, { resolver });
    const a = await arc(d.arc, { resolver });
    const dkim = d.results
        .filter(r => r.signingDomain)
        .map(r => ({ result: r.status.result, comment: r.status.comment || '', d: r.signingDomain, s: r.selector }));
    return { dkim, arc: { result: a.status.result, comment: a.status.comment || '', i: a.i } };
}

async function run(j) {
    const msg = b64(j.msg);
    if (j.op === 'sign') {
        const r = await dkimSign(msg, {
            signTime: j.signTime ? new Date(j.signTime * 1000) : new Date(),
            expires: j.expires ? new Date(j.expires * 1000) : undefined,
            headerList: j.headerList,
            signatureData: j.sigs.map(s => ({
                signingDomain: s.domain,
                selector: s.selector,
                privateKey: fs.readFileSync(s.key),
                algorithm: s.algorithm,
                canonicalization: s.canonicalization,
                maxBodyLength: s.maxBodyLength
            }))
        });
        if (r.errors.length) throw new Error(r.errors.map(e => e.err.message).join('; '));
        return { msg: Buffer.concat([Buffer.from(r.signatures), msg]).toString('base64') };
    }
    if (j.op === 'verify') return verify(msg);
    if (j.op === 'seal') {
        const cv = j.cv || (await verify(msg)).arc.result;
        const ar = `${j.srv}; arc=${cv}${j.more || ''}`;
        // The hop's own Authentication-Results first, then the set on top.
        const withAr = Buffer.concat([Buffer.from(`Authentication-Results: ${ar}\r\n`), msg]);
        const head = await sealMessage(withAr, {
            signingDomain: j.domain,
            selector: j.selector,
            privateKey: fs.readFileSync(j.key),
            authResults: ar,
            cv,
            headerList: j.headerList,
            signTime: new Date(1795000000 * 1000)
        });
        return { msg: Buffer.concat([head, withAr]).toString('base64'), cv };
    }
    throw new Error('unknown op ' + j.op);
}

const out = [];
for (const j of jobs) {
    try {
        out.push(await run(j));
    } catch (e) {
        out.push({ error: String(e && e.stack ? e.stack : e) });
    }
}
fs.writeFileSync(outFile, JSON.stringify(out));
