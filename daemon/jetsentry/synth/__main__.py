import sys

from jetsentry.synth.cli import main

raise SystemExit(main(sys.argv[1:]))
