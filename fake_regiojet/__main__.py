import sys

from fake_regiojet.server import main

sys.exit(main())
