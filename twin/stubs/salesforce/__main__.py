"""`python -m twin.stubs.salesforce …`: the process `twin stubs up` starts (see `server.main`)."""

import sys

from twin.stubs.salesforce.server import main

sys.exit(main())
