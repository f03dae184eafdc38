"""What a newcomer copies from the README (issue 31): the `docker run`
line maps every port the README's Ports table lists (443 for the wizard,
587/465/993 for mail apps, ...), as the Dockerfile exposes and compose
maps them; the README says `docker logs` shows the setup code, and how to
back up, upgrade and run behind a reverse proxy; `.env.example` sits
beside docker-compose.yml, which reads .env, and names only variables the
README documents. README's Configuration table lists every TERN_* name
the sources read, and only those; the quick start's commands run as
written, and its DNS example is what `tern domain dns` prints. No
server."""
import os
import re

from harness import ROOT


def read(name):
    with open(os.path.join(ROOT, name)) as f:
        return f.read()


def test_readme_docker_run():
    readme = read("README.md")
    docker = readme.split("## Docker", 1)[1].split("\n## ", 1)[0]
    run = re.search(r"docker run .*?(?<!\\)\n", docker, re.S).group(0)
    mapped = {int(p) for p in re.findall(r"-p (\d+):\d+", run)}
    ports = readme.split("## Ports", 1)[1].split("\n## ", 1)[0]
    listed = {int(p) for p in re.findall(r"^\| (\d+) \|", ports, re.M)}
    assert listed and listed <= mapped, (listed - mapped, run)
    exposed = {int(p) for p in re.search(r"^EXPOSE (.*)$", read("Dockerfile"), re.M).group(1).split()}
    assert exposed == listed, (exposed, listed)
    compose = read("docker-compose.yml")
    assert {int(p) for p in re.findall(r'- "(\d+):\d+"', compose)} == listed
    assert "docker logs tern" in docker and "setup_code" in docker, docker
    for what in ("Back up", "Upgrade", "reverse proxy"):
        assert what in docker, what
    assert "env_file: .env" in compose
    env = read(".env.example")
    documented = documented_variables(readme, code_variables())
    used = set(re.findall(r"^#? ?(TERN_[A-Z0-9_]+)=", env, re.M))
    assert {"TERN_HOSTNAME", "TERN_DOMAIN", "TERN_ADMIN_PASSWORD"} <= used, used
    assert used <= documented, used - documented
    # The variables compose's comments suggest, and the Dockerfile's ENV.
    for name in ("docker-compose.yml", "Dockerfile"):
        named = set(re.findall(r"TERN_[A-Z0-9_]+", read(name))) - {"TERN_VERSION"}
        assert named <= documented, (name, named - documented)


def code_variables():
    """Every TERN_* name the sources read, from the list the build makes
    of them (build/gen/config_vars.h, CONFIG_VARS: the names a misspelled
    variable is compared with), less the tests' own TERN_TEST_* hooks."""
    path = os.path.join(ROOT, "build", "gen", "config_vars.h")
    assert os.path.exists(path), "build/gen/config_vars.h is made by `make build/tern`"
    names = set(re.findall(r'"(TERN_[A-Z0-9_]+)"', read(path)))
    assert len(names) > 50, names
    return {n for n in names if not n.startswith("TERN_TEST_")}


def table_rows(readme, known):
    """README's Configuration table as (names, default cell) per row,
    its shorthand expanded: `TERN_LISTEN_POP3 / _POP3S` is
    TERN_LISTEN_POP3 and TERN_LISTEN_POP3S, `TERN_IMAP_MAX_CONNECTIONS,
    _PER_IP` adds TERN_IMAP_MAX_CONNECTIONS_PER_IP. A shorthand must name
    exactly one variable the code knows (the suffix replacing the first
    name's last word, or added to it)."""
    table = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in table.splitlines():
        if not line.startswith("| TERN_"):
            continue
        cells = line.split("|")
        names = []
        for word in re.findall(r"(?<![A-Z0-9_])(?:TERN_[A-Z0-9_]+|_[A-Z0-9_]+)", cells[1]):
            if word.startswith("TERN_"):
                names.append(word)
                continue
            candidates = {names[0].rsplit("_", 1)[0] + word, names[0] + word} & known
            assert len(candidates) == 1, (cells[1], word, candidates)
            names.append(candidates.pop())
        rows.append((names, cells[2]))
    return rows


def documented_variables(readme, known):
    return {n for names, _ in table_rows(readme, known) for n in names}


def test_readme_documents_every_variable():
    readme = read("README.md")
    code = code_variables()
    documented = documented_variables(readme, code)
    # Read by the code but not in the table: a user cannot find it.
    assert code <= documented, sorted(code - documented)
    # In the table but read nowhere: a setting that does nothing.
    assert documented <= code, sorted(documented - code)


def test_readme_quick_start_runs():
    """The commands after `make run` run as written (all but swaks, which
    needs the server) on an empty data directory: the account's password
    in them, and the one of the docker exec line, pass the password rule
    ('a long password' did not: "too easy to guess")."""
    import subprocess
    import tempfile
    from harness import TERN
    readme = read("README.md")
    block = readme.split("`make run` listens on", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    lines = [l for l in block.splitlines() if "build/tern " in l]
    assert len(lines) >= 3, block
    docker = re.search(r"docker exec -i tern /tern (account add \S+) <<< ('[^']+')", readme)
    assert docker, "the docker exec account line"
    lines.append("echo %s | build/tern %s" % (docker.group(2), docker.group(1).replace("bob@", "carol@")))
    with tempfile.TemporaryDirectory() as d:
        env = {"PATH": "/usr/bin:/bin", "TERN_DATA_DIR": d}
        for line in lines:
            r = subprocess.run(["/bin/sh", "-c", line.replace("build/tern ", TERN + " ")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            assert r.returncode == 0, (line, r.stdout, r.stderr)


def test_readme_defaults_are_accepted():
    """Each default README's Configuration table states as a plain value
    (`300`, `5d`, `50M`, `text`, `on`, `:25`), set as that variable, is
    one the configuration accepts: a default in another unit or form
    than the code reads (a size the parser refuses, seconds where it
    wants minutes out of range) stops start-up with exit 2."""
    import subprocess
    import tempfile
    from harness import TERN
    readme = read("README.md")
    defaults = {}
    for names, cell in table_rows(readme, code_variables()):
        # `:587` / `:465` for two names; a default in words is left out.
        values = re.split(r"\s/\s|,\s", cell.strip())
        if len(values) != len(names):
            continue
        for name, value in zip(names, values):
            m = re.fullmatch(r"`?([A-Za-z0-9:._,/-]+)`?", value)
            if m and m.group(1) != "none" and not m.group(1).startswith("TERN_"):
                defaults[name] = m.group(1)
    assert len(defaults) >= 40, defaults
    with tempfile.TemporaryDirectory() as d:
        def config_accepts(env):
            env = dict(env, PATH="/usr/bin:/bin", TERN_DATA_DIR=d)
            r = subprocess.run([TERN, "domain", "list"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
            # No store there: exit 3 once the configuration was read.
            return r.returncode == 3 and b"no mail store" in r.stderr, r.stderr
        # All at once; one at a time only to name the one refused.
        if not config_accepts(defaults)[0]:
            for name, value in sorted(defaults.items()):
                ok, err = config_accepts({name: value})
                assert ok, (name, value, err)
            assert False, "the defaults are accepted one by one but not together"


def test_readme_layout_names_every_app_folder():
    """README's Layout names each folder of app/ (dns, queue, deliver,
    sieve, acme, backup, report, policy, virus and web were missing)."""
    layout = read("README.md").split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z0-9]+)`", layout))
    folders = {f for f in os.listdir(os.path.join(ROOT, "app"))
               if os.path.isdir(os.path.join(ROOT, "app", f))}
    assert len(folders) > 20, folders
    assert folders <= named, sorted(folders - named)


def test_readme_dns_records_are_what_tern_prints():
    """README's "DNS records to publish" example is what `tern domain dns
    example.com` prints for mail.example.com with the default ports: the
    same names and types, and the same data wherever the example shows
    it whole (the DKIM keys and the MTA-STS id are elided there). The A
    and PTR lines are the user's to make and tern prints them as notes."""
    import subprocess
    import tempfile
    from harness import TERN

    def records(text):
        out = {}
        for line in text.splitlines():
            m = re.match(r"(\S+\.)\s+IN\s+([A-Z]+)\s+(.*?)\s*$", line)
            if m:
                # The DKIM selectors carry the month the key was made.
                name = re.sub(r"-\d{6}\._domainkey", "-YYYYMM._domainkey", m.group(1))
                out[(name, m.group(2))] = re.sub(r"\s+", " ", m.group(3))
        return out

    section = read("README.md").split("\n## DNS records to publish\n", 1)[1]
    example = records(section.split("```\n", 1)[1].split("```", 1)[0])
    example = {k: v for k, v in example.items() if k[1] not in ("A", "AAAA")}
    with tempfile.TemporaryDirectory() as d:
        env = {"PATH": "/usr/bin:/bin", "TERN_DATA_DIR": d, "TERN_HOSTNAME": "mail.example.com"}
        for args in (["domain", "add", "example.com"], ["domain", "dns", "example.com"]):
            r = subprocess.run([TERN] + args, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
            assert r.returncode == 0, (args, r.stderr)
    printed = records(r.stdout.decode())
    assert len(example) >= 15, example
    assert set(example) == set(printed), (sorted(set(example) - set(printed)),
                                          sorted(set(printed) - set(example)))
    for key, data in example.items():
        if "…" not in data and "<" not in data:
            assert printed[key] == data, (key, data, printed[key])
