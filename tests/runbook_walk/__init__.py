"""The runbook walk: every command block of runbooks/, in the cutover's order, on a local stack."""
