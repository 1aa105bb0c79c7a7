"""Commits to a DiskOutbox as fast as it can until killed: python outbox_writer.py STATE_DIR.

After each commit returns it prints the highest seq committed, so every seq up to it has been
acknowledged to the caller.  Even seqs are then popped and acknowledged (their rows deleted by
later commits), so the kill also lands among deletes.
"""

from __future__ import annotations

import sys

from jetsentry.publish import DiskOutbox, OutgoingMessage

if __name__ == "__main__":
    box = DiskOutbox(sys.argv[1], max_bytes=1 << 40, max_messages=100_000_000)
    seq = box.recovered
    batch = 1
    while True:  # the test ends this process with SIGKILL
        for _ in range(batch):
            box.put(OutgoingMessage("jetsentry/dev1/cam1/detections", f"{seq}".encode().ljust(300, b" "), 1))
            seq += 1
        box.commit()
        sys.stdout.write(f"{seq - 1}\n")
        sys.stdout.flush()
        for key, message in box.pop_batch(batch):
            if int(message.payload) % 2 == 0:
                box.ack(key)
        box.requeue_unacked()
        batch = batch % 64 + 1  # transactions of 1 to 64 messages
