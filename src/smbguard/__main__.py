from smbguard.cli import main

raise SystemExit(main())
