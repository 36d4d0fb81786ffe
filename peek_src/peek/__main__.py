from peek.cli.main import main

raise SystemExit(main())
