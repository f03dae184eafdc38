"""What a newcomer copies from the README (issue 31): the `docker run`
line maps every port the README's Ports table lists (443 for the wizard,
587/465/993 for mail apps, ...), as the Dockerfile exposes and compose
maps them; the README says `docker logs` shows the setup code, and how to
back up, upgrade and run behind a reverse proxy; `.env.example` sits
beside docker-compose.yml, which reads .env, and names only variables the
README documents. No server."""
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
    documented = set(re.findall(r"^\| (TERN_[A-Z0-9_]+)", readme, re.M))
    for line in readme.splitlines():
        if line.startswith("| TERN_"):
            documented |= set(re.findall(r"TERN_[A-Z0-9_]+", line.split("|")[1]))
    used = set(re.findall(r"^#? ?(TERN_[A-Z0-9_]+)=", env, re.M))
    assert {"TERN_HOSTNAME", "TERN_DOMAIN", "TERN_ADMIN_PASSWORD"} <= used, used
    assert used <= documented, used - documented
