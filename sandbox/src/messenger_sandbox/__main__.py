import sys

from messenger_sandbox.command import main

sys.exit(main())
