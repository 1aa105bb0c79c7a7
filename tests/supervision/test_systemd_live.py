"""The real unit under a real systemd: READY, STATUS, and a restart by the watchdog when
inference wedges.

The manager is `systemd --user` in a private mount namespace (tests/supervision/systemd_manager.py),
since the test machine's PID 1 may not be systemd.  The unit is systemd/jetsentry.service with a
drop-in for what a test must change: the program (this checkout, through the test fake
`WedgeableEngine` that hangs inference while a file exists), the config, a short watchdog,
no user switch (a user manager runs units as its own user), output to a file (no journal in
the namespace), and /tmp visible (the test's files live there).  Every sandboxing option of
the unit stays in force.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.pipeline.daemon_process import DEFAULT_MODEL, SAMPLE_VIDEO, daemon_config
from tests.supervision.systemd_manager import UserManager, unavailable_reason

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))


@pytest.fixture
def manager(tmp_path):
    started = UserManager(tmp_path / "systemd").start()
    yield started
    started.stop()


def install_unit(manager: UserManager, tmp_path: Path, config: Path) -> None:
    for name in ("jetsentry.service", "jetsentry.slice"):
        (manager.units / name).write_text((REPO / "systemd" / name).read_text())
    dropin = manager.units / "jetsentry.service.d"
    dropin.mkdir()
    (dropin / "test.conf").write_text(f"""[Service]
User=
Group=
ExecStart=
ExecStart={sys.executable} -m tests.support.wedgeable_engine run --config {config}
WorkingDirectory={REPO}
Environment=PYTHONPATH={REPO}/daemon JETSENTRY_TEST_WEDGE={tmp_path}/wedge PYTHONUNBUFFERED=1
WatchdogSec=3s
RestartSec=1s
StandardOutput=append:{tmp_path}/daemon.log
StandardError=inherit
PrivateTmp=no
ReadWritePaths=
ReadWritePaths={tmp_path}
""")
    manager.systemctl("daemon-reload")


def wait_for(manager: UserManager, what: str, condition, timeout_s: float, tmp_path: Path,
             seen: list | None = None) -> dict[str, str]:
    """Poll the unit's properties until `condition`; each sample is appended to `seen`."""
    deadline = time.monotonic() + timeout_s
    while True:
        props = manager.show("jetsentry.service", "ActiveState", "SubState", "MainPID", "NRestarts", "StatusText",
                             "Result")
        if seen is not None:
            seen.append(props)
        if condition(props):
            return props
        if time.monotonic() > deadline or props["ActiveState"] == "failed":
            log = (tmp_path / "daemon.log").read_text(errors="replace") if (tmp_path / "daemon.log").exists() else ""
            status = manager.systemctl("status", "jetsentry.service", check=False).stdout
            raise AssertionError(f"no {what}: {props}\n{status}\n{manager.log[-2000:]}\n"
                                 f"daemon:\n{log[-3000:]}")
        time.sleep(0.1)


def test_the_unit_becomes_active_on_ready_and_a_wedged_engine_gets_it_restarted_by_the_watchdog(
    tmp_path, manager, mosquitto_broker
):
    assert DEFAULT_MODEL.exists()
    config = daemon_config(tmp_path / "cfg.yaml", port=mosquitto_broker.port,
                           cameras=[{"id": "sample", "source": str(SAMPLE_VIDEO), "fps_cap": 10}],
                           state_dir=str(tmp_path / "state"))
    install_unit(manager, tmp_path, config)
    manager.systemctl("start", "--no-block", "jetsentry.service")
    first = wait_for(manager, "the unit active with the camera streaming",
                     lambda p: p["ActiveState"] == "active" and p["StatusText"].startswith("1/1 cameras streaming"),
                     90, tmp_path)
    assert first["NRestarts"] == "0"
    slice_ = manager.show("jetsentry.service", "Slice")["Slice"]
    assert slice_ == "jetsentry.slice"

    switch = tmp_path / "wedge"
    switch.write_text("hang")
    wedged = wait_for(manager, "STATUS naming the wedged engine",
                      lambda p: p["StatusText"].startswith("WEDGED: engine silent"), 60, tmp_path)
    assert wedged["MainPID"] == first["MainPID"]
    samples: list[dict[str, str]] = []
    restarted = wait_for(manager, "a restart by the watchdog",
                         lambda p: p["NRestarts"] == "1" and p["MainPID"] not in ("0", first["MainPID"]), 60,
                         tmp_path, samples)
    # Between the kill and the restart (RestartSec=1s) the unit shows why it ended.
    assert any(p["Result"] == "watchdog" and p["SubState"] == "auto-restart" for p in samples), samples
    switch.unlink()  # the new process's warm-up must not hang too
    again = wait_for(manager, "the restarted daemon ready again",
                     lambda p: p["ActiveState"] == "active" and p["StatusText"].startswith("1/1 cameras streaming"),
                     90, tmp_path)
    assert again["MainPID"] == restarted["MainPID"]
    log = (tmp_path / "daemon.log").read_text(errors="replace")
    assert "stage(s) wedged (engine silent" in log
    assert "Fatal Python error: Aborted" in log and "in infer" in log  # faulthandler: where it hung

    manager.systemctl("stop", "jetsentry.service")
    final = manager.show("jetsentry.service", "ActiveState", "Result")
    assert final["ActiveState"] == "inactive" and final["Result"] == "success"


def test_the_mqtt_password_comes_from_a_systemd_credential(tmp_path, manager, mosquitto_factory):
    broker = mosquitto_factory(users={"jetsentry": "s3cret:pass"})
    config = daemon_config(tmp_path / "cfg.yaml", port=broker.port,
                           cameras=[{"id": "sample", "source": str(SAMPLE_VIDEO), "fps_cap": 5}],
                           state_dir=str(tmp_path / "state"),
                           mqtt={"username": "jetsentry", "password": {"credential": "mqtt-password"}})
    secret = tmp_path / "credstore" / "mqtt-password"
    secret.parent.mkdir()
    secret.write_text("s3cret:pass\n")
    secret.chmod(0o600)
    install_unit(manager, tmp_path, config)
    # The unit's LoadCredential=mqtt-password looks in the system credstore; this one names the file.
    with open(manager.units / "jetsentry.service.d" / "test.conf", "a") as dropin:
        dropin.write(f"LoadCredential=\nLoadCredential=mqtt-password:{secret}\n")
    manager.systemctl("daemon-reload")
    manager.systemctl("start", "--no-block", "jetsentry.service")
    ready = wait_for(manager, "the daemon connected with the credential's password",
                     lambda p: p["ActiveState"] == "active" and "mqtt connected" in p["StatusText"], 90, tmp_path)
    assert ready["NRestarts"] == "0"
    log = (tmp_path / "daemon.log").read_text(errors="replace")
    assert "s3cret" not in log
    manager.systemctl("stop", "jetsentry.service")
