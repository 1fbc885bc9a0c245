"""`python -m dagrad ...`: the same command line as the `dagrad` console script."""

from dagrad.cli import main

raise SystemExit(main())
