"""Debian and Ubuntu systems in a directory, made with debootstrap, to install the .deb into.

A base system is made once per distribution and architecture and kept as a tarball of its
root in the cache directory (JETSENTRY_TEST_CACHE, default /var/cache/jetsentry-test): later
runs unpack it in seconds instead of bootstrapping again.  The packages apt downloads into a
system are kept there too.  Inside, systemd is not PID 1, so the service cannot really start:
/run/systemd/system exists so that debhelper's maintainer-script parts do call
deb-systemd-invoke, which is diverted to a script that logs its arguments (`invoked`) instead
of talking to systemd; deb-systemd-helper's enablement symlinks are real.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("JETSENTRY_TEST_CACHE", "/var/cache/jetsentry-test"))
INVOKE_LOG = "/var/log/deb-systemd-invoke.log"
# Ubuntu's archive keyring, for verifying its archive (Debian has no package of it): this
# exact file of Ubuntu 24.04's ubuntu-keyring package, checked by its SHA-256.
UBUNTU_KEYRING_DEB = "pool/main/u/ubuntu-keyring/ubuntu-keyring_2023.11.28.1_all.deb"
UBUNTU_KEYRING_SHA256 = "36de43b15853ccae0028e9a767613770c704833f82586f28eb262f0311adb8a8"
BASE_PACKAGES = ("ca-certificates", "file")  # file: the tests read ELF headers inside


@dataclass(frozen=True)
class Distribution:
    """A release debootstrap can make: its suite, archive and components."""

    suite: str
    mirror: str
    components: str = "main"
    ubuntu: bool = False
    script: str | None = None  # debootstrap's script, where its own list lacks the suite

    def name(self, arch: str) -> str:
        return f"{self.suite}-{arch}"


BOOKWORM = Distribution("bookworm", "http://deb.debian.org/debian")
# GStreamer's bad plugins and libav are in Ubuntu's universe.
JAMMY = Distribution("jammy", "http://archive.ubuntu.com/ubuntu", "main,universe", ubuntu=True)
NOBLE = Distribution("noble", "http://archive.ubuntu.com/ubuntu", "main,universe", ubuntu=True,
                     script="/usr/share/debootstrap/scripts/gutsy")  # the script of every Ubuntu release


class ChrootError(RuntimeError):
    """A command inside the system, or making it, failed; the message holds its output."""


def reachable(url: str, timeout_s: float = 10) -> str | None:
    """None when `url` answers, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s):
            return None
    except OSError as exc:
        return f"{url}: {exc}"


def _run(cmd: list[str], timeout_s: float, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, **kwargs)
    if result.returncode != 0:
        raise ChrootError(f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def ubuntu_keyring() -> Path:
    """Ubuntu's archive keyring from its keyring package, downloaded once and checked by hash."""
    keyring = CACHE / "ubuntu-archive-keyring.gpg"
    if keyring.exists():
        return keyring
    CACHE.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(f"{JAMMY.mirror}/{UBUNTU_KEYRING_DEB}", timeout=60) as response:
        data = response.read()
    if hashlib.sha256(data).hexdigest() != UBUNTU_KEYRING_SHA256:
        raise ChrootError(f"{UBUNTU_KEYRING_DEB}: SHA-256 {hashlib.sha256(data).hexdigest()}, not the pinned one")
    work = CACHE / "ubuntu-keyring"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    (work / "keyring.deb").write_bytes(data)
    _run(["dpkg-deb", "-x", str(work / "keyring.deb"), str(work / "root")], 60)
    shutil.copy(work / "root/usr/share/keyrings/ubuntu-archive-keyring.gpg", keyring)
    shutil.rmtree(work)
    return keyring


def base_tarball(dist: Distribution, arch: str) -> Path:
    """The cached tarball of a freshly bootstrapped root of `dist` for `arch`, made if missing.

    For a foreign architecture debootstrap runs its second stage under qemu-user-static
    (binfmt_misc with the F flag: the emulator needs no copy inside)."""
    tarball = CACHE / f"{dist.name(arch)}-root.tar"
    if tarball.exists():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    root = CACHE / f"{dist.name(arch)}.building"
    shutil.rmtree(root, ignore_errors=True)
    foreign = arch != subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    cmd = ["debootstrap", f"--arch={arch}", "--variant=minbase", f"--components={dist.components}",
           f"--include={','.join(BASE_PACKAGES)}"]
    if dist.ubuntu:
        cmd.append(f"--keyring={ubuntu_keyring()}")
    if foreign:
        cmd.append("--foreign")
    cmd += [dist.suite, str(root), dist.mirror] + ([dist.script] if dist.script else [])
    _run(cmd, 1800)
    if foreign:
        _run(["chroot", str(root), "/debootstrap/debootstrap", "--second-stage"], 3600)
    partial = tarball.with_suffix(".partial")
    _run(["tar", "-C", str(root), "-cf", str(partial), "."], 600)
    partial.rename(tarball)
    shutil.rmtree(root)
    return tarball


class Chroot:
    """A system unpacked from its base tarball into `root`, with /proc, /sys, /dev mounted."""

    def __init__(self, dist: Distribution, arch: str, root: Path) -> None:
        self.dist, self.arch, self.root = dist, arch, root
        self._mounts: list[Path] = []

    def __enter__(self) -> "Chroot":
        tarball = base_tarball(self.dist, self.arch)
        self.root.mkdir(parents=True, exist_ok=True)
        _run(["tar", "-C", str(self.root), "-xf", str(tarball)], 600)
        try:
            self._mount()
            self._prepare()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        for target in reversed(self._mounts):
            if subprocess.run(["umount", str(target)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(target)], capture_output=True)
        self._mounts.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def _mount(self) -> None:
        archives = CACHE / "apt-archives" / self.dist.name(self.arch)
        archives.mkdir(parents=True, exist_ok=True)
        for args, target in ((["-t", "proc", "proc"], "proc"), (["-t", "sysfs", "sysfs"], "sys"),
                             (["--bind", "/dev"], "dev"), (["--bind", "/dev/pts"], "dev/pts"),
                             (["--bind", str(archives)], "var/cache/apt/archives")):
            path = self.root / target
            path.mkdir(parents=True, exist_ok=True)
            _run(["mount", *args, str(path)], 60)
            self._mounts.append(path)

    def _prepare(self) -> None:
        (self.root / "etc/resolv.conf").write_text(Path("/etc/resolv.conf").read_text())
        (self.root / "etc/hosts").write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost\n")  # minbase has none
        if self.dist.ubuntu:  # debootstrap writes main only
            suites = f"{self.dist.suite} {self.dist.suite}-updates"
            (self.root / "etc/apt/sources.list").write_text(
                "".join(f"deb {self.dist.mirror} {suite} {self.dist.components.replace(',', ' ')}\n"
                        for suite in suites.split()))
        (self.root / "run/systemd/system").mkdir(parents=True, exist_ok=True)
        self.sh("dpkg-divert --local --rename --add /usr/bin/deb-systemd-invoke >/dev/null")
        logger = self.root / "usr/bin/deb-systemd-invoke"
        logger.write_text(f'#!/bin/sh\necho "$*" >> {INVOKE_LOG}\nexit 0\n')
        logger.chmod(0o755)
        self.sh("apt-get update -qq")

    def sh(self, script: str, timeout_s: float = 900, check: bool = True) -> subprocess.CompletedProcess:
        """Run a shell script inside as root; raise ChrootError when it fails and `check`."""
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root",
               "DEBIAN_FRONTEND": "noninteractive"}
        cmd = ["chroot", str(self.root), "/bin/sh", "-ec", script]
        if check:
            return _run(cmd, timeout_s, env=env)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)

    def apt_install(self, *what: str) -> str:
        """apt-get install, answering nothing: the output."""
        return self.sh(f"apt-get install -y -q {' '.join(what)}").stdout

    def invoked(self) -> list[str]:
        """The deb-systemd-invoke calls so far that named jetsentry.service, e.g. 'start jetsentry.service ...'."""
        log = self.root / INVOKE_LOG.lstrip("/")
        lines = log.read_text().splitlines() if log.exists() else []
        return [line for line in lines if "jetsentry.service" in line.split()]

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")
