"""The demo behind ``make run`` (console script ``messenger-demo``)."""
