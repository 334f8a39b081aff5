import signal
import sys

from messenger_worker.sandbox.command import main

# Stop quietly on SIGTERM (SandboxProcess.stop, docker stop) as on Ctrl-C.
signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(0))

sys.exit(main())
