"""The conformance suite (a package only so its tests can import ``conformance.adapters``; nothing else may)."""
