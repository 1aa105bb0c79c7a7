"""governor: fall back to another backend when the GPU overheats or fails, shed load, come back when safe.

`policy` (backend: primary or fallback) and `shedding` (per-camera frame rates) are pure state
machines; `runner` carries their decisions out in the daemon (detector_switch.py moves the
traffic); `events` are the messages on `{prefix}/{device_id}/events`; `wiring` builds it all
from the configuration.  docs/GOVERNOR.md describes the policy.
"""
