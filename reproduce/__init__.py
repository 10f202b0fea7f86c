"""``nox -s reproduce``: the EnhanceNet paper's experiments at CPU scale, in every framework, behind the
conformance gate. Framework-free: it runs each framework's CLI in that framework's own interpreter."""
