"""The amd64 package installed into a clean Debian 12 made with debootstrap: install from the
file, upgrade from a local apt repository, the commands, the units, the user; then remove
and purge.  The tests share one system and run in this file's order (the last removes it).

systemd is not PID 1 in a chroot: start, restart and stop are checked as the
deb-systemd-invoke calls the maintainer scripts make (tests/packaging/chroot.py logs them),
enablement as deb-systemd-helper's symlink, and the service's program by running it as its
user with the installed configuration."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.packaging.chroot import BOOKWORM, Chroot, reachable
from tests.packaging.conftest import PREVIOUS, REPO, VERSION, Debs

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

WANTS = "/etc/systemd/system/multi-user.target.wants/jetsentry.service"
CONFIG = "/etc/jetsentry/config.yaml"
EDIT = "# edited by the administrator: kept across upgrades\n"
SAMPLE = "/opt/jetsentry/engines/samples/sample-scene.mp4"
MODEL = "/opt/jetsentry/engines/models/jetsentry-default.onnx"


@dataclass
class Installed:
    system: Chroot
    invoked_by_install: list[str]
    invoked_by_upgrade: list[str]


def local_repo(debs: Debs, folder: Path) -> Path:
    subprocess.run(["bash", str(REPO / "packaging" / "make_repo.sh"), str(folder), str(debs.amd64_previous),
                    str(debs.amd64)], check=True, capture_output=True, timeout=300)
    return folder


@pytest.fixture(scope="module")
def installed(debs: Debs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The previous version installed with `apt install ./FILE`, the config edited, then this
    version from the local repository with `apt-get install jetsentry`."""
    unreachable = reachable(f"{BOOKWORM.mirror}/dists/{BOOKWORM.suite}/Release")
    if unreachable:
        pytest.skip(f"Debian's archive cannot be reached for debootstrap: {unreachable}")
    work = tmp_path_factory.mktemp("bookworm")
    with Chroot(BOOKWORM, "amd64", work / "root") as system:
        shutil.copytree(local_repo(debs, work / "repo"), system.path("/srv/jetsentry-repo"))
        system.path("/etc/apt/sources.list.d/jetsentry.list").write_text(
            "deb [trusted=yes] file:/srv/jetsentry-repo ./\n")
        system.sh("apt-get update -qq")
        system.apt_install(f"/srv/jetsentry-repo/{debs.amd64_previous.name}")
        after_install = system.invoked()
        with system.path(CONFIG).open("a") as config:
            config.write(EDIT)
        system.apt_install("jetsentry")
        yield Installed(system, after_install, system.invoked()[len(after_install):])


def closed_port() -> int:
    """A loopback port nothing listens on (the chroot shares this machine's network)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def status_version(system: Chroot) -> str:
    return system.sh("dpkg-query -W -f='${Version}' jetsentry").stdout


def test_install_enables_and_starts_the_service(installed):
    assert installed.invoked_by_install == ["start jetsentry.service jetsentry.slice"]
    link = installed.system.path(WANTS)
    assert link.is_symlink() and str(link.readlink()).endswith("/systemd/system/jetsentry.service")


def test_upgrade_from_the_repository_restarts_and_keeps_the_edited_config(installed):
    system = installed.system
    assert status_version(system) == VERSION
    assert installed.invoked_by_upgrade == ["restart jetsentry.service jetsentry.slice"]
    assert system.path(CONFIG).read_text().endswith(EDIT)
    # One environment, the new one: the previous version's was removed after the restart.
    venvs = sorted(path.name for path in system.path("/opt/jetsentry/venvs").iterdir())
    assert len(venvs) == 1 and system.path("/opt/jetsentry/.venv").resolve().name == venvs[0]


def test_version(installed):
    assert installed.system.sh("jetsentry version").stdout == f"jetsentry {VERSION}\n"


def test_the_config_is_valid_and_readable_by_the_daemon_user_only(installed):
    system = installed.system
    result = system.sh(f"runuser -u jetsentry -- jetsentry check-config {CONFIG}")
    assert result.stdout.startswith(f"{CONFIG}: OK (1 camera(s), 1 enabled, model {MODEL}")
    assert system.sh(f"stat -c '%U:%G %a' {CONFIG}").stdout == "root:jetsentry 640\n"


def test_analyze_the_bundled_sample_as_the_daemon_user(installed):
    system = installed.system
    system.sh(f"runuser -u jetsentry -- jetsentry analyze {SAMPLE} --model {MODEL} --out /tmp/sample.jsonl",
              timeout_s=600)
    messages = [json.loads(line) for line in system.path("/tmp/sample.jsonl").read_text().splitlines()]
    assert len(messages) == 150  # every frame of the sample scene
    assert sum(len(message["detections"]) for message in messages) > 0


def test_systemd_analyze_verify_the_installed_units(installed):
    unit = installed.system.path("/lib/systemd/system/jetsentry.service").read_text()
    assert "ExecStart=/opt/jetsentry/.venv/bin/jetsentry run --config %E/jetsentry/config.yaml\n" in unit
    result = installed.system.sh("systemd-analyze verify /lib/systemd/system/jetsentry.service "
                                 "/lib/systemd/system/jetsentry.slice 2>&1")
    assert not result.stdout.strip(), result.stdout


def test_the_user_is_in_the_video_and_render_groups_and_owns_the_state(installed):
    system = installed.system
    groups = system.sh("id -nG jetsentry").stdout.split()
    assert {"jetsentry", "video", "render"} <= set(groups)
    assert system.sh("stat -c '%U:%G %a' /var/lib/jetsentry").stdout == "jetsentry:jetsentry 750\n"
    assert system.sh("getent passwd jetsentry | cut -d: -f6,7").stdout == "/var/lib/jetsentry:/usr/sbin/nologin\n"


def test_the_default_config_runs_the_daemon_and_queues_messages_on_disk(installed):
    """The service's command as its user (setpriv: SIGTERM reaches the daemon itself, as from
    systemd); no broker answers on the port given, so the messages wait in the disk outbox
    under /var/lib/jetsentry, and SIGTERM stops the daemon cleanly (exit 0)."""
    system = installed.system
    system.sh(f"cd /var/lib/jetsentry && JETSENTRY__MQTT__PORT={closed_port()} "
              f"timeout --preserve-status --signal=TERM 40 setpriv --reuid=jetsentry --regid=jetsentry "
              f"--init-groups jetsentry run --config {CONFIG} 2>/tmp/run.log || {{ cat /tmp/run.log >&2; exit 1; }}",
              timeout_s=120)
    count = system.sh("/opt/jetsentry/.venv/bin/python -c \"import sqlite3; print(sqlite3.connect("
                      "'/var/lib/jetsentry/outbox.db').execute('select count(*) from messages').fetchone()[0])\"")
    assert int(count.stdout) > 0, system.path("/tmp/run.log").read_text()


def test_remove_stops_and_keeps_state_then_purge_deletes_state_config_and_the_user(installed):
    system = installed.system
    before = len(system.invoked())
    system.sh("apt-get remove -y -q jetsentry")
    assert system.invoked()[before:] == ["stop jetsentry.service jetsentry.slice"]
    assert system.path("/var/lib/jetsentry/outbox.db").exists()
    assert system.path(CONFIG).read_text().endswith(EDIT)
    assert not system.path("/opt/jetsentry").exists() and not system.path("/usr/bin/jetsentry").exists()
    assert system.sh("getent passwd jetsentry", check=False).returncode == 0

    system.sh("apt-get purge -y -q jetsentry")
    assert not system.path("/var/lib/jetsentry").exists()
    assert not system.path("/etc/jetsentry").exists()
    assert not system.path(WANTS).is_symlink()
    assert system.sh("getent passwd jetsentry", check=False).returncode == 2
    assert system.sh("getent group jetsentry", check=False).returncode == 2
    assert system.sh(f"dpkg-statoverride --list {CONFIG}", check=False).returncode == 1
