#!/bin/sh
# /usr/bin/jetsentry: the command of the jetsentry package, which runs from the virtual
# environment the package's postinst makes in /opt/jetsentry (docs/PACKAGING.md).
venv=/opt/jetsentry/.venv
if [ ! -x "$venv/bin/jetsentry" ]; then
    echo "jetsentry: $venv/bin/jetsentry is missing; make the environment again with: dpkg-reconfigure jetsentry" >&2
    exit 1
fi
exec "$venv/bin/jetsentry" "$@"
