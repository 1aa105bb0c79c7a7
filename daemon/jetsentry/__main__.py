from jetsentry.cli import main

raise SystemExit(main())
