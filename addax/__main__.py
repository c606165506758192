from addax.cli import main

raise SystemExit(main())
